"""A real nbgrader round trip over the three labs, offline, in a temporary course directory.

generate_assignment must release no solution line; autograde must give the instructor's solutions
full points, the released (unanswered) notebooks 0, and a submission with one planted mistake must
lose exactly the points of the test that covers it.
"""
import shutil
from pathlib import Path

import nbformat
import pytest

from nbgrader_course import CHAPTER_PAGES, make_course, run_nbgrader, solution_lines
from test_repository import _toc_files

pytest.importorskip("nbgrader")
# autograde executes the labs (seven notebook runs): skipped by the fast loop -m "not notebook"
executes_notebooks = pytest.mark.notebook

ROOT = Path(__file__).resolve().parents[1]
LABS = ROOT / "book" / "labs"
NOTEBOOKS = ("lab_rnn", "lab_lstm", "lab_gru")
ASSIGNMENT = "labs"
# The planted mistake: the GRU's weights loaded into torch.nn.GRU with the r and z blocks exchanged.
PLANTED = ("lab_gru", "gru-twin", '[P["W_xr"], P["W_xz"], P["W_xh"]]',
           '[P["W_xz"], P["W_xr"], P["W_xh"]]')
PLANTED_TEST = "test_gru_twin"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    env, source, release = make_course(root, "gatedrnn-labs", ASSIGNMENT,
                                       [LABS / f"{name}.ipynb" for name in NOTEBOOKS])

    submissions = {"solutions": source, "unanswered": release}
    for student, folder in submissions.items():
        run_nbgrader(root, env, "db", "student", "add", student)
        shutil.copytree(folder, root / "submitted" / student / ASSIGNMENT)
    run_nbgrader(root, env, "db", "student", "add", "planted")
    planted = root / "submitted" / "planted" / ASSIGNMENT
    planted.mkdir(parents=True)
    name, grade_id, old, new = PLANTED
    notebook = nbformat.read(source / f"{name}.ipynb", as_version=4)
    cell = next(c for c in notebook.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    nbformat.write(notebook, planted / f"{name}.ipynb")

    run_nbgrader(root, env, "autograde", ASSIGNMENT, "--force")
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for student in ("solutions", "unanswered", "planted"):
            for name in NOTEBOOKS:
                try:
                    submitted = gradebook.find_submission_notebook(name, ASSIGNMENT, student)
                except Exception:  # the planted student handed in one notebook only
                    continue
                scores[student, name] = (submitted.score, submitted.max_score,
                                         {g.name: (g.score, g.max_score) for g in submitted.grades})
    return root, scores


@executes_notebooks
def test_release_contains_no_solution_line(course):
    root, _ = course
    for name in NOTEBOOKS:
        source = nbformat.read(LABS / f"{name}.ipynb", as_version=4)
        release = nbformat.read(root / "release" / ASSIGNMENT / f"{name}.ipynb", as_version=4)
        released = "\n".join(cell.source for cell in release.cells)
        outside = "\n".join(line for cell in source.cells for line in cell.source.splitlines()
                            if not cell.metadata.get("nbgrader", {}).get("solution"))
        assert "### BEGIN SOLUTION" not in released
        solution_cells = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert len(solution_cells) == 5
        for cell in solution_cells:
            for line in solution_lines(cell.source):
                if line not in outside:
                    assert line not in released, f"{name} releases the solution line {line!r}"
        assert released.count("raise NotImplementedError") >= len(solution_cells)


@executes_notebooks
def test_solutions_get_full_points(course):
    _, scores = course
    for name in NOTEBOOKS:
        score, max_score, grades = scores["solutions", name]
        assert max_score == 10 and score == max_score, grades


@executes_notebooks
def test_unanswered_release_gets_zero(course):
    _, scores = course
    for name in NOTEBOOKS:
        score, max_score, grades = scores["unanswered", name]
        assert max_score == 10 and score == 0, grades


@executes_notebooks
def test_planted_mistake_loses_exactly_its_tests_points(course):
    _, scores = course
    score, max_score, grades = scores["planted", PLANTED[0]]
    lost = {test: points for test, (got, points) in grades.items() if got != points}
    assert lost == {PLANTED_TEST: grades[PLANTED_TEST][1]}, grades
    assert score == max_score - grades[PLANTED_TEST][1]


def test_every_chapter_notebook_follows_the_exercise_convention():
    """The README's claim about the chapter notebooks: every chapter notebook of the book is on
    CHAPTER_PAGES, whose exercises tests/test_nbgrader_chapters.py checks and releases."""
    notebooks = {Path(entry).name for entry in _toc_files()
                 if (ROOT / f"{entry}.ipynb").exists() and not entry.startswith("book/labs/")}
    assert notebooks == set(CHAPTER_PAGES), (
        f"chapter notebooks not on CHAPTER_PAGES: {sorted(notebooks - set(CHAPTER_PAGES))}; "
        f"on it but not a chapter: {sorted(set(CHAPTER_PAGES) - notebooks)}")
