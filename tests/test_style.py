"""One style for the package and its tests: ruff, configured in ruff.toml (one line width)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing_in_code_and_tests():
    # Without ruff this fails with "No module named ruff": pip install -r requirements.txt
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "code", "tests"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_checks_what_it_is_given(tmp_path):
    """The configuration is read and applies: a line over the width fails."""
    (tmp_path / "long.py").write_text("x = " + "1 + " * 30 + "1\n")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--config",
                             str(ROOT / "ruff.toml"), str(tmp_path / "long.py")],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "E501" in result.stdout, result.stdout
