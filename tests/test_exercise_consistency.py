"""Each chapter exercise prints the same numbers in the student copy as on the website.

The student copy (`gatedrnn.student`) gets each solution pasted back, with every exercise's random
draws hidden from the cells after it (`gatedrnn.exercises.solved_one_at_a_time`): that is the
notebook of a student who solved only that exercise. Its exercises must print the numbers the
executed source notebook prints, and every self-check cell (hidden tests included) must pass on
the solution and leave the global random state alone. The first tests show the check catches an
exercise that takes its numbers from the global random state after an earlier exercise drew from
it, a check cell that draws from the global state, and a solution that fails its own check.
"""
import copy
from pathlib import Path

import nbformat
import pytest

from gatedrnn.exercises import exercise_numbers, mark_solutions, solved_one_at_a_time
from nbgrader_course import CHAPTER_PAGES

nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
PAGES = CHAPTER_PAGES            # one list for every chapter-exercise test: extend it there


def _execute(notebook, path):
    notebook = copy.deepcopy(notebook)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(path)}}).execute()
    return notebook


def _compare(source):
    expected = exercise_numbers(_execute(mark_solutions(copy.deepcopy(source)), BOOK))
    got = exercise_numbers(_execute(solved_one_at_a_time(source), BOOK))
    assert set(got) == set(expected)
    return {label: (expected[label], got[label]) for label in expected
            if expected[label] != got[label]}


def _exercise(label, solution_code, check_code=None):
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [md(f"```{{exercise}} {label}\n:label: {label}\nDraw.\n```"),
             md(f"```{{solution-start}} {label}\n:class: dropdown\n```"),
             code(solution_code), md("```{solution-end}\n```")]
    if check_code is not None:
        check = code(check_code)
        check.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                      "grade_id": f"{label}-check", "points": 1,
                                      "schema_version": 3}
        cells.append(check)
    return cells


def test_check_catches_an_exercise_that_depends_on_earlier_draws():
    notebook = nbformat.v4.new_notebook()
    setup = nbformat.v4.new_code_cell("import torch\ntorch.manual_seed(0)")
    draws_first = "### BEGIN SOLUTION\nprint(torch.rand(1).item())\n### END SOLUTION"
    unseeded = "### BEGIN SOLUTION\nprint(torch.rand(1).item())\n### END SOLUTION"
    seeded = "torch.manual_seed(3)\n" + unseeded
    notebook.cells = [setup, *_exercise("ex-a", draws_first), *_exercise("ex-b", unseeded)]
    assert set(_compare(notebook)) == {"ex-b"}
    notebook.cells = [setup, *_exercise("ex-a", draws_first), *_exercise("ex-b", seeded)]
    assert _compare(notebook) == {}


def _checked(check_code, solution="value = torch.rand(1).item()"):
    notebook = nbformat.v4.new_notebook()
    setup = nbformat.v4.new_code_cell("import torch\ntorch.manual_seed(0)")
    solution = f"torch.manual_seed(3)\n### BEGIN SOLUTION\n{solution}\n### END SOLUTION"
    notebook.cells = [setup, *_exercise("ex-a", solution, check_code)]
    return notebook


def test_check_cells_must_not_draw_from_the_global_random_state():
    own = ("# Self-check: on fresh data\n"
           "fresh = torch.Generator().manual_seed(5)\n"
           "### BEGIN HIDDEN TESTS\n"
           "assert 0 <= value < 1 and torch.rand(2, generator=fresh).max() < 1\n"
           "### END HIDDEN TESTS\n"
           "print('self-check passed')")
    assert _compare(_checked(own)) == {}
    forked = ("# Self-check: on fresh data\n"
              "with torch.random.fork_rng():\n"
              "    assert 0 <= value < 1 and torch.rand(2).max() < 1\n"
              "print('self-check passed')")
    assert _compare(_checked(forked)) == {}
    global_draw = own.replace(", generator=fresh", "")
    with pytest.raises(nbclient.exceptions.CellExecutionError,
                       match="the self-check of ex-a drew from a global random state"):
        _compare(_checked(global_draw))


def test_a_solution_that_fails_its_hidden_test_fails_the_check():
    check = ("# Self-check: value in [0, 1)\n"
             "assert 0 <= value < 1\n"
             "### BEGIN HIDDEN TESTS\n"
             "assert value != 0.25, 'a hard-coded value'\n"
             "### END HIDDEN TESTS\n"
             "print('self-check passed')")
    assert _compare(_checked(check)) == {}
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="a hard-coded value"):
        _compare(_checked(check, solution="value = 0.25"))


@pytest.mark.notebook
@pytest.mark.parametrize("page", PAGES)
def test_student_copy_prints_the_sites_numbers(page):
    source = nbformat.read(BOOK / f"{page}.ipynb", as_version=4)
    assert _compare(source) == {}
