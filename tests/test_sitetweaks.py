"""book/_ext/sitetweaks.py: author-year bibliography labels; no widgets on the static site."""
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


def test_widget_views_and_only_they_are_left_off_the_site():
    assert sitetweaks.is_widget_view("application/vnd.jupyter.widget-view+json")
    assert not sitetweaks.is_widget_view("image/png")
    assert not sitetweaks.is_widget_view("text/plain")
