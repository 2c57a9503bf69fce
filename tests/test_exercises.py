"""gatedrnn.exercises and the student copy's answer cells, on small notebooks (no kernel)."""
import nbformat

from gatedrnn.exercises import (
    check_cells,
    exercise_numbers,
    mark_solutions,
    solved_one_at_a_time,
)
from gatedrnn.student import ANSWER_TAG, student_notebook

md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def _notebook():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        code("import torch"),
        md("```{exercise} E\n:label: ex-a\nWhy?\n```"),
        md("```{solution-start} ex-a\n:class: dropdown\n```"),
        md("<!-- ### BEGIN SOLUTION -->\nBecause of (G4).\n<!-- ### END SOLUTION -->"),
        code("torch.manual_seed(1)\n### BEGIN SOLUTION\nprint(torch.rand(1).item())\n"
             "### END SOLUTION"),
        md("```{solution-end}\n```"),
        code("print('after')"),
    ]
    return notebook


def test_written_solution_becomes_an_answer_cell():
    student, removed = student_notebook(_notebook())
    answers = [c for c in student.cells if ANSWER_TAG in c.metadata.get("tags", [])]
    assert removed == 1 and len(answers) == 1
    assert answers[0].cell_type == "markdown" and "YOUR ANSWER HERE" in answers[0].source
    text = "\n".join(c.source for c in student.cells)
    assert "Because of (G4)" not in text and "torch.manual_seed(1)" in text


def test_solutions_pasted_back_between_a_save_and_a_restore_of_the_random_state():
    pasted = solved_one_at_a_time(_notebook())
    sources = [c.source for c in pasted.cells if c.cell_type == "code"]
    at = next(i for i, s in enumerate(sources) if "print(torch.rand(1).item())" in s)
    assert "_saved_random_state = " in sources[at - 1]
    assert "set_rng_state(_saved_random_state[0])" in sources[at + 1]
    assert sources[-1] == "print('after')"
    assert pasted.cells[[c.source for c in pasted.cells].index(sources[at])].metadata[
        "exercise_label"] == "ex-a"


def test_exercise_numbers_reads_stdout_of_labelled_cells_only():
    cell = code("")
    cell.metadata["exercise_label"] = "ex-a"
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="gap 1.5e-07, k = 3\n"),
                    nbformat.v4.new_output("stream", name="stderr", text="99%\n")]
    timing = code("")
    timing.metadata.update(exercise_label="ex-b", tags=["nondeterministic-output"])
    timing.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1.2 ms\n")]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [cell, timing, code("")]
    assert exercise_numbers(notebook) == {"ex-a": ["1.5e-07", "3"]}


def _with_check(check_source="# Self-check: a number in [0, 1)\n"
                             "assert 0 <= value < 1\n"
                             "### BEGIN HIDDEN TESTS\n"
                             "assert value == value\n"
                             "### END HIDDEN TESTS\n"
                             "print('self-check passed')"):
    notebook = _notebook()
    notebook.cells[4].source = ("torch.manual_seed(1)\n### BEGIN SOLUTION\n"
                                "value = torch.rand(1).item()\nprint(value)\n### END SOLUTION")
    check = code(check_source)
    check.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                  "grade_id": "ex-a-check", "points": 1, "schema_version": 3}
    notebook.cells.insert(6, check)
    return notebook, check


def test_check_cells_are_the_graded_cells_right_after_the_solution_end():
    notebook, check = _with_check()
    assert check_cells(notebook) == {"ex-a": [check]}
    check.metadata["nbgrader"]["grade_id"] = "other-check"      # another exercise's id
    assert check_cells(notebook) == {"ex-a": []}
    check.metadata["nbgrader"]["grade_id"] = "ex-a-check"
    notebook.cells.insert(6, md("Text between the solution and the check."))
    assert check_cells(notebook) == {"ex-a": []}


def test_pasted_notebook_runs_the_full_check_then_asserts_it_drew_nothing():
    notebook, check = _with_check()
    pasted = solved_one_at_a_time(notebook)
    sources = [c.source for c in pasted.cells]
    at = sources.index(check.source)               # hidden tests included, as in the source
    assert "_state_before_check = " in sources[at - 1]
    assert "set_rng_state(_saved_random_state[0])" in sources[at - 2]   # after the restore
    assert "the self-check of ex-a drew from a global random state" in sources[at + 1]
    assert sources[-1] == "print('after')"
    assert pasted.cells[at].metadata["exercise_label"] == "ex-a"
    assert "tags" not in pasted.cells[at].metadata         # a failing check fails the run
    marked = mark_solutions(notebook)
    assert marked.cells[6].metadata["exercise_label"] == "ex-a"
