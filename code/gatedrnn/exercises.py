"""Tools that keep the chapter exercises gradable: the same numbers for the student and the site.

A student who solves exercise k but not the exercises before it runs a notebook in which the
earlier solutions never drew their random numbers (their stubs raise first). If exercise k, or a
page cell after an earlier exercise, takes its numbers from the global random state, the student
then sees other numbers than the website shows. `solved_one_at_a_time` builds the notebook that
reproduces that situation for every exercise at once:

* it makes the student copy with `gatedrnn.student.student_notebook`,
* pastes each exercise's solution code back in place of its stubs, and
* wraps each exercise's solution cells in a save / restore of every global random state (torch,
  numpy, random), so that for every later cell it is as if the solution had never run.

`exercise_numbers` reads the numbers each exercise's solution cells printed, per exercise label,
so that the executed source notebook and the executed student copy can be compared. A solution
cell tagged ``nondeterministic-output`` (a timing) is not compared.
"""
import re

import nbformat

from gatedrnn.student import SOLUTION_END, SOLUTION_START, student_notebook

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_SAVE = ("import random as _random, numpy as _np, torch as _torch\n"
         "_saved_random_state = (_torch.get_rng_state(), _np.random.get_state(), "
         "_random.getstate())")
_RESTORE = ("_torch.set_rng_state(_saved_random_state[0]); "
            "_np.random.set_state(_saved_random_state[1]); "
            "_random.setstate(_saved_random_state[2])")
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


def _stub_label(cell):
    match = re.search(r"NotImplementedError\('Exercise (\S+): write your solution here'\)",
                      cell.source)
    return match.group(1) if match and cell.cell_type == "code" else None


def solved_one_at_a_time(notebook):
    """The student copy of `notebook`, each solution pasted back, each exercise's random draws
    hidden from every later cell (see the module docstring). Pasted cells carry
    ``metadata.exercise_label``."""
    solutions = {label: list(cells) for label, cells in solution_cells(notebook).items()}
    student, _ = student_notebook(notebook)
    cells, previous = [], None
    for cell in student.cells:
        label = _stub_label(cell)
        if previous is not None and label != previous:
            cells.append(nbformat.v4.new_code_cell(_RESTORE))
        if label is not None:
            if label != previous:
                cells.append(nbformat.v4.new_code_cell(_SAVE))
            solution = solutions[label].pop(0)
            pasted = nbformat.v4.new_code_cell(solution.source)
            pasted.metadata.update(solution.metadata)
            pasted.metadata[_MARK] = label
            cells.append(pasted)
        else:
            cells.append(cell)
        previous = label
    if previous is not None:
        cells.append(nbformat.v4.new_code_cell(_RESTORE))
    left = {label: len(rest) for label, rest in solutions.items() if rest}
    if left:
        raise ValueError(f"solution cells without a stub in the student copy: {left}")
    student.cells = cells
    return student


def mark_solutions(notebook):
    """Tag the source notebook's solution code cells with their label (in place); return it."""
    for label, cells in solution_cells(notebook).items():
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
