"""The rnn_bptt and rnn_training exercises' checkers pass the official answers and fail wrong ones.

Every checker of the two pages' sections of `gatedrnn.exercise_checks` is run on a right answer
and on the wrong answers a student is likely to give (a tanh mask in a relu backward pass, a
transposed Jacobian, the norms logged after clipping, a biased truncation average, ...): a
self-check that cannot fail checks nothing. The last tests read the two notebooks: each exercise
has its self-check cell, 4 points, and the cell order of the convention.
"""
import ast
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import gatedrnn
from gatedrnn import exercise_checks as checks
from gatedrnn import training, truncation

BOOK = Path(__file__).resolve().parents[1] / "book"


pytestmark = pytest.mark.usefixtures("one_thread")


# --- rnn-relu-backward ---------------------------------------------------------------------------

def relu_bptt(X, Y, H0, W_xh, W_hh, b_xh, b_hh, W_hq, b_q, derivative=None):
    H, states = H0, []
    for t in range(X.shape[0]):
        H = torch.relu(X[t] @ W_xh + b_xh + H @ W_hh + b_hh)
        states.append(H)
    previous = [H0] + states[:-1]
    dW_xh, dW_hh, db = torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(b_xh)
    dA_next = torch.zeros_like(H0)
    for t in reversed(range(X.shape[0])):
        dH = (states[t] @ W_hq + b_q - Y[t]) @ W_hq.T + dA_next @ W_hh.T
        dA = dH * (derivative(states[t]) if derivative else (states[t] > 0))
        dW_hh += previous[t].T @ dA
        dW_xh += X[t].T @ dA
        db += dA.sum(0)
        dA_next = dA
    return dW_xh, dW_hh, db


def relu_bptt_by_autograd(X, Y, H0, W_xh, W_hh, b_xh, b_hh, W_hq, b_q):
    params = [p.clone().requires_grad_(True) for p in (W_xh, W_hh, b_xh)]
    return torch.autograd.grad(checks._relu_loss(X, Y, H0, *params[:2], params[2], b_hh, W_hq,
                                                 b_q), params)


def test_relu_check_passes_a_hand_derived_backward_pass():
    for seed in (1, 2, 3):
        checks.check_relu_bptt(relu_bptt, checks.relu_network(seed))


@pytest.mark.parametrize("wrong, message", [
    (lambda *a: relu_bptt(*a, derivative=lambda H: 1 - H * H), "dW_xh differs from autograd"),
    (lambda *a: relu_bptt(*a, derivative=lambda H: torch.ones_like(H)), "differs from autograd"),
    (relu_bptt_by_autograd, "records an autograd graph"),
    (lambda *a: relu_bptt(*a)[:2], "should return (dW_xh, dW_hh, db)"),
])
def test_relu_check_fails_wrong_backward_passes(wrong, message):
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        checks.check_relu_bptt(wrong, checks.relu_network(1))


def test_relu_check_fails_a_stub_and_an_answer_right_only_on_the_page():
    def stub(*args):
        raise NotImplementedError("Exercise rnn-relu-backward: write your solution here")

    with pytest.raises(AssertionError, match="still raises NotImplementedError"):
        checks.check_relu_bptt(stub, checks.relu_network(1))
    page = checks.relu_network(0, sizes=(8, 3, 2, 4, 2))
    answer = relu_bptt(*page.values())
    checks.check_relu_bptt(lambda *args: answer, page)          # hard-coded: passes the page ...
    with pytest.raises(AssertionError):                           # ... not the hidden test
        checks.check_relu_bptt(lambda *args: answer, checks.relu_network(101))


# --- rnn-bound-tightness -------------------------------------------------------------------------

def jacobian_norms_along(inputs, W_xh, W_hh, transposed=True, new_state=True):
    H, norms = torch.zeros(1, W_hh.shape[0], dtype=W_hh.dtype), []
    for x in inputs:
        H_new = torch.tanh(x @ W_xh + H @ W_hh)
        state = H_new if new_state else H
        jacobian = torch.diag(1 - state[0] ** 2) @ (W_hh.T if transposed else W_hh)
        norms.append(torch.linalg.matrix_norm(jacobian, ord=2))
        H = H_new
    return torch.stack(norms)


