"""Write student copies of the course notebooks: every solution removed.

    python -m gatedrnn.student SOURCE_DIR OUT_DIR

The course's exercise convention (sphinx-exercise's gated directives, one markdown cell each):

    ```{exercise} A title                 <- a markdown cell; stays
    :label: chapter-name-of-exercise
    ...
    ```
    ```{solution-start} chapter-name-of-exercise
    :class: dropdown
    ```                                   <- becomes a short "your answer" cell
    (markdown cells: the written solution; replaced by one markdown answer cell,
     "YOUR ANSWER HERE", tagged ``written-answer``)
    (code cells: the solution code; each becomes a stub that raises NotImplementedError)
    ```{solution-end}
    ```                                   <- dropped

In a solution code cell, nbgrader's markers ``### BEGIN SOLUTION`` / ``### END SOLUTION`` say
which lines are the answer; the lines outside them (setup, a plot of the result) stay. A cell
without markers is all answer. Lines starting with ``# Hint:`` stay in the stub. Code cells
anywhere else with nbgrader's markers are stubbed the same way, so the notebooks also drop
into nbgrader. Stub cells carry the tag ``raises-exception``, so a student copy still runs top
to bottom (Jupyter Book and nbval treat the error as expected).

Self-check cells (code cells with nbgrader's grade-cell metadata, ``"grade": true, "solution":
false``, such as each exercise's ``<label>-check`` cell after its ``{solution-end}`` and the labs'
test cells) stay, so students check their own answers; like nbgrader's release, the copy drops
the lines from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` (markers included) from
every cell it keeps. A check cell also gets the tag ``raises-exception``: before the exercise is
solved it fails, and the copy must still run top to bottom. So does a cell tagged
``uses-answers`` in the source (a lab's cell that runs the student's functions, such as a demo or
the training).
"""
import argparse
import re
import sys
from pathlib import Path

import nbformat

SOLUTION_START = re.compile(r"^\s*(```+|:::+)\s*\{solution-start\}\s*(\S+)?", re.MULTILINE)
SOLUTION_END = re.compile(r"^\s*(```+|:::+)\s*\{solution-end\}", re.MULTILINE)
SOLUTION_WHOLE = re.compile(r"^\s*(```+|:::+)\s*\{solution\}", re.MULTILINE)
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
# nbgrader's delimiters (ClearHiddenTests matches them anywhere in a line, as here)
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
HINT = re.compile(r"^\s*#\s*Hint:", re.IGNORECASE)
STUB_TAG = "raises-exception"
ANSWER_TAG = "written-answer"
USES_ANSWERS_TAG = "uses-answers"   # runs the student's functions: may raise until they exist


def strip_hidden_tests(source):
    """`source` without its hidden-test regions: every line from one containing
    ``BEGIN HIDDEN TESTS`` to the next containing ``END HIDDEN TESTS``, both included (what
    nbgrader's ClearHiddenTests does)."""
    kept, inside = [], False
    for number, line in enumerate(source.split("\n"), 1):
        if HIDDEN_BEGIN in line:
            if inside:
                raise ValueError(f"line {number}: '{HIDDEN_BEGIN}' inside another hidden-test "
                                 "region")
            inside = True
        elif HIDDEN_END in line:
            if not inside:
                raise ValueError(f"line {number}: '{HIDDEN_END}' without '{HIDDEN_BEGIN}'")
            inside = False
        elif not inside:
            kept.append(line)
    if inside:
        raise ValueError(f"'{HIDDEN_BEGIN}' without '{HIDDEN_END}'")
    return "\n".join(kept)


