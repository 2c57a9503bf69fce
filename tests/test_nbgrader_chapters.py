"""nbgrader's generate_assignment on the chapter pages whose exercises are final, offline.

Every cell between a {solution-start} and its {solution-end} must be an nbgrader solution cell (the
written part manually graded, the code too unless a check cell grades it), and the release must
contain no solution line, written or coded. The round trip is the labs' (nbgrader_course).
"""
from pathlib import Path

import nbformat
import pytest

from gatedrnn.exercises import solution_regions
from nbgrader_course import leaked_lines, make_course

pytest.importorskip("nbgrader")

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
# The rnn_*, compare_* and questions pages join when their rewrite lands (issue 19).
PAGES = ("gru_quickstart", "gru", "gru_gates", "gru_wild", "lstm")
POINTS_PER_EXERCISE = 4            # the instructor guide's scale


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("chapters")
    _, _, folder = make_course(root, "gatedrnn-chapters", "chapters",
                               [BOOK / f"{page}.ipynb" for page in PAGES])
    return folder


@pytest.mark.parametrize("page", PAGES)
def test_every_solution_cell_carries_nbgrader_metadata(page):
    notebook = nbformat.read(BOOK / f"{page}.ipynb", as_version=4)
    regions = solution_regions(notebook)
    assert regions, f"{page} has no exercise"
    for label, cells in regions.items():
        points = 0
        for cell in cells:
            meta = cell.metadata.get("nbgrader")
            assert meta and meta["solution"], f"{page}: a cell of {label} is no solution cell"
            assert meta["grade_id"].startswith(label)
            points += meta.get("points", 0) if meta["grade"] else 0
        assert points == POINTS_PER_EXERCISE, f"{page}: {label} is worth {points} points"


@pytest.mark.parametrize("page", PAGES)
def test_release_contains_no_solution_line(release, page):
    source = nbformat.read(BOOK / f"{page}.ipynb", as_version=4)
    released = nbformat.read(release / f"{page}.ipynb", as_version=4)
    assert leaked_lines(source, released) == []
    text = "\n".join(cell.source for cell in released.cells)
    assert "### BEGIN SOLUTION" not in text and "**Rubric**" not in text
    solutions = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")]
    stubs = text.count("raise NotImplementedError") + text.count("YOUR ANSWER HERE")
    assert stubs >= len(solutions)


def test_leak_check_sees_solutions_left_in_place():
    # A "release" that is the source itself leaks every answer, written and coded.
    source = nbformat.read(BOOK / "gru_quickstart.ipynb", as_version=4)
    leaked = leaked_lines(source, source)
    answer = "smallest_bias = min(bias for bias, moved in movements.items() if moved < 1e-3)"
    assert answer in leaked
    assert any(line.startswith("**Rubric**") for line in leaked)
