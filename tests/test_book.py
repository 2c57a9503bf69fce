"""The website: it builds with warnings as errors, needs no network, numbers and describes its
figures, and every page's math renders in a real browser (one build per test run, shared by the
tests of this module; the browser machinery is in test_browser.py)."""
import html
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from test_browser import check_pages, require_chromium, site_pages
from test_repository import ROOT, _toc_files


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the book once. BOOK_HTML=path/to/_build/html checks an existing build instead."""
    if os.environ.get("BOOK_HTML"):
        return SimpleNamespace(returncode=None, log="", html=Path(os.environ["BOOK_HTML"]))
    out = tmp_path_factory.mktemp("site")
    # The jupyter-book script of the environment running the tests.
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", str(ROOT), "-W", "-n", "--keep-going",
               "--path-output", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    return SimpleNamespace(returncode=result.returncode, log=result.stdout + result.stderr,
                           html=out / "_build" / "html")


def _pages(site):
    pages = {page: page.read_text(errors="replace") for page in site_pages(site.html)}
    assert len(pages) >= len(_toc_files()), f"only {len(pages)} pages built under {site.html}"
    return pages


@pytest.mark.notebook
def test_book_builds_without_warnings(site):
    if site.returncode is None:
        pytest.skip("BOOK_HTML is set: checking an existing build, not building")
    assert site.returncode == 0, site.log[-5000:]
    assert "WARNING:" not in site.log, site.log[-5000:]  # -W should have failed already
    for entry in _toc_files():
        page = site.html / Path(entry).with_suffix(".html")
        assert page.exists(), f"{entry} produced no page"
    assert "Exercise" in (site.html / "book" / "gru_quickstart.html").read_text()


@pytest.mark.notebook
def test_site_loads_nothing_from_the_network(site):
    # Progress bars and sliders are widgets whose scripts would come from a CDN: the site drops
    # them (book/_ext/sitetweaks.py), and MathJax is served from _static (sphinx-mathjax-offline).
    remote = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""")
    offenders = {page.name: remote.findall(text) for page, text in _pages(site).items()}
    offenders = {name: found for name, found in offenders.items() if found}
    assert not offenders, f"pages that load scripts or styles from the network: {offenders}"
    for page, text in _pages(site).items():
        assert "application/vnd.jupyter.widget-view+json" not in text, f"{page.name}: a widget"


@pytest.mark.notebook
def test_every_figure_is_numbered_with_a_caption_and_alt_text(site):
    # A notebook figure gets these from its cell's metadata:
    # {"mystnb": {"figure": {"caption": "...", "name": "fig-..."}, "image": {"alt": "..."}}}
    missing = []
    for page, text in _pages(site).items():
        for image in re.finditer(r"<img\b[^>]*>", text):
            tag = image.group(0)
            if "_images/" not in tag and "data:image" not in tag:
                continue  # theme logos and icons (an explorer's default view is a data: image)
            alt = re.search(r'alt="([^"]*)"', tag)
            alt = alt.group(1).strip() if alt else ""
            # myst-nb's default alt text is the image's file name, a hash
            if not alt or re.fullmatch(r"(?:.*/)?[0-9a-f]{64}\.\w+", alt):
                missing.append(f"{page.name}: an image without alt text ({tag[:100]})")
            opened = text.rfind("<figure", 0, image.start())
            if opened < text.rfind("</figure>", 0, image.start()) or opened == -1:
                missing.append(f"{page.name}: an image outside a figure, so without a numbered "
                               f"caption ({tag[:100]})")
                continue
            closed = text.find("</figure>", image.end())
            if 'class="caption-number"' not in text[opened:closed]:
                missing.append(f"{page.name}: a figure without a numbered caption ({tag[:100]})")
    assert not missing, "\n".join(missing)


@pytest.mark.notebook
def test_cells_that_display_package_source_show_only_the_source(site):
    # `show_source(gru.step_forward)` in a cell tagged remove-input: the reader sees the package's
    # code, not the one-line call that fetched it.
    shown = []
    for page, text in _pages(site).items():
        for start in (m.start() for m in re.finditer(r'<div class="cell_input\b', text)):
            end = text.find('<div class="cell_output', start)
            cell = text[start:end if end != -1 else start + 3000]
            source = html.unescape(re.sub(r"<[^>]+>", "", cell))
            lines = [line.strip() for line in source.splitlines() if line.strip()]
            # the short cells whose job is to display package code (longer cells may use
            # inspect for something else, and stay visible)
            if len(lines) <= 3 and any("show_source(" in l or "getsource(" in l for l in lines):
                shown.append(f"{page.name}: visible input {' '.join(lines)[:100]!r}")
    assert not shown, "tag these cells remove-input:\n" + "\n".join(shown)


@pytest.mark.notebook
def test_every_page_renders_its_math_in_a_browser(site):
    chromium = require_chromium()
    pages = site_pages(site.html)
    assert len(pages) >= len(_toc_files()), f"only {len(pages)} pages under {site.html}"
    problems = check_pages(chromium, pages, root=site.html)
    assert not problems, "\n".join(problems)
