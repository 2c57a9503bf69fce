"""Repository hygiene: notebooks are committed without outputs and every one is in the book."""
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _notebooks():
    listed = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True,
                            text=True)
    if listed.returncode == 0 and listed.stdout.strip():
        return [ROOT / line for line in listed.stdout.split()]
    return sorted((ROOT / "book").rglob("*.ipynb"))


def test_notebooks_carry_no_outputs():
    notebooks = _notebooks()
    assert notebooks
    dirty = []
    for path in notebooks:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
                dirty.append(path.name)
                break
    assert not dirty, f"strip outputs before committing: {dirty}"


def _toc_files():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
            for part in entry.get("chapters", []):
                walk([part])

    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return files


def test_every_book_page_is_in_the_toc():
    listed = {str(Path(f).with_suffix("")) for f in _toc_files()}
    pages = {str(p.relative_to(ROOT).with_suffix(""))
             for p in list((ROOT / "book").rglob("*.ipynb")) + list((ROOT / "book").rglob("*.md"))
             if ".ipynb_checkpoints" not in p.parts}
    assert pages <= listed, f"pages missing from _toc.yml: {sorted(pages - listed)}"


def test_no_notebook_glues_a_key_twice():
    """myst-nb warns on a duplicate glue key and the book builds with -W: catch a doubled
    glue("name", ...) here, in a second, instead of after a five-minute build."""
    import collections
    import re
    notebooks = _notebooks()
    assert notebooks
    doubled = {}
    for path in notebooks:
        sources = ["".join(cell["source"]) for cell in json.loads(path.read_text())["cells"]
                   if cell["cell_type"] == "code"]
        keys = collections.Counter(key for source in sources
                                   for key in re.findall(r"""\bglue\(\s*["']([^"'{}]+)["']""",
                                                         source))
        twice = sorted(key for key, count in keys.items() if count > 1)
        if twice:
            doubled[path.name] = twice
    assert not doubled, f"glue keys glued more than once: {doubled}"


def test_full_run_skips_the_default_runs_claims():
    """A page whose FULL_RUN knob says that the text and the checks of its claims are the
    default run's checks every hidden claim cell under `if not FULL_RUN:`: a reader who sets
    FULL_RUN = True gets larger runs and their printouts, not an AssertionError about a
    sentence written for the default budget."""
    import re
    contract = "the checks of its claims are the default run's"
    pages, unguarded = [], []
    for path in _notebooks():
        cells = json.loads(path.read_text())["cells"]
        if not any(contract in "".join(cell["source"]) for cell in cells):
            continue
        pages.append(path.name)
        for index, cell in enumerate(cells):
            source = "".join(cell["source"])
            if ("remove-cell" in cell.get("metadata", {}).get("tags", [])
                    and re.search(r"^\s*assert\b", source, re.MULTILINE)
                    and (re.search(r"^assert\b", source, re.MULTILINE)
                         or "if not FULL_RUN:" not in source)):
                unguarded.append(f"{path.name} cell {index}")
    assert sorted(pages) == ["compare_memory.ipynb", "compare_real.ipynb", "questions.ipynb"]
    assert not unguarded, f"claim cells that FULL_RUN = True would check: {unguarded}"
