import pytest

import gatedrnn
from gatedrnn import gru


def test_show_source_shows_the_package_code():
    shown = gatedrnn.show_source(gru.step_forward, gru.step_backward)
    assert "def step_forward" in shown.data and "def step_backward" in shown.data


def test_show_source_needs_something_to_show():
    with pytest.raises(TypeError, match="at least one"):
        gatedrnn.show_source()
