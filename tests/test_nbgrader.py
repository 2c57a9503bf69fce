"""A real nbgrader round trip over the three labs, offline, in a temporary course directory.

generate_assignment must release no solution line; autograde must give the instructor's solutions
full points, the released (unanswered) notebooks 0, and a submission with one planted mistake must
lose exactly the points of the test that covers it.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader")

ROOT = Path(__file__).resolve().parents[1]
LABS = ROOT / "book" / "labs"
NOTEBOOKS = ("lab_rnn", "lab_lstm", "lab_gru")
BIN = Path(sys.executable).parent           # nbgrader shells out to alembic from here
ASSIGNMENT = "labs"
# The planted mistake: the GRU's weights loaded into torch.nn.GRU with the r and z blocks exchanged.
PLANTED = ("lab_gru", "gru-twin", '[P["W_xr"], P["W_xz"], P["W_xh"]]',
           '[P["W_xz"], P["W_xr"], P["W_xh"]]')
PLANTED_TEST = "test_gru_twin"


def _nbgrader(root, env, *args):
    result = subprocess.run([str(BIN / "nbgrader"), *args], cwd=root, env=env, capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stderr[-3000:]}"


def _solution_lines(source):
    lines, inside = [], False
    for line in source.splitlines():
        if "### BEGIN SOLUTION" in line:
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "code"),
                                                        os.environ.get("PYTHONPATH")])),
               JUPYTER_CONFIG_DIR=str(root / ".jupyter"), MPLBACKEND="Agg")
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        'c.CourseDirectory.course_id = "gatedrnn-labs"\n'
        f"c.CourseDirectory.root = {str(root)!r}\n"
        "c.Execute.timeout = 300\n")
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    for name in NOTEBOOKS:
        shutil.copy(LABS / f"{name}.ipynb", source)
    _nbgrader(root, env, "db", "assignment", "add", ASSIGNMENT)
    _nbgrader(root, env, "generate_assignment", ASSIGNMENT, "--force")
    release = root / "release" / ASSIGNMENT

    submissions = {"solutions": source, "unanswered": release}
    for student, folder in submissions.items():
        _nbgrader(root, env, "db", "student", "add", student)
        shutil.copytree(folder, root / "submitted" / student / ASSIGNMENT)
    _nbgrader(root, env, "db", "student", "add", "planted")
    planted = root / "submitted" / "planted" / ASSIGNMENT
    planted.mkdir(parents=True)
    name, grade_id, old, new = PLANTED
    notebook = nbformat.read(source / f"{name}.ipynb", as_version=4)
    cell = next(c for c in notebook.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    nbformat.write(notebook, planted / f"{name}.ipynb")

    _nbgrader(root, env, "autograde", ASSIGNMENT, "--force")
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
            for line in _solution_lines(cell.source):
                if line not in outside:
                    assert line not in released, f"{name} releases the solution line {line!r}"
        assert released.count("raise NotImplementedError") >= len(solution_cells)


def test_solutions_get_full_points(course):
    _, scores = course
    for name in NOTEBOOKS:
        score, max_score, grades = scores["solutions", name]
        assert max_score == 10 and score == max_score, grades


def test_unanswered_release_gets_zero(course):
    _, scores = course
    for name in NOTEBOOKS:
        score, max_score, grades = scores["unanswered", name]
        assert max_score == 10 and score == 0, grades


def test_planted_mistake_loses_exactly_its_tests_points(course):
    _, scores = course
    score, max_score, grades = scores["planted", PLANTED[0]]
    lost = {test: points for test, (got, points) in grades.items() if got != points}
    assert lost == {PLANTED_TEST: grades[PLANTED_TEST][1]}, grades
    assert score == max_score - grades[PLANTED_TEST][1]
