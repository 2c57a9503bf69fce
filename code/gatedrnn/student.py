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
    (markdown cells: the written solution; dropped)
    (code cells: the solution code; each becomes a stub that raises NotImplementedError)
    ```{solution-end}
    ```                                   <- dropped

In a solution code cell, nbgrader's markers ``### BEGIN SOLUTION`` / ``### END SOLUTION`` say
which lines are the answer; the lines outside them (setup, a plot of the result) stay. A cell
without markers is all answer. Lines starting with ``# Hint:`` stay in the stub. Code cells
anywhere else with nbgrader's markers are stubbed the same way, so the notebooks also drop
into nbgrader. Stub cells carry the tag ``raises-exception``, so a student copy still runs top
to bottom (Jupyter Book and nbval treat the error as expected).
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
HINT = re.compile(r"^\s*#\s*Hint:", re.IGNORECASE)
STUB_TAG = "raises-exception"


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
        elif cell.cell_type == "code" and BEGIN in source:
            cells.append(_stub_cell(source, None))
            removed += 1
        else:
            copy = nbformat.from_dict(dict(cell))
            if copy.cell_type == "code":
                copy.outputs, copy.execution_count = [], None
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
