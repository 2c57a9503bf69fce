"""Showing the package's own code on a page, so the book has one source of truth."""
import inspect

from IPython.display import Code


def show_source(*objects):
    """The source of each function, class or module in ``objects``, highlighted, one after another.

    A notebook cell ``show_source(gru.step_forward)`` tagged ``remove-input`` shows the reader the
    code the package runs, not a copy of it.
    """
    if not objects:
        raise TypeError("show_source expected at least one function, class or module, got none")
    return Code("\n\n".join(inspect.getsource(obj) for obj in objects), language="python")
