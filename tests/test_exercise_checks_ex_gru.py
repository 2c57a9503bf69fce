"""The quick start's and the GRU pages' exercise checkers: each passes a right answer and fails
a wrong one (the stub's value, a sign error, typed-in numbers, a model that copies torch.nn)."""
import math

import pytest
import torch

import gatedrnn
from gatedrnn import exercise_checks as checks
from gatedrnn.diagnostics import gru_trace


def _fails(match, function, *args, **kwargs):
    with pytest.raises(AssertionError, match=match):
        function(*args, **kwargs)


# --- quickstart-pin ------------------------------------------------------------------------------

def _movements(scale=3.0, exact=17):
    return {bias: 0.0 if bias >= exact else scale * math.exp(-bias) for bias in range(25)}


def test_pin_accepts_a_measurement_like_the_solutions_and_rejects_wrong_ones():
    checks.check_pin(_movements(), 9, 17)                            # 3 e^-9 < 1e-3 <= 3 e^-8
    _fails("expected 8 to 12", checks.check_pin, _movements(), 5, 17)
    _fails("first bias whose movement is below 1e-3", checks.check_pin, _movements(), 10, 17)
    slow = {bias: 0.0 if bias >= 17 else 3 * math.exp(-bias / 2) for bias in range(25)}
    _fails("expected 8 to 12", checks.check_pin, slow, 17, 17)
    halving = {bias: 0.0 if bias >= 17 else 1e-3 * 2.0 ** (9 - bias) for bias in range(25)}
    _fails("about -1", checks.check_pin, halving, 10, 17)              # slope -ln 2
    _fails("exactly 0", checks.check_pin, _movements(), 9, 18)        # the review's 18
    _fails("every bias from 0 to 24", checks.check_pin, {0: 1.0}, 9, 17)


def test_measured_numbers_must_match_the_reference():
    reference = {0: 1.3, 9: 3.5e-3, 17: 0.0}
    checks.check_measured("movements", {0: 1.3000001, 9: 3.5e-3, 17: 0.0}, reference)
    _fails(r"movements\[0\] = 3.0000e\+00: the statement's setting gives 1.3000e\+00",
           checks.check_measured, "movements", _movements(), reference)
    _fails("has no entry 17", checks.check_measured, "movements", {0: 1.3, 9: 3.5e-3}, reference)


# --- quickstart-reset-before ---------------------------------------------------------------------

def _step(X_t, H_prev, W, b, before=True):
    R = torch.sigmoid(X_t @ W["xr"] + b["xr"] + H_prev @ W["hr"] + b["hr"])
    Z = torch.sigmoid(X_t @ W["xz"] + b["xz"] + H_prev @ W["hz"] + b["hz"])
    if before:
        H_tilde = torch.tanh(X_t @ W["xh"] + b["xh"] + (R * H_prev) @ W["hh"] + b["hh"])
    else:
        H_tilde = torch.tanh(X_t @ W["xh"] + b["xh"] + R * (H_prev @ W["hh"] + b["hh"]))
    return Z * H_prev + (1 - Z) * H_tilde


def test_reset_before_step_passes_g3_prime_and_fails_g3():
    state = torch.get_rng_state()
    reference, X, H0 = checks.fresh_gru(2026)
    checks.check_reset_before_step(_step, reference, X, H0)
    assert torch.equal(state, torch.get_rng_state())           # the check drew nothing globally
    _fails(r"reset_after=False\)'s by .*below 1e-5", checks.check_reset_before_step,
           lambda *a: _step(*a, before=False), reference, X, H0)       # (G3), not (G3')
    _fails("below 1e-5", checks.check_reset_before_step,
           lambda X_t, H_prev, W, b: _step(X_t, H_prev, W, b) + 0.01, reference, X, H0)


# --- gru-step-forward ----------------------------------------------------------------------------

def _step_forward(gates_x, h_prev, weight_hh, bias_hh, reset_after=True):
    h = h_prev.shape[1]
    gates_h = h_prev @ weight_hh.T + bias_hh
    r = torch.sigmoid(gates_x[:, :h] + gates_h[:, :h])
    z = torch.sigmoid(gates_x[:, h:2 * h] + gates_h[:, h:2 * h])
    n = torch.tanh(gates_x[:, 2 * h:] + r * gates_h[:, 2 * h:]) if reset_after else torch.tanh(
        gates_x[:, 2 * h:] + (r * h_prev) @ weight_hh[2 * h:].T + bias_hh[2 * h:])
    return z * h_prev + (1 - z) * n


