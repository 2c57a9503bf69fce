"""The student command: every solution removed, stubs in place, nbgrader markers honoured."""
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from gatedrnn.exercises import solution_regions
from gatedrnn.student import (
    STUB_TAG,
    strip_hidden_tests,
    stub_code,
    student_notebook,
    write_student_copies,
)
from nbgrader_course import solution_lines

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def _answer_lines(source):
    """Lines of a solution that must not survive: inside the markers, or all if none."""
    lines = source.splitlines()
    if "### BEGIN SOLUTION" in source:
        start = next(i for i, l in enumerate(lines) if "### BEGIN SOLUTION" in l)
        end = next(i for i, l in enumerate(lines) if "### END SOLUTION" in l)
        lines = lines[start + 1:end]
    return [l.strip() for l in lines if l.strip() and not l.strip().lower().startswith("# hint:")]


def test_book_notebooks_become_student_copies_without_solutions(tmp_path):
    report = dict(write_student_copies(BOOK, tmp_path))
    sources = sorted(p.relative_to(BOOK) for p in BOOK.rglob("*.ipynb")
                     if ".ipynb_checkpoints" not in p.parts)
    assert sorted(report) == sources
    total_solutions = 0
    for relative in sources:
        original = nbformat.read(BOOK / relative, as_version=4)
        student = nbformat.read(tmp_path / relative, as_version=4)
        nbformat.validate(student)
        solutions = solution_regions(original)
        assert report[relative] == len(solutions)
        total_solutions += len(solutions)
        student_text = "\n".join(cell.source for cell in student.cells)
        solution_cells = {id(cell) for cells in solutions.values() for cell in cells}
        # A line that also stands outside every solution (an import, `with torch.no_grad():`)
        # may stay; every other line of a solution must be gone.
        outside = "\n".join(cell.source for cell in original.cells
                            if id(cell) not in solution_cells)
        assert "{solution-start}" not in student_text and "{solution-end}" not in student_text
        assert "HIDDEN TESTS" not in student_text
        # a hidden test's line may stay only where it also stands outside every hidden region
        visible = {line.strip() for cell in original.cells
                   for line in strip_hidden_tests(cell.source).splitlines()}
        student_lines = {line.strip() for line in student_text.splitlines()}
        for line in _hidden_lines("\n".join(cell.source for cell in original.cells)):
            if line not in visible:
                assert line not in student_lines, f"{relative}: a hidden test shows: {line!r}"
        for label, cells in solutions.items():
            assert cells, f"{relative}: the solution to {label} is empty"
            for cell in cells:
                lines = (_answer_lines(cell.source) if cell.cell_type == "code"
                         else [l.strip() for l in cell.source.splitlines() if l.strip()])
                for line in lines:
                    if line not in outside:
                        assert line not in student_text, f"{relative}: {label} leaks {line!r}"
        for cell in student.cells:
            if cell.cell_type == "code":
                compile(cell.source, str(relative), "exec")  # every stub is valid Python
                assert not cell.outputs
    assert total_solutions >= 2  # the quickstart's exercises at least


def test_stub_keeps_code_outside_markers_and_hints():
    source = ("import torch\n"
              "def f(x):\n"
              "    ### BEGIN SOLUTION\n"
              "    # Hint: square it\n"
              "    return x * x\n"
              "    ### END SOLUTION\n"
              "print(f(3))")
    stub = stub_code(source, "ex-square")
    assert "return x * x" not in stub
    assert "import torch" in stub and "print(f(3))" in stub
    assert "    # Hint: square it" in stub
    assert "    raise NotImplementedError('Exercise ex-square: write your solution here')" in stub
    namespace = {}
    exec(stub.replace("print(f(3))", ""), namespace)
    with pytest.raises(NotImplementedError, match="ex-square"):
        namespace["f"](3)


def test_unmarked_solution_cell_becomes_a_stub():
    stub = stub_code("answer = 42\nprint(answer)", "ex")
    assert "42" not in stub and "raise NotImplementedError" in stub


def _notebook(*cells):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = list(cells)
    return notebook


