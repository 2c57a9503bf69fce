"""The diagnostics against autograd and the book's equations: state_gradients,
layer_state_gradients, rnn_gradient_norms, gru_trace, lstm_state_gradients."""
import pytest
import torch

import book_equations as book
import gatedrnn
from gatedrnn import bptt, gru, lstm, rnn
from gatedrnn.diagnostics import (
    gru_trace,
    layer_state_gradients,
    lstm_state_gradients,
    rnn_gradient_norms,
    state_gradients,
)
from gatedrnn.init import scaled_orthogonal


@pytest.mark.parametrize("module", [rnn, gru])
def test_state_gradients_match_autograd(module):
    torch.manual_seed(0)
    steps, n, d, h = 6, 2, 3, 4
    gates = 3 if module is gru else 1
    x = torch.randn(steps, n, d, dtype=torch.float64)
    h0 = torch.randn(n, h, dtype=torch.float64, requires_grad=True)
    weights = [torch.randn(gates * h, d, dtype=torch.float64),
               torch.randn(gates * h, h, dtype=torch.float64),
               torch.randn(gates * h, dtype=torch.float64),
               torch.randn(gates * h, dtype=torch.float64)]
    output, h_last, caches = bptt.run_sequence(module.step_forward, x, h0, *weights)
    direction = torch.randn(n, h, dtype=torch.float64)
    loss = (h_last * direction).sum()
    states = [cache.h_prev for cache in caches]          # H_0 ... H_{T-1}
    want = torch.autograd.grad(loss, states)
    got = state_gradients(module.step_backward, caches, direction)
    assert len(got) == steps + 1
    torch.testing.assert_close(got[0], direction)
    for k in range(1, steps + 1):                         # dL/dH_{T-k}
        torch.testing.assert_close(got[k], want[steps - k])


def test_state_gradients_needs_caches():
    with pytest.raises(ValueError, match="caches is empty"):
        state_gradients(rnn.step_backward, [], torch.zeros(1, 1))


@pytest.mark.parametrize("make", [
    lambda: torch.nn.GRU(3, 4, dtype=torch.float64),
    lambda: gatedrnn.GRU(3, 4, dtype=torch.float64),
    lambda: gatedrnn.GRU(3, 4, reset_after=False, dtype=torch.float64)])
def test_gru_trace_matches_the_equations_and_the_layer(make):
    torch.manual_seed(0)
    layer = make()
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64)
    trace = gru_trace(layer, x, h0)
    reset_after = getattr(layer, "reset_after", True)
    weights = gatedrnn.layer.layer_weights(layer)
    H, rows = h0[0], []
    for X in x:
        rows.append(book.gru_gates(X, H, weights, reset_after))
        H = rows[-1][-1]
    want = [torch.stack(column) for column in zip(*rows)]
    for got, expected in zip(trace, want):
        assert got.shape == (7, 2, 4)
        torch.testing.assert_close(got, expected)
    with torch.no_grad():
        torch.testing.assert_close(trace.hidden, layer(x, h0)[0])
    assert not trace.update_gate.requires_grad


def test_gru_trace_batch_first_and_unbatched():
    torch.manual_seed(1)
    layer = gatedrnn.GRU(2, 5, batch_first=True)
    x = torch.randn(3, 6, 2)                              # (N, L, d)
    trace = gru_trace(layer, x)
    assert trace.reset_gate.shape == (3, 6, 5)
    with torch.no_grad():
        torch.testing.assert_close(trace.hidden, layer(x)[0])
    one = gru_trace(layer, x[1])                          # (L, d): one sequence
    assert one.update_gate.shape == (6, 5)
    torch.testing.assert_close(one.update_gate, trace.update_gate[1])