def test_step_forward_on_fresh_data():
    tensors = checks.fresh_step(37)
    checks.check_step_forward(_step_forward, *tensors)
    _fails("below 1e-12", checks.check_step_forward,
           lambda *a: _step_forward(*a, reset_after=False), *tensors)
    swapped = lambda g, h, w, b: _step_forward(g, h, w, b).flip(1)  # noqa: E731
    _fails("below 1e-12", checks.check_step_forward, swapped, *tensors)
    _fails("shape", checks.check_step_forward, lambda g, h, w, b: h[:1], *tensors)


# --- gru-one-gate --------------------------------------------------------------------------------

def _blocks(model):
    h = model.hidden_size
    W_x = model.weight_ih_l0.detach().T.split(h, dim=1)
    W_h = model.weight_hh_l0.detach().T.split(h, dim=1)
    return W_x, W_h, model.bias_ih_l0.detach().split(h), model.bias_hh_l0.detach().split(h)


def _only_reset(model, X, H0):
    (W_xr, _, W_xh), (W_hr, _, W_hh), (b_xr, _, b_xh), (b_hr, _, b_hh) = _blocks(model)
    H, states = H0[0], []
    for X_t in X:
        R = torch.sigmoid(X_t @ W_xr + b_xr + H @ W_hr + b_hr)
        H = torch.tanh(X_t @ W_xh + b_xh + R * (H @ W_hh + b_hh))
        states.append(H)
    return torch.stack(states)


def _only_update(model, X, H0, keep_reset=False):
    (W_xr, W_xz, W_xh), (W_hr, W_hz, W_hh), (b_xr, b_xz, b_xh), (b_hr, b_hz, b_hh) = _blocks(model)
    H, states = H0[0], []
    for X_t in X:
        Z = torch.sigmoid(X_t @ W_xz + b_xz + H @ W_hz + b_hz)
        R = torch.sigmoid(X_t @ W_xr + b_xr + H @ W_hr + b_hr) if keep_reset else 1
        H = Z * H + (1 - Z) * torch.tanh(X_t @ W_xh + b_xh + R * (H @ W_hh + b_hh))
        states.append(H)
    return torch.stack(states)


def test_one_gate_cells_against_the_pinned_gru():
    model, X, H0 = checks.fresh_gru64(42)
    checks.check_one_gate(_only_reset, _only_update, model, X, H0)
    _fails("only_update.*reset gate pinned to 1", checks.check_one_gate, _only_reset,
           lambda *a: _only_update(*a, keep_reset=True), model, X, H0)   # the full GRU
    _fails("only_reset.*update gate pinned to 0", checks.check_one_gate,
           lambda *a: _only_update(*a), _only_update, model, X, H0)     # (b) for (a)
    _fails("shape", checks.check_one_gate, lambda m, X, H0: _only_reset(m, X, H0)[:-1],
           _only_update, model, X, H0)                                   # H_0 .. H_(T-1) dropped


# --- gru-only-one-step ---------------------------------------------------------------------------

def _one_step_model(bias=30.0, reset=-30.0, w_hh=0.0, reads_value=True):
    one = gatedrnn.GRU(2, 1, dtype=torch.float64)
    with torch.no_grad():
        for parameter in one.parameters():
            parameter.zero_()
        one.bias_ih_l0[0] = reset
        one.bias_ih_l0[1] = bias
        one.weight_ih_l0[1, 1] = -2 * bias
        one.weight_ih_l0[2, 0] = 1.0 if reads_value else 0.0
        one.weight_hh_l0[2, 0] = w_hh
    return one


def test_one_step_model_needs_saturated_gates_and_a_candidate_that_ignores_the_past():
    checks.check_one_step_model(_one_step_model())
    checks.check_one_step_model(_one_step_model(reset=30.0))     # W_hh = b_hh = 0: R irrelevant
    checks.check_one_step_model(_one_step_model(reset=-30.0, w_hh=2.0))   # R = 0 shuts W_hh out
    _fails("below 1e-9", checks.check_one_step_model, _one_step_model(bias=5.0))  # leaks
    _fails("below 1e-9", checks.check_one_step_model, _one_step_model(reset=30.0, w_hh=2.0))
    _fails("more than 1e-3", checks.check_one_step_model, _one_step_model(reads_value=False))
    _fails("expected a gatedrnn.GRU", checks.check_one_step_model,
           gatedrnn.GRU(2, 3, dtype=torch.float64))


# --- gru-reset-before-backward -------------------------------------------------------------------

def _backward(V, X_t, H_prev, W, b, sign=1.0):
    R = torch.sigmoid(X_t @ W["xr"] + b["xr"] + H_prev @ W["hr"] + b["hr"])
    Z = torch.sigmoid(X_t @ W["xz"] + b["xz"] + H_prev @ W["hz"] + b["hz"])
    P = R * H_prev
    H_cand = torch.tanh(X_t @ W["xh"] + b["xh"] + P @ W["hh"] + b["hh"])
    dZ, dH_cand = V * (H_prev - H_cand), V * (1 - Z)
    dA_h = dH_cand * (1 - H_cand ** 2)
    dP = dA_h @ W["hh"].T
    dR = dP * H_prev
    dA_r, dA_z = dR * R * (1 - R), dZ * Z * (1 - Z)
    dH_prev = V * Z + sign * dP * R + dA_r @ W["hr"].T + dA_z @ W["hz"].T
    return dH_prev, P.T @ dA_h


