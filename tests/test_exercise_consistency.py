"""Each chapter exercise prints the same numbers in the student copy as on the website.

The student copy (`gatedrnn.student`) gets each solution pasted back, with every exercise's random
draws hidden from the cells after it (`gatedrnn.exercises.solved_one_at_a_time`): that is the
notebook of a student who solved only that exercise. Its exercises must print the numbers the
executed source notebook prints. The first test shows the check catches an exercise that takes
its numbers from the global random state after an earlier exercise drew from it.
"""
import copy
from pathlib import Path

import nbformat
import pytest

from gatedrnn.exercises import exercise_numbers, mark_solutions, solved_one_at_a_time

nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
# The chapter pages whose exercises are final (issue 19); the rnn_*, compare_* and questions
# pages join when their rewrite lands.
PAGES = ("gru_quickstart", "gru", "gru_gates", "gru_wild", "lstm")


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


def _exercise(label, solution_code):
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    return [md(f"```{{exercise}} {label}\n:label: {label}\nDraw.\n```"),
            md(f"```{{solution-start}} {label}\n:class: dropdown\n```"),
            code(solution_code), md("```{solution-end}\n```")]


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


@pytest.mark.notebook
@pytest.mark.parametrize("page", PAGES)
def test_student_copy_prints_the_sites_numbers(page):
    source = nbformat.read(BOOK / f"{page}.ipynb", as_version=4)
    assert _compare(source) == {}
