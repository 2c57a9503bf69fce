"""nbgrader on the chapter pages whose exercises follow the exercise convention, offline.

Every cell between a {solution-start} and its {solution-end} is an nbgrader solution cell (the
written part manually graded; the code manually graded too, or autograded by a check cell). The
self-check cells right after the {solution-end} are locked, autograded test cells
(``<label>-check``). Points per exercise: written + manually graded code + checks = 4. The
release keeps the check cells but shows no solution line, written or coded, and no hidden-test
line. Every exercise has a rubric and either a check cell or a ``**No self-check:**`` reason.
On `AUTOGRADED_PAGES`, nbgrader's autograde gives every check cell of the instructor's source
full points and of the unanswered release 0. The round trip is the labs' (nbgrader_course).
"""
import ast
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from gatedrnn.exercises import check_cells, solution_regions
from gatedrnn.student import strip_hidden_tests
from nbgrader_course import (
    AUTOGRADED_PAGES,
    CHAPTER_PAGES,
    leaked_lines,
    make_course,
    run_nbgrader,
)

pytest.importorskip("nbgrader")

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
PAGES = CHAPTER_PAGES            # one list for every chapter-exercise test: extend it there
POINTS_PER_EXERCISE = 4          # the instructor guide's scale
EXERCISE_LABEL = re.compile(r"^\s*(?:```+|:::+)\s*\{exercise\}.*\n\s*:label:\s*(\S+)", re.MULTILINE)
NO_SELF_CHECK = "**No self-check:**"


def _read(page):
    return nbformat.read(BOOK / f"{page}.ipynb", as_version=4)


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


def _hidden_lines(source):
    visible = set(strip_hidden_tests(source).splitlines())
    return [line.strip() for line in source.splitlines()
            if line not in visible and line.strip() and "HIDDEN TESTS" not in line]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("chapters")
    _, _, folder = make_course(root, "gatedrnn-chapters", "chapters",
                               [BOOK / f"{page}.ipynb" for page in PAGES])
    return folder


@pytest.mark.parametrize("page", PAGES)
def test_every_exercise_cell_carries_nbgrader_metadata(page):
    notebook = _read(page)
    regions, checks = solution_regions(notebook), check_cells(notebook)
    assert regions, f"{page} has no exercise"
    for label, cells in regions.items():
        points = 0
        for cell in cells:
            meta = _meta(cell)
            assert meta and meta["solution"], f"{page}: a cell of {label} is no solution cell"
            assert meta["grade_id"].startswith(label)
            points += meta.get("points", 0) if meta["grade"] else 0
        for cell in checks[label]:
            meta = _meta(cell)
            assert meta["grade"] and not meta["solution"] and meta["locked"], (
                f"{page}: {meta['grade_id']} must be a locked test cell (grade, no solution)")
            assert meta.get("points", 0) > 0, f"{page}: {meta['grade_id']} has no points"
            points += meta["points"]
        assert points == POINTS_PER_EXERCISE, f"{page}: {label} is worth {points} points"
    # every other nbgrader cell of the page would be graded without belonging to an exercise
    placed = {id(cell) for found in (regions, checks) for cells in found.values()
              for cell in cells}
    strays = [_meta(cell)["grade_id"] for cell in notebook.cells
              if _meta(cell) and id(cell) not in placed]
    assert strays == [], f"{page}: nbgrader cells outside every exercise: {strays}"
    for cell in notebook.cells:
        if "HIDDEN TESTS" in cell.source:
            assert id(cell) in placed and not _meta(cell)["solution"], (
                f"{page}: hidden tests outside a check cell:\n{cell.source[:200]}")


@pytest.mark.parametrize("page", PAGES)
def test_every_exercise_is_done(page):
    # The definition of done: a rubric, and a self-check or the reason why none fits.
    notebook = _read(page)
    labels = [m.group(1) for cell in notebook.cells if cell.cell_type == "markdown"
              for m in EXERCISE_LABEL.finditer(cell.source)]
    regions, checks = solution_regions(notebook), check_cells(notebook)
    assert labels and sorted(labels) == sorted(regions), f"{page}: exercises without a solution"
    for label in labels:
        written = " ".join(" ".join(c.source.split()) for c in regions[label]
                           if c.cell_type == "markdown")     # line breaks do not matter
        assert "**Rubric**" in written, f"{page}: {label} has no **Rubric** paragraph"
        assert checks[label] or NO_SELF_CHECK in written, (
            f"{page}: {label} has neither a check cell nor a '{NO_SELF_CHECK}' reason")
        for cell in checks[label]:
            assert cell.source.startswith("# Self-check:"), (
                f"{page}: {label}'s check starts {cell.source[:40]!r}, not '# Self-check:'")
            last = ast.get_source_segment(cell.source, ast.parse(cell.source).body[-1])
            assert last.startswith("print(") and "self-check passed" in last, (
                f"{page}: {label}'s check ends {last!r}, not print('self-check passed: ...')")