def test_jacobian_check_passes_the_right_norms_and_fails_wrong_ones():
    for seed in (201, 202):
        checks.check_jacobian_norms(jacobian_norms_along, *checks.jacobian_network(seed))
    network = checks.jacobian_network(201)
    for wrong in (lambda *a: jacobian_norms_along(*a, transposed=False),
                  lambda *a: jacobian_norms_along(*a, new_state=False),
                  lambda *a: jacobian_norms_along(*a)[:-1]):
        with pytest.raises(AssertionError):
            checks.check_jacobian_norms(wrong, *network)


# --- rnn-power-iteration -------------------------------------------------------------------------

EIGENVALUES = torch.tensor([1.1, -0.9, 0.7, 0.5, -0.3, 0.1], dtype=torch.float64)


def test_power_iteration_check_wants_the_square_of_the_ratio():
    ratio = 0.9 / 1.1
    checks.check_power_iteration(ratio, 0.6677, EIGENVALUES)
    with pytest.raises(AssertionError, match="gap_rate"):
        checks.check_power_iteration(ratio, ratio, EIGENVALUES)       # the angle's rate, not 1-cos
    with pytest.raises(AssertionError, match="ratio"):
        checks.check_power_iteration(0.7 / 1.1, 0.6677, EIGENVALUES)  # not the two largest


# --- rnn-random-sigma-max ------------------------------------------------------------------------

RATIOS = {16: (1.686, 0.885), 64: (1.971, 1.029), 256: (1.952, 1.036)}
AFTER_100 = {"sd = 1/(2 sqrt h)": 4.2e-27, "sd = 1/sqrt h": 5.4, "orthogonal": 1.0}


def test_random_matrix_check_passes_the_solution_and_fails_wrong_answers():
    checks.check_random_matrix_norms(RATIOS, AFTER_100)
    swapped = {h: (rho, sigma) for h, (sigma, rho) in RATIOS.items()}
    with pytest.raises(AssertionError, match="sigma_max"):
        checks.check_random_matrix_norms(swapped, AFTER_100)
    unscaled = {h: (sigma * h ** 0.5, rho * h ** 0.5) for h, (sigma, rho) in RATIOS.items()}
    with pytest.raises(AssertionError):
        checks.check_random_matrix_norms(unscaled, AFTER_100)
    for name, wrong in (("sd = 1/sqrt h", 1e-20), ("orthogonal", 0.99), ("sd = 1/(2 sqrt h)", 1.0)):
        with pytest.raises(AssertionError, match="per step"):
            checks.check_random_matrix_norms(RATIOS, {**AFTER_100, name: wrong})


# --- rnn-non-normal ------------------------------------------------------------------------------

def jordan_power(k, lam, a):
    return torch.tensor([[lam ** k, k * a * lam ** (k - 1)], [0.0, lam ** k]], dtype=torch.float64)


def test_jordan_checks_pass_the_closed_form_and_fail_wrong_ones():
    checks.check_jordan_power(jordan_power, checks.jordan_cases(301))
    off_by_one = lambda k, lam, a: torch.tensor(  # noqa: E731
        [[lam ** k, k * a * lam ** k], [0.0, lam ** k]], dtype=torch.float64)
    with pytest.raises(AssertionError, match="expected J"):
        checks.check_jordan_power(off_by_one, checks.jordan_cases(301))
    for k in (9, 10, -1 / math.log(0.9)):
        checks.check_jordan_peak(k, 7.748)
    checks.check_jordan_peak(9, 7.77)                  # the largest ||J^k|| is also accepted
    with pytest.raises(AssertionError, match="peak_k"):
        checks.check_jordan_peak(8, 7.748)
    with pytest.raises(AssertionError, match="peak_value"):
        checks.check_jordan_peak(9, 3.87)               # k lam^(k-1) without the factor a


# --- rnn-other-remedies --------------------------------------------------------------------------

