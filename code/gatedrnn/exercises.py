"""Tools that keep the chapter exercises gradable: the same numbers for the student and the site.

A student who solves exercise k but not the exercises before it runs a notebook in which the
earlier solutions never drew their random numbers (their stubs raise first). If exercise k, or a
page cell after an earlier exercise, takes its numbers from the global random state, the student
then sees other numbers than the website shows. `solved_one_at_a_time` builds the notebook that
reproduces that situation for every exercise at once:

* it makes the student copy with `gatedrnn.student.student_notebook`,
* pastes each exercise's solution code back in place of its stubs, and
* wraps each exercise's solution cells in a save / restore of every global random state (torch,
  numpy, random), so that for every later cell it is as if the solution had never run;
* puts each exercise's self-check cells back as the source has them, hidden tests included (the
  student copy drops those lines), so a solution that fails its own check fails the run, and
* follows them with a cell that asserts they left every global random state as they found it.

That last rule is the convention for check cells: a check draws its fresh data from a
``torch.Generator`` of its own or inside ``torch.random.fork_rng()``. A student's check cell fails
before the exercise is solved, perhaps halfway through its draws; if it drew from the global
state, every later cell of the page would see other numbers than the website shows.

`check_cells` finds each exercise's self-check cells: the code cells right after its
``{solution-end}`` whose nbgrader ``grade_id`` starts with ``<label>-check``.

`exercise_numbers` reads the numbers each exercise's solution and check cells printed, per label,
so that the executed source notebook and the executed student copy can be compared. A solution
cell tagged ``nondeterministic-output`` (a timing) is not compared.
"""
import re

import nbformat

from gatedrnn.student import SOLUTION_END, SOLUTION_START, is_check_cell, student_notebook

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_SAVE = ("import random as _random, numpy as _np, torch as _torch\n"
         "_saved_random_state = (_torch.get_rng_state(), _np.random.get_state(), "
         "_random.getstate())")
_RESTORE = ("_torch.set_rng_state(_saved_random_state[0]); "
            "_np.random.set_state(_saved_random_state[1]); "
            "_random.setstate(_saved_random_state[2])")
_CHECK_SAVE = ("import random as _random, numpy as _np, torch as _torch\n"
               "_state_before_check = (_torch.get_rng_state(), _np.random.get_state(), "
               "_random.getstate())")
_CHECK_ASSERT = (
    "_state_after_check = (_torch.get_rng_state(), _np.random.get_state(), _random.getstate())\n"
    "assert (_torch.equal(_state_after_check[0], _state_before_check[0])\n"
    "        and all(_np.array_equal(a, b) for a, b in zip(_state_after_check[1], "
    "_state_before_check[1]))\n"
    "        and _state_after_check[2] == _state_before_check[2]), (\n"
    "    'the self-check of {label} drew from a global random state: draw its data from '\n"
    "    'a torch.Generator of its own or inside torch.random.fork_rng(), so that the cells '\n"
    "    'after it get the same numbers whether or not it ran')")
_MARK = "exercise_label"
# The tag of a solution cell whose printed numbers legitimately differ between runs (timings).
UNCOMPARED = "nondeterministic-output"


def solution_cells(notebook):
    """{label: [solution code cells, in order]} for the {solution-start}/{solution-end} pairs."""
    return {label: [cell for cell in cells if cell.cell_type == "code"]
            for label, cells in solution_regions(notebook).items()}


def solution_regions(notebook):
    """{label: [every cell between the label's {solution-start} and {solution-end}]}."""
    found, label = {}, None
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and SOLUTION_START.search(cell.source):
            label = SOLUTION_START.search(cell.source).group(2)
            found[label] = []
        elif cell.cell_type == "markdown" and SOLUTION_END.search(cell.source):
            label = None
        elif label is not None:
            found[label].append(cell)
    return found