def test_nbgrader_cells_outside_exercises_and_whole_solution_directives():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    notebook = _notebook(md("intro"), code("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION"),
                         md("```{solution} ex-a\nThe answer is secret.\n```"), code("print(x)"))
    student, removed = student_notebook(notebook)
    text = "\n".join(c.source for c in student.cells)
    assert removed == 2
    assert "secret" not in text and "y = 2" not in text and "x = 1" in text and "print(x)" in text
    assert student.cells[1].metadata["tags"] == ["raises-exception"]


@pytest.mark.parametrize("cells, fragment", [
    (["```{solution-start} ex\n```"], "no solution-end"),
    (["```{solution-end}\n```"], "solution-end without solution-start"),
    (["```{solution-start} a\n```", "```{solution-start} b\n```"], "solution-start inside"),
])
def test_unbalanced_solution_markers_are_reported(cells, fragment):
    notebook = _notebook(*[nbformat.v4.new_markdown_cell(c) for c in cells])
    with pytest.raises(ValueError, match=fragment):
        student_notebook(notebook)


def test_command_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gatedrnn.student", str(BOOK),
                             str(tmp_path / "out")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "gru_quickstart.ipynb: 2 solution(s) removed" in result.stdout
    assert (tmp_path / "out" / "gru_quickstart.ipynb").exists()
    same = subprocess.run([sys.executable, "-m", "gatedrnn.student", str(BOOK), str(BOOK)],
                          capture_output=True, text=True, check=False)
    assert same.returncode == 2 and "OUT_DIR must differ" in same.stderr


def _hidden_lines(source):
    return solution_lines(source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def _check_cell(source, grade_id="ex-a-check"):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                 "grade_id": grade_id, "points": 1, "schema_version": 3}
    return cell


def test_check_cells_stay_without_their_hidden_tests():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    check = _check_cell("# Self-check: the square\n"
                        "assert f(3) == 9, f'f(3) = {f(3)}: expected 9'\n"
                        "### BEGIN HIDDEN TESTS\n"
                        "assert f(-5) == 25  # fresh input\n"
                        "### END HIDDEN TESTS\n"
                        "print('self-check passed: f(3) = 9')")
    notebook = _notebook(md("```{exercise} E\n:label: ex-a\nSquare.\n```"),
                         md("```{solution-start} ex-a\n:class: dropdown\n```"),
                         code("def f(x):\n    ### BEGIN SOLUTION\n    return x * x\n"
                              "    ### END SOLUTION"),
                         md("```{solution-end}\n```"), check)
    student, removed = student_notebook(notebook)
    copied = student.cells[-1]
    assert removed == 1
    assert copied.source == ("# Self-check: the square\n"
                             "assert f(3) == 9, f'f(3) = {f(3)}: expected 9'\n"
                             "print('self-check passed: f(3) = 9')")
    # a check fails until the exercise is solved; the copy must still run top to bottom
    assert copied.metadata["tags"] == [STUB_TAG]
    assert copied.metadata["nbgrader"]["grade_id"] == "ex-a-check"
    assert "HIDDEN" in check.source and "tags" not in check.metadata  # the source is untouched


def test_hidden_tests_are_stripped_as_nbgrader_does():
    source = "a = 1\n    ### BEGIN HIDDEN TESTS\n    b = 2\n    ### END HIDDEN TESTS\nc = 3"
    assert strip_hidden_tests(source) == "a = 1\nc = 3"
    from nbgrader.preprocessors import ClearHiddenTests
    cell = _check_cell(source)
    ClearHiddenTests()._remove_hidden_test_region(cell)
    assert cell.source == strip_hidden_tests(source)


@pytest.mark.parametrize("source, fragment", [
    ("### BEGIN HIDDEN TESTS\nx = 1", "without 'END HIDDEN TESTS'"),
    ("### END HIDDEN TESTS", "without 'BEGIN HIDDEN TESTS'"),
    ("### BEGIN HIDDEN TESTS\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS", "inside another"),
])
def test_unbalanced_hidden_test_markers_are_reported(source, fragment):
    with pytest.raises(ValueError, match=fragment):
        strip_hidden_tests(source)
    with pytest.raises(ValueError, match=fragment):
        student_notebook(_notebook(_check_cell(source)))