def test_gru_trace_rejects_what_it_cannot_trace():
    with pytest.raises(ValueError, match="one layer and one direction"):
        gru_trace(gatedrnn.GRU(2, 3, num_layers=2), torch.zeros(4, 1, 2))
    with pytest.raises(TypeError, match="3 gate blocks"):
        gru_trace(gatedrnn.RNN(2, 3), torch.zeros(4, 1, 2))
    with pytest.raises(TypeError, match="gatedrnn.GRU or torch.nn.GRU"):
        gru_trace(torch.nn.Linear(2, 3), torch.zeros(4, 1, 2))
    with pytest.raises(ValueError, match="input_size 2, the input has 5"):
        gru_trace(gatedrnn.GRU(2, 3), torch.zeros(4, 1, 5))
    with pytest.raises(ValueError, match="rank 3 or 2"):
        gru_trace(gatedrnn.GRU(2, 3), torch.zeros(4))
    with pytest.raises(TypeError, match="torch.Tensor"):
        gru_trace(gatedrnn.GRU(2, 3), [[0.0, 0.0]])
    with pytest.raises(ValueError, match=r"hx of shape \(1, 1, 3\)"):
        gru_trace(gatedrnn.GRU(2, 3), torch.zeros(4, 1, 2), torch.zeros(1, 3))


@pytest.mark.parametrize("spectral_norm", [0.7, 1.3])
def test_rnn_gradient_norms_are_exact_for_a_linear_network(spectral_norm):
    """Identity phi and W_hh = s * orthogonal: every step multiplies every gradient row by an
    s-scaled orthogonal matrix, so ||dL/dH_{T-k}|| = s^k exactly (the (B5) bound, attained)."""
    weight_hh = scaled_orthogonal(6, spectral_norm, generator=torch.Generator().manual_seed(1))
    norms = rnn_gradient_norms(weight_hh, "identity", steps=30, batch=4, seed=2)
    want = spectral_norm ** torch.arange(31, dtype=torch.float64)
    torch.testing.assert_close(norms, want, rtol=1e-10, atol=0)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_gradient_norms_stay_under_the_bound(nonlinearity):
    """(B5): with tanh or relu (gamma = 1), ||dL/dH_{T-k}|| <= sigma_max^k; tanh strictly
    below it, because its derivative is below 1 wherever a unit is away from zero."""
    weight_hh = scaled_orthogonal(8, 1.2, generator=torch.Generator().manual_seed(3))
    norms = rnn_gradient_norms(weight_hh, nonlinearity, steps=25, batch=5, seed=4)
    bound = 1.2 ** torch.arange(26, dtype=torch.float64)
    assert norms[0].item() == pytest.approx(1.0)
    assert (norms <= bound * (1 + 1e-12)).all()
    if nonlinearity == "tanh":
        assert norms[-1] < 0.5 * bound[-1]


def test_rnn_gradient_norms_reads_its_seed():
    weight_hh = scaled_orthogonal(5, 1.1, generator=torch.Generator().manual_seed(1))
    first, again = (rnn_gradient_norms(weight_hh, steps=10, seed=0) for _ in range(2))
    assert torch.equal(first, again)
    assert not torch.equal(first, rnn_gradient_norms(weight_hh, steps=10, seed=1))


def test_rnn_gradient_norms_rejects_bad_input():
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        rnn_gradient_norms(torch.eye(3), "sigmoid")
    with pytest.raises(ValueError, match=r"square \(h, h\) matrix, got shape \(2, 3\)"):
        rnn_gradient_norms(torch.zeros(2, 3))
    with pytest.raises(TypeError, match="torch.Tensor, got list"):
        rnn_gradient_norms([[1.0]])


@pytest.mark.parametrize("make", [lambda: gatedrnn.RNN(2, 4, dtype=torch.float64),
                                  lambda: gatedrnn.GRU(2, 4, dtype=torch.float64),
                                  lambda: gatedrnn.GRU(2, 4, reset_after=False,
                                                       dtype=torch.float64)])