def check_cells(notebook):
    """{label: [self-check cells]}: the code cells right after the label's {solution-end} whose
    nbgrader grade_id starts with ``<label>-check`` (empty lists for exercises without one)."""
    found, label = {}, None
    after = None                                    # the label whose {solution-end} we just passed
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and SOLUTION_START.search(cell.source):
            label, after = SOLUTION_START.search(cell.source).group(2), None
            found[label] = []
        elif cell.cell_type == "markdown" and SOLUTION_END.search(cell.source):
            after, label = label, None
        elif (after is not None and is_check_cell(cell)
              and cell.metadata["nbgrader"].get("grade_id", "").startswith(f"{after}-check")):
            found[after].append(cell)
        else:
            after = None
    return found


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _stub_label(cell):
    match = re.search(r"NotImplementedError\('Exercise (\S+): write your solution here'\)",
                      cell.source)
    return match.group(1) if match and cell.cell_type == "code" else None


def solved_one_at_a_time(notebook):
    """The student copy of `notebook`, each solution pasted back, each exercise's random draws
    hidden from every later cell, each check cell as in the source and followed by an assertion
    that it drew no global random number (see the module docstring). Pasted solution and check
    cells carry ``metadata.exercise_label``."""
    solutions = {label: list(cells) for label, cells in solution_cells(notebook).items()}
    checks = {_grade_id(cell): (label, cell)
              for label, cells in check_cells(notebook).items() for cell in cells}
    student, _ = student_notebook(notebook)
    cells, previous, checking = [], None, None
    for cell in student.cells:
        label = _stub_label(cell)
        check = checks.pop(_grade_id(cell), None) if is_check_cell(cell) else None
        if previous is not None and label != previous:
            cells.append(nbformat.v4.new_code_cell(_RESTORE))
        if checking is not None and (check is None or check[0] != checking):
            cells.append(nbformat.v4.new_code_cell(_CHECK_ASSERT.format(label=checking)))
            checking = None
        if label is not None:
            if label != previous:
                cells.append(nbformat.v4.new_code_cell(_SAVE))
            solution = solutions[label].pop(0)
            pasted = nbformat.v4.new_code_cell(solution.source)
            pasted.metadata.update(solution.metadata)
            pasted.metadata[_MARK] = label
            cells.append(pasted)
        elif check is not None:
            if checking is None:
                cells.append(nbformat.v4.new_code_cell(_CHECK_SAVE))
                checking = check[0]
            source = check[1]                  # the source's cell: hidden tests included
            pasted = nbformat.v4.new_code_cell(source.source)
            pasted.metadata.update(source.metadata)
            pasted.metadata[_MARK] = check[0]
            cells.append(pasted)
        else:
            cells.append(cell)
        previous = label
    if previous is not None:
        cells.append(nbformat.v4.new_code_cell(_RESTORE))
    if checking is not None:
        cells.append(nbformat.v4.new_code_cell(_CHECK_ASSERT.format(label=checking)))
    left = {label: len(rest) for label, rest in solutions.items() if rest}
    if left:
        raise ValueError(f"solution cells without a stub in the student copy: {left}")
    if checks:
        raise ValueError(f"check cells missing from the student copy: {sorted(checks)}")
    student.cells = cells
    return student


def mark_solutions(notebook):
    """Tag the source notebook's solution and check cells with their label (in place); return it."""
    for found in (solution_cells(notebook), check_cells(notebook)):
        for label, cells in found.items():
            for cell in cells:
                cell.metadata[_MARK] = label
    return notebook


def exercise_numbers(executed):
    """{label: [every number the label's cells printed to stdout, as text]} of an executed
    notebook whose solution cells carry ``metadata.exercise_label``."""
    numbers = {}
    for cell in executed.cells:
        label = cell.metadata.get(_MARK)
        if label is None or UNCOMPARED in cell.metadata.get("tags", []):
            continue
        printed = "".join(output.get("text", "") for output in cell.get("outputs", [])
                          if output.get("output_type") == "stream"
                          and output.get("name") == "stdout")
        numbers.setdefault(label, []).extend(NUMBER.findall(printed))
    return numbers
