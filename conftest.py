"""Marks every item that executes notebooks, so `pytest -m "not notebook"` is the fast loop; and
the one_thread fixture of the tests that run tiny models."""
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(pytest.mark.notebook)


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one torch thread: their tensors are tiny, and a second thread only
    waits for the first (on a busy machine it spins). Use with `pytestmark`."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
