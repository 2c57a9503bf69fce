"""book/_ext/sitetweaks.py: author-year bibliography labels, and the static content of widgets."""
import sys

import pytest
from pybtex.database import parse_string

from test_repository import ROOT

sys.path.insert(0, str(ROOT / "book" / "_ext"))
sitetweaks = pytest.importorskip("sitetweaks")


def _labels(bibtex):
    entries = list(parse_string(bibtex, "bibtex").entries.values())
    return list(sitetweaks.AuthorYearLabelStyle().format_labels(entries))


def test_labels_are_author_year_with_letters_where_they_collide():
    bibtex = r"""
    @article{a, author = {Hochreiter, Sepp and Schmidhuber, J{\"u}rgen}, title = {A}, year = {1997}}
    @book{b, author = {Zhang, Aston and Lipton, Zachary and Li, Mu}, title = {B}, year = {2023}}
    @book{c, author = {Zhang, Aston and Li, Mu and Lipton, Zachary}, title = {C}, year = {2023}}
    @misc{d, author = {Werbos, Paul}, title = {D}, year = {1990}}
    @inproceedings{e, author = {Cho, K. and van Merri{\"e}nboer, Bart}, title = {E}, year = {2014}}
    """
    assert _labels(bibtex) == ["Hochreiter and Schmidhuber, 1997", "Zhang et al., 2023a",
                               "Zhang et al., 2023b", "Werbos, 1990",
                               "Cho and van Merriënboer, 2014"]


def test_an_explorer_shows_what_its_output_area_held():
    image = {"output_type": "display_data",
             "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}}
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_slider",
                                                                  "IPY_MODEL_out"]}},
        "slider": {"model_name": "FloatSliderModel", "state": {"value": 1.3}},
        "out": {"model_name": "OutputModel", "state": {"outputs": [image]}},
        "loop": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_loop"]}},
    }
    assert sitetweaks._output_area_outputs(state, "box") == [image]
    assert sitetweaks._output_area_outputs(state, "slider") == []  # a bar or a bare slider: nothing
    assert sitetweaks._output_area_outputs(state, "loop") == []    # no endless recursion
    assert sitetweaks._output_area_outputs(state, "missing") == []
