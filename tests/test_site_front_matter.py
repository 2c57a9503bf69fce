"""The front matter a newcomer meets first says the same thing everywhere: the Python floor, the
CPU route to torch, CI in its own folder, one version and one licence pair in the citation."""
import re
import tomllib

import yaml

from test_repository import ROOT

README = (ROOT / "README.md").read_text()
INTRO = (ROOT / "book" / "intro.md").read_text()
PYPROJECT = tomllib.loads((ROOT / "code" / "pyproject.toml").read_text())
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def test_python_floor_is_3_11_everywhere():
    # numpy 2.4 and scikit-learn 1.9 (requirements.txt) have no builds for Python 3.10
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    for name, text in (("README.md", README), ("book/intro.md", INTRO)):
        assert "Python 3.11 or newer" in text, name
        assert "3.10 or newer" not in text, name
    assert "(3, 11)" in (ROOT / ".ci" / "run").read_text()


def test_install_takes_the_cpu_build_of_torch():
    for name, text in (("README.md", README), ("book/intro.md", INTRO)):
        installs = [line for line in text.splitlines() if line.startswith("pip install")]
        assert installs and all(CPU_INDEX in line for line in installs), (name, installs)
    assert "https://download.pytorch.org/whl/cpu" in (ROOT / ".ci" / "run").read_text()


def test_ci_builds_its_own_environment_and_leaves_dot_venv_alone():
    script = (ROOT / ".ci" / "run").read_text()
    commands = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    venv = re.search(r"^venv=(\S+)$", commands, re.M)
    assert venv and venv.group(1).startswith(".ci/"), "CI's environment must live under .ci/"
    assert not re.search(r"(?<![\w/])\.venv\b", commands), "CI must not touch the reader's .venv"
    assert "python -m pytest -n 2 --dist loadscope" in commands  # the README's test command
    assert "python -m pytest -n 2 --dist loadscope" in README


def test_citation_names_the_package_version_and_both_licences():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    for key in ("cff-version", "message", "title", "authors", "version", "license"):
        assert cff.get(key), f"CITATION.cff lacks {key}"
    assert cff["cff-version"] == "1.2.0"
    assert cff["version"] == PYPROJECT["project"]["version"]
    spdx = re.search(r"SPDX-License-Identifier: (.+)", (ROOT / "LICENSE").read_text()).group(1)
    assert set(cff["license"]) == set(spdx.split(" AND ")) == {"CC-BY-SA-4.0", "MIT"}
    assert (ROOT / "LICENSE-CODE").read_text().startswith("MIT License")
    # the BibTeX on the landing page and in the README cite the same version and title
    for name, text in (("README.md", README), ("book/intro.md", INTRO)):
        assert f"version {cff['version']}" in text and cff["title"] in text, name


def test_landing_page_says_how_to_cite_and_how_to_teach():
    assert "(how-to-cite)=\n## How to cite" in INTRO
    assert "(how-to-teach)=\n## How to teach with this" in INTRO
    assert "CC BY-SA 4.0" in INTRO and "MIT" in INTRO
