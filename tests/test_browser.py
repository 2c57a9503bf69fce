"""The website's math renders in a real browser.

MathJax typesets the formulas in the reader's browser, so `jupyter-book build -W` cannot see a
formula that MathJax rejects (for example `\\tag` inside `aligned`, "\\tag not allowed in split
environment"): the page builds and the reader sees a red error. This module opens pages in headless
Chromium, lets MathJax run, and reads the rendered DOM for `data-mjx-error`.

The check of every page of the book runs in tests/test_book.py, on the build that module makes
(one build per test run). This module holds the machinery and shows on two small pages that the
check finds such an error and passes clean math. Without Chromium the checks skip, loudly.
"""
import html
import importlib.metadata
import os
import re
import shutil
import subprocess
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

INSTALL = ("sudo apt-get install -y chromium  (Debian/Ubuntu; elsewhere install Chromium or Chrome "
           "and set CHROMIUM=/path/to/it)")
MATH_ELEMENT = 'class="math notranslate nohighlight"'  # how Sphinx marks every formula
NOT_PAGES = {"genindex.html", "search.html", "index.html"}  # index.html only redirects


def find_chromium():
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome",
                 "google-chrome-stable"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def require_chromium():
    """The browser's path, or a loud skip that says how to install it."""
    chromium = find_chromium()
    if chromium is None:
        message = ("NO BROWSER CHECK: Chromium is not installed, so the website's math was not "
                   "rendered and MathJax errors were not looked for. Install it with: " + INSTALL)
        warnings.warn(message, stacklevel=2)  # in pytest's warnings summary even without -rs
        pytest.skip(message)
    return chromium


def dump_dom(chromium, page, budget_ms=30000, timeout=300):
    """The page's DOM after its scripts (MathJax) ran for `budget_ms` of virtual time."""
    command = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-extensions", f"--virtual-time-budget={budget_ms}", "--dump-dom",
               Path(page).resolve().as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    return result.stdout


def _tex_source(chunk):
    """The TeX of one formula as the static page holds it (escaped HTML, up to its closing tag)."""
    body = re.split(r"</(?:div|span)>", chunk.split(">", 1)[-1], maxsplit=1)[0]
    tex = html.unescape(re.sub(r"<[^>]+>", "", body)).strip()
    tags = re.findall(r"\\tag\{([^}]*)\}", tex)  # name the equation first: the TeX can be long
    short = tex if len(tex) <= 300 else tex[:300] + " ..."
    return f"equation ({', '.join(tags)}): {short}" if tags else short


def mathjax_problems(dom, static_html):
    """One line per formula MathJax rejected (its message and TeX), or if MathJax did not run.

    MathJax replaces a formula's TeX in place, so the k-th math element of the rendered DOM is the
    k-th math element of the static file; that pairs each error with the TeX that caused it.
    """
    sources = static_html.split(MATH_ELEMENT)[1:]
    if not dom.strip():
        return ["the browser returned no page"]
    typeset = dom.count("<mjx-container")
    if typeset < len(sources):  # MathJax did not load, or ran out of the browser's time budget
        return [f"MathJax typeset {typeset} of the page's {len(sources)} formulas"]
    problems = []
    for k, chunk in enumerate(dom.split(MATH_ELEMENT)):
        # an error shows twice (visible and assistive MathML): report each message once per formula
        for message in dict.fromkeys(re.findall(r'data-mjx-error="([^"]*)"', chunk)):
            tex = _tex_source(sources[k - 1]) if 0 < k <= len(sources) else "(outside a formula)"
            problems.append(f"MathJax error {html.unescape(message)!r} in: {tex}")
    return problems


def site_pages(html_dir):
    html_dir = Path(html_dir)
    return sorted(p for p in html_dir.rglob("*.html")
                  if p.name not in NOT_PAGES and not {"_static", "_sources", "_images"} & set(
                      p.relative_to(html_dir).parts))


def check_pages(chromium, pages, root=None):
    """'page: problem' for every MathJax problem on any of the pages (two browsers at a time)."""
    def check(page):
        static_html = Path(page).read_text(errors="replace")
        problems = mathjax_problems(dump_dom(chromium, page), static_html)
        name = Path(page).relative_to(root) if root else Path(page).name
        return [f"{name}: {problem}" for problem in problems]

    with ThreadPoolExecutor(max_workers=2) as pool:
        return [line for lines in pool.map(check, pages) for line in lines]


def _offline_mathjax():
    """The MathJax that sphinx-mathjax-offline serves to the website (no network)."""
    for file in importlib.metadata.files("sphinx-mathjax-offline") or []:
        if str(file).endswith("static/mathjax/tex-chtml.js"):
            return Path(file.locate()).resolve()
    pytest.skip("sphinx-mathjax-offline is not installed (pip install -r requirements.txt)")


def _page(tmp_path, name, display_tex):
    page = tmp_path / name
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<script src='{_offline_mathjax().as_uri()}'></script></head><body>"
        f"<p>Inline <span {MATH_ELEMENT}>\\(x_t\\)</span>.</p>"
        f"<div {MATH_ELEMENT}>\\[{html.escape(display_tex)}\\]</div></body></html>")
    return page


def test_check_reports_a_tag_inside_aligned(tmp_path):
    chromium = require_chromium()
    # what Sphinx writes for a multi-line $$ ... $$ block: it wraps the lines in `split`
    tex = r"\begin{split}\begin{aligned} a &= b + c \\ d &= e \end{aligned} \tag{GB7}\end{split}"
    problems = check_pages(chromium, [_page(tmp_path, "broken.html", tex)])
    assert len(problems) == 1, problems
    assert "\\tag not allowed in split environment" in problems[0]
    assert "broken.html" in problems[0] and r"\tag{GB7}" in problems[0]


def test_check_passes_a_tag_column_inside_aligned(tmp_path):
    chromium = require_chromium()
    tex = (r"\begin{split}\begin{aligned} a &= b + c && \text{(GB7)} \\ d &= e && \text{(GB8)}"
           r"\end{aligned}\end{split}")
    page = _page(tmp_path, "clean.html", tex)
    dom = dump_dom(chromium, page)
    assert dom.count("<mjx-container") == 2, "MathJax did not typeset both formulas"
    assert mathjax_problems(dom, page.read_text()) == []


def test_check_reports_math_that_was_never_typeset(tmp_path):
    chromium = require_chromium()
    page = tmp_path / "no-mathjax.html"  # as if MathJax failed to load
    page.write_text(f"<html><body><div {MATH_ELEMENT}>\\[x_t\\]</div></body></html>")
    problems = check_pages(chromium, [page])
    assert problems == ["no-mathjax.html: MathJax typeset 0 of the page's 1 formulas"]