def gradients_of_a_small_rnn(seed):
    torch.manual_seed(seed)
    model = gatedrnn.SequenceModel(gatedrnn.RNN(2, 16, batch_first=True), 1)
    inputs, targets = gatedrnn.adding_problem(8, 20, seed=seed)
    F.mse_loss(model(inputs), targets).backward()
    return list(model.parameters())


def test_clip_by_value_check_leaves_the_global_random_state_alone():
    # gradients_of_a_small_rnn seeds torch's global generator; a check cell must not
    flat = torch.cat([p.grad.flatten() for p in gradients_of_a_small_rnn(1)])
    torch.manual_seed(123)
    state = torch.get_rng_state()
    theta = float(flat.abs().quantile(0.9))
    clipped = flat.clamp(-theta, theta)
    checks.check_clip_by_value(gradients_of_a_small_rnn, theta,
                               float(clipped @ flat / (clipped.norm() * flat.norm())), 1.0)
    assert torch.equal(state, torch.get_rng_state())


def test_clip_by_value_check_recomputes_the_cosine():
    flat = torch.cat([p.grad.flatten() for p in gradients_of_a_small_rnn(1)])
    theta = float(flat.abs().quantile(0.9))
    clipped = flat.clamp(-theta, theta)
    cosine = float(clipped @ flat / (clipped.norm() * flat.norm()))
    checks.check_clip_by_value(gradients_of_a_small_rnn, theta, cosine, 1.0)
    with pytest.raises(AssertionError, match="cosine_by_value"):
        checks.check_clip_by_value(gradients_of_a_small_rnn, theta, 1.0, 1.0)
    with pytest.raises(AssertionError, match="changes some entries"):
        checks.check_clip_by_value(gradients_of_a_small_rnn, 2 * float(flat.abs().max()), 1.0, 1.0)
    with pytest.raises(AssertionError, match="cosine_by_norm"):
        checks.check_clip_by_value(gradients_of_a_small_rnn, theta, cosine, cosine)


# --- rnn-log-grad-norm ---------------------------------------------------------------------------

def logged_norms(after_clipping=False, seed=0):
    data = gatedrnn.adding_problem(4000, 10, seed=1)
    order = torch.randperm(4000, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(seed)
    model = gatedrnn.SequenceModel(gatedrnn.RNN(2, 32, batch_first=True), 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    norms = []
    for step in range(100):
        batch = order[32 * step:32 * step + 32]
        optimizer.zero_grad()
        F.mse_loss(model(data[0][batch]), data[1][batch]).backward()
        before = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0))
        norms.append(training.global_grad_norm(list(model.parameters())) if after_clipping
                     else before)
        optimizer.step()
    return norms, checks.first_logged_norm(data, order)


def test_logged_norms_check_passes_norms_before_clipping_and_fails_the_rest():
    norms, first = logged_norms()
    share = sum(n > 1 for n in norms) / len(norms)
    checks.check_logged_norms(norms, share, first)
    with pytest.raises(AssertionError, match="fraction_clipped"):
        checks.check_logged_norms(norms, share + 0.01, first)
    after, _ = logged_norms(after_clipping=True)
    with pytest.raises(AssertionError, match="logged after"):
        checks.check_logged_norms(after, 0.0, first)
    other_model, _ = logged_norms(seed=1)
    with pytest.raises(AssertionError, match="first logged norm"):
        checks.check_logged_norms(other_model, sum(n > 1 for n in other_model) / 100, first)


def test_logged_norms_rerun_compares_every_step():
    data = gatedrnn.adding_problem(4000, 10, seed=1)
    order = torch.randperm(4000, generator=torch.Generator().manual_seed(0))
    norms, _ = logged_norms()
    checks.check_logged_norms_rerun(norms, data, order)
    typed_in = norms[:1] + [0.5] * 99      # the first step right, the rest made up
    with pytest.raises(AssertionError, match="step 1"):
        checks.check_logged_norms_rerun(typed_in, data, order)


def test_first_logged_norm_leaves_the_global_random_state_alone():
    state = torch.get_rng_state()
    data = gatedrnn.adding_problem(64, 10, seed=1)
    checks.first_logged_norm(data, torch.arange(64))
    assert torch.equal(state, torch.get_rng_state())