@pytest.mark.parametrize("page", PAGES)
def test_release_contains_no_solution_and_no_hidden_test_line(release, page):
    source = _read(page)
    released = nbformat.read(release / f"{page}.ipynb", as_version=4)
    assert leaked_lines(source, released) == []
    text = "\n".join(cell.source for cell in released.cells)
    assert "### BEGIN SOLUTION" not in text and "**Rubric**" not in text
    assert "HIDDEN TESTS" not in text
    solutions = [c for c in source.cells if _meta(c).get("solution")]
    stubs = text.count("raise NotImplementedError") + text.count("YOUR ANSWER HERE")
    assert stubs >= len(solutions)
    # the check cells stay (students run them), without their hidden tests
    checks = {_meta(c)["grade_id"]: c for cells in check_cells(source).values() for c in cells}
    kept = {_meta(c)["grade_id"]: c for c in released.cells if _meta(c).get("grade_id") in checks}
    assert sorted(kept) == sorted(checks)
    released_lines = {line.strip() for line in text.splitlines()}
    visible = {line.strip() for cell in source.cells
               for line in strip_hidden_tests(cell.source).splitlines()}
    for grade_id, cell in checks.items():
        assert kept[grade_id].source == strip_hidden_tests(cell.source)
        for line in _hidden_lines(cell.source):
            assert line in visible or line not in released_lines, (
                f"{page}: the release shows the hidden test line {line!r}")


def test_leak_check_sees_solutions_left_in_place():
    # A "release" that is the source itself leaks every answer, written and coded.
    source = _read("gru_quickstart")
    leaked = leaked_lines(source, source)
    answer = "smallest_bias = min(bias for bias, moved in movements.items() if moved < 1e-3)"
    assert answer in leaked
    assert any(line.startswith("**Rubric**") for line in leaked)


# The hard-coded submission: quickstart-pin's movements typed in as 3 e^-b (0 from b = 17), which
# pass every visible assertion (threshold 9, slope -1, exact pin 17) but are not the measurement.
HARD_CODED = ("gru_quickstart", "quickstart-pin-code",
              "movements[bias] = (states - H0_random).abs().max().item()",
              "movements[bias] = 0.0 if bias >= 17 else 3 * math.exp(-bias)")


@pytest.fixture(scope="module")
def autograded(tmp_path_factory):
    """Autograde the instructor's source (solutions in) and the unanswered release of
    AUTOGRADED_PAGES, and a hard-coded answer; return {(student, page, grade_id): (score,
    max_score)} and, under "folder", the autograded notebooks' folder."""
    root = tmp_path_factory.mktemp("autograde")
    env, source, release_folder = make_course(root, "gatedrnn-checks", "checks",
                                              [BOOK / f"{page}.ipynb" for page in AUTOGRADED_PAGES])
    for student, folder in (("solutions", source), ("unanswered", release_folder)):
        run_nbgrader(root, env, "db", "student", "add", student)
        shutil.copytree(folder, root / "submitted" / student / "checks")
    # a submission that types in numbers which pass the visible check but were never measured
    page, grade_id, old, new = HARD_CODED
    run_nbgrader(root, env, "db", "student", "add", "hard-coded")
    (root / "submitted" / "hard-coded" / "checks").mkdir(parents=True)
    notebook = nbformat.read(source / f"{page}.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if _meta(c).get("grade_id") == grade_id)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    nbformat.write(notebook, root / "submitted" / "hard-coded" / "checks" / f"{page}.ipynb")
    run_nbgrader(root, env, "autograde", "checks", "--force")
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for student in ("solutions", "unanswered", "hard-coded"):
            for page in AUTOGRADED_PAGES:
                try:
                    submitted = gradebook.find_submission_notebook(page, "checks", student)
                except Exception:   # the hard-coded student handed in one notebook only
                    continue
                for grade in submitted.grades:
                    scores[student, page, grade.name] = (grade.score, grade.max_score)
    scores["folder"] = root / "autograded"
    return scores


@pytest.mark.notebook
@pytest.mark.parametrize("page", AUTOGRADED_PAGES)
def test_check_cells_grade_solutions_full_and_the_release_zero(autograded, page):
    # autograde restores each check cell from the source, hidden tests included, and runs it
    checks = [_meta(c)["grade_id"] for cells in check_cells(_read(page)).values() for c in cells]
    assert any("HIDDEN TESTS" in c.source for cells in check_cells(_read(page)).values()
               for c in cells), f"{page}: pick an autograded page whose checks have hidden tests"
    assert checks, f"{page} has no check cell to autograde"
    for grade_id in checks:
        score, max_score = autograded["solutions", page, grade_id]
        assert max_score > 0 and score == max_score, (grade_id, score, max_score)
        score, max_score = autograded["unanswered", page, grade_id]
        assert score == 0, (grade_id, score, max_score)


@pytest.mark.notebook
def test_hidden_tests_take_the_points_of_a_hard_coded_answer(autograded):
    page, grade_id, _, _ = HARD_CODED
    check_id = grade_id.replace("-code", "-check")
    got, points = autograded["hard-coded", page, check_id]
    assert points > 0 and got == 0, (got, points)
    # it fails in the hidden tests, so it passed the visible assertions before them: the
    # autograded notebook's traceback carries the hidden test's message
    graded = nbformat.read(autograded["folder"] / "hard-coded" / "checks" / f"{page}.ipynb",
                           as_version=4)
    cell = next(c for c in graded.cells if _meta(c).get("grade_id") == check_id)
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert errors and "the statement's setting gives" in errors[0].evalue, cell.outputs


def test_the_instructor_guide_sorts_every_exercise_and_only_exercises():
    guide = (BOOK / "instructor_guide.md").read_text()
    rubric = guide[guide.index("### Rubric for the chapters' exercises"):
                   guide.index("## Common mistakes in the labs")]
    listed = set(re.findall(r"`([a-z]+(?:-[a-z0-9]+)+)`", rubric))
    labels = {label for page in CHAPTER_PAGES
              for label in solution_regions(nbformat.read(BOOK / f"{page}.ipynb", as_version=4))}
    assert labels - listed == set(), "exercises the guide's rubric list leaves out"
    assert listed - labels == set(), "names in the guide's rubric list that are no exercise"
