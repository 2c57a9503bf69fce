"""Marks every item that executes notebooks, so `pytest -m "not notebook"` is the fast loop."""
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(pytest.mark.notebook)