# --- rnn-longest-t -------------------------------------------------------------------------------

def test_longest_t_check_accepts_ranges_and_fails_other_walls():
    checks.check_longest_t({8: [10, None, None, None, None], 64: [10, 10, 10, 10, None]})
    checks.check_longest_t({8: [10, 15, 10, None, 10], 64: [15, 15, 10, 15, 20]})
    for wrong in ({8: [30] * 5, 64: [30] * 5},                    # no wall at all
                  {8: [None] * 5, 64: [15] * 5},                  # two grid steps apart
                  {8: [10], 64: [10]},                            # one seed
                  {8: [12] * 5, 64: [10] * 5},                    # not a length of the grid
                  {64: [10] * 5}):
        with pytest.raises(AssertionError):
            checks.check_longest_t(wrong)


def test_longest_t_rerun_catches_a_wall_that_was_not_measured():
    state = torch.get_rng_state()
    checks.check_longest_t_rerun({64: [10, 10, 10, 10, None]}, hidden=64, seed=0)
    assert torch.equal(state, torch.get_rng_state())
    with pytest.raises(AssertionError, match="the specified run"):
        checks.check_longest_t_rerun({64: [None] * 5}, hidden=64, seed=0)


# --- rnn-artbp-unbiased --------------------------------------------------------------------------

def truncation_errors(rescale=True):
    torch.manual_seed(3)
    layer = gatedrnn.RNN(1, 4, batch_first=True, dtype=torch.float64)
    sequence = torch.randn(1, 6, 1, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)

    def gradient(factors):
        output, _ = truncation.run_truncated(layer, sequence, factors)
        return torch.autograd.grad(output[0, -1].pow(2).sum(), layer.weight_hh_l0)[0]

    full, total, errors = gradient([1.0] * 6), 0, {}
    for draws in range(1, 1001):
        factors = truncation.truncation_factors(6, cut_probability=0.5, generator=generator)
        total = total + gradient(factors if rescale else [float(f > 0) for f in factors])
        if draws in (10, 100, 1000):
            errors[draws] = float((total / draws - full).norm() / full.norm())
    return errors


def test_truncation_rerun_recomputes_the_first_draws():
    torch.manual_seed(3)
    layer = gatedrnn.RNN(1, 4, batch_first=True, dtype=torch.float64)
    sequence = torch.randn(1, 6, 1, dtype=torch.float64)
    errors = truncation_errors()
    state = torch.get_rng_state()
    checks.check_truncation_average_rerun(errors, layer, sequence)
    assert torch.equal(state, torch.get_rng_state())
    with pytest.raises(AssertionError, match="specified draws"):   # typed in, not measured
        checks.check_truncation_average_rerun({**errors, 10: 0.08}, layer, sequence)


def test_truncation_check_passes_the_unbiased_average_and_fails_a_biased_one():
    checks.check_truncation_average(truncation_errors())
    with pytest.raises(AssertionError, match="biased"):
        checks.check_truncation_average(truncation_errors(rescale=False))
    with pytest.raises(AssertionError, match="keys"):
        checks.check_truncation_average({10: 0.1, 1000: 0.01})


# --- the notebooks -------------------------------------------------------------------------------

EXERCISES = {"rnn_bptt": ("rnn-relu-backward", "rnn-bound-tightness", "rnn-power-iteration",
                          "rnn-random-sigma-max", "rnn-non-normal"),
             "rnn_training": ("rnn-other-remedies", "rnn-log-grad-norm", "rnn-longest-t",
                              "rnn-artbp-unbiased")}
HIDDEN = {"rnn-relu-backward", "rnn-bound-tightness", "rnn-non-normal", "rnn-log-grad-norm",
          "rnn-longest-t", "rnn-artbp-unbiased"}