def test_layer_state_gradients_match_autograd(make):
    torch.manual_seed(5)
    layer = make()
    x = torch.randn(6, 3, 2, dtype=torch.float64)
    dh_last = torch.randn(3, 4, dtype=torch.float64)
    norms, caches = layer_state_gradients(layer, x, dh_last)
    assert len(caches) == 6 and norms.shape == (7,)
    # autograd: the gradient of <H_T, dh_last> with respect to each H_t, via an initial state
    # at every step (run the layer from H_t for the remaining steps).
    with torch.no_grad():
        states = [torch.zeros(3, 4, dtype=torch.float64)] + list(layer(x)[0])
    for k in range(7):
        t = 6 - k
        start = states[t].clone().requires_grad_(True)
        final = layer(x[t:], start[None])[1][0] if t < 6 else start
        (grad,) = torch.autograd.grad((final * dh_last).sum(), start)
        assert norms[k].item() == pytest.approx(grad.norm(dim=1).mean().item(), rel=1e-10)


def test_layer_state_gradients_rejects_bad_input():
    with pytest.raises(TypeError, match="gatedrnn.RNN or gatedrnn.GRU"):
        layer_state_gradients(torch.nn.GRU(2, 3), torch.zeros(4, 1, 2), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="one layer and one direction"):
        layer_state_gradients(gatedrnn.RNN(2, 3, num_layers=2), torch.zeros(4, 1, 2),
                              torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"time-major \(T, n, 2\)"):
        layer_state_gradients(gatedrnn.RNN(2, 3), torch.zeros(4, 2), torch.zeros(1, 3))


def _run_with_autograd(T=7, n=3, d=2, h=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    kw = dict(generator=generator, dtype=torch.float64)
    x = torch.randn(T, n, d, **kw)
    weight_ih = torch.randn(4 * h, d, **kw) * 0.8
    weight_hh = torch.randn(4 * h, h, **kw) * 0.8
    bias_ih, bias_hh = torch.randn(4 * h, **kw), torch.randn(4 * h, **kw)
    h0 = torch.randn(n, h, **kw).tanh().requires_grad_(True)
    c0 = torch.randn(n, h, **kw).requires_grad_(True)
    gates_x = x @ weight_ih.t() + bias_ih
    hs, cs, caches = [h0], [c0], []
    state = (h0, c0)
    for t in range(T):
        state, cache = lstm.step_forward(gates_x[t], state, weight_hh, bias_hh)
        for tensor in state:
            tensor.retain_grad()
        hs.append(state[0])
        cs.append(state[1])
        caches.append(cache)
    return hs, cs, caches, generator


@pytest.mark.parametrize("with_dc_last", [False, True])
def test_lstm_state_gradients_match_autograd(with_dc_last):
    hs, cs, caches, generator = _run_with_autograd()
    v = torch.randn(hs[-1].shape, generator=generator, dtype=torch.float64)
    u = torch.randn(hs[-1].shape, generator=generator, dtype=torch.float64)
    loss = (hs[-1] * v).sum() + ((cs[-1] * u).sum() if with_dc_last else 0)
    loss.backward()
    dh_list, dc_list = lstm_state_gradients(caches, v,
                                            u if with_dc_last else None)
    T = len(caches)
    assert len(dh_list) == len(dc_list) == T + 1
    for k in range(T + 1):
        t = T - k
        torch.testing.assert_close(dh_list[k], hs[t].grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(dc_list[k], cs[t].grad, rtol=1e-10, atol=1e-12)
    # the path through H_{t-1} matters: the carry path alone is not the total derivative
    _, (_, carry_only), _, _ = lstm.step_backward((dh_list[0], torch.zeros_like(v)), caches[-1])
    assert (carry_only - cs[T - 1].grad).abs().max() > 1e-3


def test_lstm_state_gradients_rejects_empty_and_foreign_caches():
    with pytest.raises(ValueError, match="empty"):
        lstm_state_gradients([], torch.zeros(1, 2))
    x = torch.randn(3, 1, 2)
    _, _, caches = bptt.run_sequence(gru.step_forward, x, torch.zeros(1, 2), torch.randn(6, 2),
                                     torch.randn(6, 2), torch.zeros(6), torch.zeros(6))
    with pytest.raises(TypeError, match="caches of an LSTM step.*got GRUCache"):
        lstm_state_gradients(caches, torch.zeros(1, 2))
