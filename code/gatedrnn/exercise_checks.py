"""Checkers that the chapter exercises' self-check cells call, one section per page.

A self-check cell (see the instructor guide) asserts what a student can check on their own answer:
a value in an accepted range, or, where a student could pass by copying autograd, the student's
function rerun on fresh data against a reference. Each checker raises AssertionError with a message
that says what was expected and what came in, and returns nothing on success.
"""


# --- rnn_bptt ------------------------------------------------------------------------------------



# --- rnn_training --------------------------------------------------------------------------------



# --- lstm ----------------------------------------------------------------------------------------



# --- gru_quickstart, gru, gru_gates, gru_wild ----------------------------------------------------



# --- compare_memory, compare_real ----------------------------------------------------------------



# --- questions -----------------------------------------------------------------------------------