@pytest.mark.parametrize("page", EXERCISES)
def test_every_exercise_follows_the_convention(page):
    cells = json.loads((BOOK / f"{page}.ipynb").read_text())["cells"]
    for label in EXERCISES[page]:
        start = next(i for i, c in enumerate(cells) if f":label: {label}" in "".join(c["source"]))
        statement, open_, written, solution, close, check = (
            ["".join(c["source"]) for c in cells[start:start + 6]])
        meta = [c["metadata"].get("nbgrader", {}) for c in cells[start:start + 6]]
        assert open_.startswith(f"```{{solution-start}} {label}") and close.startswith(
            "```{solution-end}")
        assert written.startswith("<!-- ### BEGIN SOLUTION -->") and "**Rubric**" in written
        assert "### BEGIN SOLUTION" in solution and meta[3] == {
            "grade": False, "grade_id": f"{label}-code", "locked": False, "schema_version": 3,
            "solution": True}
        assert check.startswith("# Self-check:")
        last = ast.parse(check).body[-1]                 # the last statement prints the verdict
        assert isinstance(last, ast.Expr) and last.value.func.id == "print"
        assert "self-check passed" in ast.get_source_segment(check, last)
        assert meta[5]["locked"] and meta[5]["grade"] and not meta[5]["solution"]
        assert meta[2]["points"] + meta[5]["points"] == 4
        assert ("### BEGIN HIDDEN TESTS" in check) == (label in HIDDEN)


def _check_source(page, label):
    cells = json.loads((BOOK / f"{page}.ipynb").read_text())["cells"]
    return next("".join(c["source"]) for c in cells
                if c["metadata"].get("nbgrader", {}).get("grade_id") == f"{label}-check")


def test_the_non_normal_check_cell_fails_a_wrong_closed_form():
    # the page's cell itself, hidden tests included, on the Gelfand cell's jordan_norms
    source = _check_source("rnn_bptt", "rnn-non-normal")
    J = torch.tensor([[0.9, 2.0], [0.0, 0.9]], dtype=torch.float64)
    jordan_norms = [float(torch.linalg.matrix_norm(torch.linalg.matrix_power(J, k), ord=2))
                    for k in range(80)]
    right = {"torch": torch, "jordan_norms": jordan_norms, "jordan_power": jordan_power,
             "peak_k": 9, "peak_value": 7.748}
    exec(source, dict(right))
    wrong = lambda k, lam, a: jordan_power(k, lam, a) * (1 + (k > 3) * 1e-3)  # noqa: E731
    with pytest.raises(AssertionError, match="differs from the cell"):
        exec(source, {**right, "jordan_power": wrong})
    with pytest.raises(AssertionError, match="peak_k"):
        exec(source, {**right, "peak_k": 12})


def test_the_bound_tightness_check_cell_fails_wrong_norms():
    # the page's cell itself on the exercise's network: the visible part reads the stored norms,
    # the hidden tests rerun the function on non-orthogonal networks
    from gatedrnn.init import scaled_orthogonal
    source = _check_source("rnn_bptt", "rnn-bound-tightness")
    generator = torch.Generator().manual_seed(1)
    W_hh = scaled_orthogonal(64, 1.5, generator=generator)
    W_xh = torch.randn(4, 64, generator=generator, dtype=torch.float64) * 0.5
    inputs = torch.randn(100, 1, 4, generator=generator, dtype=torch.float64)
    right = {"torch": torch, "inputs_big": inputs, "W_xh_big": W_xh, "W_hh_big": W_hh,
             "jacobian_norms_along": jacobian_norms_along,
             "jacobian_norms": jacobian_norms_along(inputs, W_xh, W_hh)}
    exec(source, dict(right))
    old_state = jacobian_norms_along(inputs, W_xh, W_hh, new_state=False)
    with pytest.raises(AssertionError, match="autograd"):
        exec(source, {**right, "jacobian_norms": old_state})
    # not transposed: the same norms for this orthogonal W_hh, caught by the hidden tests
    exec(source.split("### BEGIN HIDDEN TESTS")[0], {**right, "jacobian_norms_along":
                                                     lambda *a: jacobian_norms_along(
                                                         *a, transposed=False)})
    with pytest.raises(AssertionError, match="autograd"):
        exec(source, {**right, "jacobian_norms_along":
                      lambda *a: jacobian_norms_along(*a, transposed=False)})
