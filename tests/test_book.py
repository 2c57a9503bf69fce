"""The website builds with warnings as errors, and every _toc.yml entry becomes a page."""
import subprocess
import sys
from pathlib import Path

import pytest

from test_repository import ROOT, _toc_files


@pytest.mark.notebook
def test_book_builds_without_warnings(tmp_path):
    # The jupyter-book script of the environment running the tests.
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", str(ROOT), "-W", "-n", "--keep-going",
               "--path-output", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert "WARNING:" not in log, log[-5000:]  # Sphinx warnings; -W should have failed already
    html = tmp_path / "_build" / "html"
    for entry in _toc_files():
        page = html / Path(entry).with_suffix(".html")
        assert page.exists(), f"{entry} produced no page"
    assert "Exercise" in (html / "book" / "gru_quickstart.html").read_text()