def is_check_cell(cell):
    """True for a code cell that nbgrader grades as a test: a self-check (or a lab's test)."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _stub_lines(label, hints, indent=""):
    message = f"Exercise {label}: write your solution here" if label else "write your solution here"
    return ([indent + line.strip() for line in hints]
            + [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError({message!r})"])


def stub_code(source, label=None):
    """The student version of one solution code cell (see the module docstring)."""
    lines = source.splitlines()
    if not any(BEGIN in line for line in lines):
        return "\n".join(_stub_lines(label, [line for line in lines if HINT.match(line)]))
    kept, inside, hints = [], False, []
    for number, line in enumerate(lines, 1):
        if BEGIN in line:
            if inside:
                raise ValueError(f"line {number}: '{BEGIN}' inside another solution block")
            inside, hints = True, []
            indent = line[:len(line) - len(line.lstrip())]
        elif END in line:
            if not inside:
                raise ValueError(f"line {number}: '{END}' without '{BEGIN}'")
            inside = False
            kept.extend(_stub_lines(label, hints, indent))
        elif not inside:
            kept.append(line)
        elif HINT.match(line):
            hints.append(line)
    if inside:
        raise ValueError(f"'{BEGIN}' without '{END}'")
    return "\n".join(kept)


def _stub_cell(source, label):
    cell = nbformat.v4.new_code_cell(stub_code(source, label))
    cell.metadata["tags"] = [STUB_TAG]
    return cell


def _answer_cell(label):
    cell = nbformat.v4.new_markdown_cell(
        f"YOUR ANSWER HERE (the written part of exercise `{label}`: replace this line)")
    cell.metadata["tags"] = [ANSWER_TAG]
    return cell


def student_notebook(notebook):
    """Return (student copy of `notebook`, number of solutions removed)."""
    cells, label, removed = [], None, 0
    in_solution = False
    for index, cell in enumerate(notebook.cells):
        source = cell.source
        where = f"cell {index}"
        if cell.cell_type == "markdown" and SOLUTION_START.search(source):
            if in_solution:
                raise ValueError(f"{where}: solution-start inside the solution to {label}")
            in_solution, label, removed = True, SOLUTION_START.search(source).group(2), removed + 1
            answer_given = False
            cells.append(nbformat.v4.new_markdown_cell(
                f"**Your answer to exercise `{label}`** (the solution is on the course website)."))
        elif cell.cell_type == "markdown" and SOLUTION_END.search(source):
            if not in_solution:
                raise ValueError(f"{where}: solution-end without solution-start")
            in_solution, label = False, None
        elif cell.cell_type == "markdown" and SOLUTION_WHOLE.search(source):
            removed += 1                      # a one-cell {solution} directive: drop it whole
        elif in_solution:
            if cell.cell_type == "code":
                cells.append(_stub_cell(source, label))
            elif cell.cell_type == "markdown" and not answer_given:
                cells.append(_answer_cell(label))  # a place for the written part
                answer_given = True
        elif cell.cell_type == "code" and BEGIN in source:
            cells.append(_stub_cell(source, None))
            removed += 1
        else:
            copy = nbformat.from_dict(dict(cell))
            try:
                copy.source = strip_hidden_tests(copy.source)
            except ValueError as error:
                raise ValueError(f"{where}: {error}") from None
            if copy.cell_type == "code":
                copy.outputs, copy.execution_count = [], None
            if is_check_cell(copy) or USES_ANSWERS_TAG in copy.metadata.get("tags", []):
                tags = copy.metadata.get("tags", [])
                copy.metadata["tags"] = tags + [STUB_TAG] * (STUB_TAG not in tags)
            cells.append(copy)
    if in_solution:
        raise ValueError(f"solution to {label} has no solution-end")
    student = nbformat.from_dict(dict(notebook))
    student.cells = cells
    return student, removed


def write_student_copies(source_dir, out_dir):
    """Write a student copy of every .ipynb under source_dir to out_dir; return
    [(relative path, solutions removed)]."""
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    if not source_dir.is_dir():
        raise ValueError(f"SOURCE_DIR must be a folder, got {str(source_dir)!r}")
    if out_dir.resolve() == source_dir.resolve():
        raise ValueError("OUT_DIR must differ from SOURCE_DIR: the copies would overwrite the "
                         "solutions")
    report = []
    for path in sorted(source_dir.rglob("*.ipynb")):
        relative = path.relative_to(source_dir)
        if any(part.startswith(".") or part == "_build" for part in relative.parts):
            continue                      # checkpoints and build output are not course notebooks
        notebook = nbformat.read(path, as_version=4)
        try:
            student, removed = student_notebook(notebook)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student, target)
        report.append((relative, removed))
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m gatedrnn.student",
        description="Write student copies of every notebook under SOURCE_DIR into OUT_DIR, "
                    "with every solution removed.")
    parser.add_argument("source_dir", metavar="SOURCE_DIR")
    parser.add_argument("out_dir", metavar="OUT_DIR")
    args = parser.parse_args(argv)
    try:
        report = write_student_copies(args.source_dir, args.out_dir)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for relative, removed in report:
        print(f"{relative}: {removed} solution(s) removed")
    print(f"wrote {len(report)} notebook(s) to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