def test_reset_before_backward_on_fresh_data():
    data = checks.fresh_backward(55)
    checks.check_reset_before_backward(_backward, *data)
    _fails("dH_prev differs", checks.check_reset_before_backward,
           lambda *a: _backward(*a, sign=-1.0), *data)                     # a sign error
    _fails("dW_hh differs", checks.check_reset_before_backward,
           lambda *a: (_backward(*a)[0], _backward(*a)[1].T), *data)       # transposed
    _fails("a pair", checks.check_reset_before_backward, lambda *a: _backward(*a)[0], *data)


# --- gru-rnn-gradients ---------------------------------------------------------------------------

def test_rnn_gradients_visible_and_measured():
    checks.check_rnn_gradients(3e-17, 2e-22)
    _fails("candidate_gap", checks.check_rnn_gradients, 0.2, 2e-22)
    _fails("gate_gradient", checks.check_rnn_gradients, 0.0, 0.05)   # gates left free
    model, X, H0 = checks.fresh_gru64(3)
    plain = checks._pinned(model, reset=1, update=0)
    reference = checks.pinned_gate_gradient(plain, X, H0)
    assert 0 < reference < 1e-12
    checks.check_measured("gate_gradient", {"max": reference * (1 + 1e-9)}, {"max": reference},
                          atol=0)
    _fails("gate_gradient", checks.check_measured, "gate_gradient", {"max": 0.0},
           {"max": reference}, atol=0)                                # typed-in zero


# --- gates-offset-sweep, gates-initial-state ------------------------------------------------------

def test_offset_sweep_and_initial_state():
    offsets = torch.arange(-4.0, 4.5, 1.0)
    errors = [0.15, 0.1, 0.05, 0.01, 0.002, 0.004, 0.05, 0.12, 0.2]
    checks.check_offset_sweep(offsets, errors, 0.0, 1 / 6)
    _fails("-4, -3", checks.check_offset_sweep, offsets[1:], errors[1:], 0.0, 1 / 6)
    _fails("expected the offset with the smallest error, 0", checks.check_offset_sweep,
           offsets, errors, 1.0, 1 / 6)
    _fails("above the baseline", checks.check_offset_sweep, offsets, errors[:-1] + [0.1], 0.0,
           1 / 6)
    good = {"H_0 = 0": 0.002, "small random H_0": 0.004, "random H_0": 0.05}
    checks.check_initial_state(good, 0.002)
    _fails("test error", checks.check_initial_state, good, 0.003)
    _fails("cost less", checks.check_initial_state, dict(good, **{"random H_0": 0.001}), 0.002)
    _fails("keys", checks.check_initial_state, {"zero": 0.002}, 0.002)


# --- gru-count-stack -----------------------------------------------------------------------------

def _count(d, h, layers):
    return 2 * 3 * (d * h + h * h + 2 * h) + 2 * (layers - 1) * 3 * (3 * h * h + 2 * h)


def test_stacked_count_visible_and_at_sizes_too_large_to_build():
    checks.check_gru_stacked_count(_count)
    checks.check_gru_stacked_count_formula(_count)
    one_direction = lambda d, h, layers: _count(d, h, layers) // 2   # noqa: E731
    _fails("torch.nn.GRU stores", checks.check_gru_stacked_count, one_direction)
    d_not_2h = lambda d, h, layers: 2 * 3 * (d * h + h * h + 2 * h) * layers  # noqa: E731
    _fails(r"stacked_count\(100, 100, 2\)", checks.check_gru_stacked_count, d_not_2h)
    # typed in for the visible sizes only: the hidden sizes catch it
    table = {(100, 100, 2): _count(100, 100, 2), (7, 5, 1): _count(7, 5, 1),
             (3, 8, 3): _count(3, 8, 3)}
    checks.check_gru_stacked_count(lambda *size: table[size])
    with pytest.raises(KeyError):
        checks.check_gru_stacked_count_formula(lambda *size: table[size])


def test_checkers_leave_the_global_random_state_alone():
    state = torch.get_rng_state()
    checks.check_gru_stacked_count(_count)
    checks.check_step_forward(_step_forward, *checks.fresh_step(1))
    model, X, H0 = checks.fresh_gru64(1)
    checks.check_one_gate(_only_reset, _only_update, model, X, H0)
    assert torch.equal(state, torch.get_rng_state())
    assert gru_trace is not None
