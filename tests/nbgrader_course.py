"""An nbgrader course in a temporary folder, offline: shared by the labs' and the chapters' tests.

nbgrader shells out to alembic, so its environment puts this Python's bin folder on PATH; it also
gets the package on PYTHONPATH and a private Jupyter config folder.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent           # nbgrader shells out to alembic from here

# The chapter pages whose exercises follow the exercise convention (the instructor guide): every
# test of the chapters' exercises (tests/test_nbgrader_chapters.py,
# tests/test_exercise_consistency.py) runs on these. A page joins when its exercises are final.
CHAPTER_PAGES = ("gru_quickstart", "rnn_bptt", "rnn_training", "lstm", "gru", "gru_gates",
                 "gru_wild", "compare_memory", "compare_real", "questions")
# The pages whose check cells nbgrader autogrades in the tests (solutions full points, the release
# 0): as few as prove that checks grade, since autograde executes each page twice.
AUTOGRADED_PAGES = ("gru_quickstart",)


def nbgrader_env(root):
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "code"),
                                                         os.environ.get("PYTHONPATH")])),
                JUPYTER_CONFIG_DIR=str(Path(root) / ".jupyter"), MPLBACKEND="Agg")


def run_nbgrader(root, env, *args):
    result = subprocess.run([str(BIN / "nbgrader"), *args], cwd=root, env=env, capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stderr[-3000:]}"


def make_course(root, course_id, assignment, notebooks):
    """Write the config, copy `notebooks` (paths) into source/<assignment>/, register the
    assignment and release it; return (env, source folder, release folder)."""
    root = Path(root)
    env = nbgrader_env(root)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        "c.Execute.timeout = 300\n")
    source = root / "source" / assignment
    source.mkdir(parents=True)
    for path in notebooks:
        shutil.copy(path, source)
    run_nbgrader(root, env, "db", "assignment", "add", assignment)
    run_nbgrader(root, env, "generate_assignment", assignment, "--force")
    return env, source, root / "release" / assignment


def solution_lines(source, begin="### BEGIN SOLUTION", end="### END SOLUTION"):
    """The non-empty lines between `begin` and `end` (by default the solution markers, also when
    they sit in an HTML comment, as in a markdown cell)."""
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def answer_lines(cell):
    """Every line of an nbgrader solution cell that the release must not show: the marked
    region, or the whole cell when it has no markers."""
    if "### BEGIN SOLUTION" in cell.source:
        return solution_lines(cell.source)
    return [line.strip() for line in cell.source.splitlines() if line.strip()]


def _is_solution(cell):
    return cell.metadata.get("nbgrader", {}).get("solution")


def _given_lines(cell):
    """The lines of a cell that are not answer: all of a non-solution cell, and the lines
    outside the markers of a solution cell (its setup and self-check)."""
    if not _is_solution(cell):
        return [line.strip() for line in cell.source.splitlines()]
    if "### BEGIN SOLUTION" not in cell.source:
        return []
    kept, inside = [], False
    for line in cell.source.splitlines():
        if "### BEGIN SOLUTION" in line:
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif not inside:
            kept.append(line.strip())
    return kept


def leaked_lines(source, release):
    """Lines of `source`'s nbgrader solution cells that stand as lines in `release`, except lines
    that also stand outside every answer (an import, a closing bracket, a self-check's line)."""
    released = {line.strip() for cell in release.cells for line in cell.source.splitlines()}
    given = {line for cell in source.cells for line in _given_lines(cell)}
    return [line for cell in source.cells if _is_solution(cell) for line in answer_lines(cell)
            if line not in given and line in released]
