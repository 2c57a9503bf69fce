"""state_gradients against autograd's gradient with respect to each hidden state; gru_trace
against the equations and the layer."""
import pytest
import torch

import gatedrnn
from gatedrnn import gru, rnn
from gatedrnn.diagnostics import gru_trace, state_gradients


@pytest.mark.parametrize("module, sequence", [(rnn, rnn.rnn_sequence), (gru, gru.gru_sequence)])
def test_state_gradients_match_autograd(module, sequence):
    torch.manual_seed(0)
    steps, n, d, h = 6, 2, 3, 4
    gates = 3 if module is gru else 1
    x = torch.randn(steps, n, d, dtype=torch.float64)
    h0 = torch.randn(n, h, dtype=torch.float64, requires_grad=True)
    weights = [torch.randn(gates * h, d, dtype=torch.float64),
               torch.randn(gates * h, h, dtype=torch.float64),
               torch.randn(gates * h, dtype=torch.float64),
               torch.randn(gates * h, dtype=torch.float64)]
    output, h_last, caches = sequence(x, h0, *weights)
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


def _gates_by_hand(x, h0, layer):
    """R_t, Z_t, H~_t, H_t from (G1)-(G4) (or (G3')) with the book's matrices, time-major x."""
    h = layer.hidden_size
    W_xr, W_xz, W_xh = layer.weight_ih_l0.t().split(h, dim=1)
    W_hr, W_hz, W_hh = layer.weight_hh_l0.t().split(h, dim=1)
    b_xr, b_xz, b_xh = layer.bias_ih_l0.split(h)
    b_hr, b_hz, b_hh = layer.bias_hh_l0.split(h)
    H, rows = h0, []
    for X in x:
        R = torch.sigmoid(X @ W_xr + b_xr + H @ W_hr + b_hr)
        Z = torch.sigmoid(X @ W_xz + b_xz + H @ W_hz + b_hz)
        if getattr(layer, "reset_after", True):
            candidate = torch.tanh(X @ W_xh + b_xh + R * (H @ W_hh + b_hh))
        else:
            candidate = torch.tanh(X @ W_xh + b_xh + (R * H) @ W_hh + b_hh)
        H = Z * H + (1 - Z) * candidate
        rows.append((R, Z, candidate, H))
    return [torch.stack(column) for column in zip(*rows)]


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
    want = _gates_by_hand(x, h0[0], layer)
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
    with pytest.raises(ValueError, match="3 gate blocks"):
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


def test_scaled_orthogonal_has_every_singular_value_at_the_asked_norm():
    generator = torch.Generator().manual_seed(0)
    matrix = gatedrnn.diagnostics.scaled_orthogonal(6, 1.3, generator=generator)
    torch.testing.assert_close(torch.linalg.svdvals(matrix), torch.full((6,), 1.3,
                                                                        dtype=torch.float64))
    with pytest.raises(ValueError, match="spectral_norm must be >= 0"):
        gatedrnn.diagnostics.scaled_orthogonal(3, -1.0)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "identity"])
def test_rnn_gradient_norms_match_autograd(nonlinearity):
    """Rebuild the measured setting with autograd and compare ||dL/dH_{T-k}|| for every k."""
    from gatedrnn.diagnostics import rnn_gradient_norms
    hidden, steps, batch, input_size, scale, seed = 5, 12, 3, 4, 0.5, 7
    weight_hh = gatedrnn.diagnostics.scaled_orthogonal(
        hidden, 1.1, generator=torch.Generator().manual_seed(1))
    got = rnn_gradient_norms(weight_hh, nonlinearity, steps=steps, batch=batch,
                             input_size=input_size, input_scale=scale, seed=seed)
    generator = torch.Generator().manual_seed(seed)  # the same draws, in the same order
    weight_ih = torch.randn(hidden, input_size, generator=generator, dtype=torch.float64)
    x = torch.randn(steps, batch, input_size, generator=generator, dtype=torch.float64)
    direction = torch.randn(batch, hidden, generator=generator, dtype=torch.float64)
    direction /= direction.norm(dim=1, keepdim=True)
    phi = {"tanh": torch.tanh, "relu": torch.relu, "identity": lambda a: a}[nonlinearity]
    states = [torch.zeros(batch, hidden, dtype=torch.float64, requires_grad=True)]
    for t in range(steps):
        states[-1].retain_grad()
        states.append(phi(x[t] @ (scale * weight_ih).t() + states[-1] @ weight_hh.t()))
    states[-1].retain_grad()
    (states[-1] * direction).sum().backward()  # dL/dH_T = direction, a unit vector per row
    want = torch.stack([states[steps - k].grad.norm(dim=1).mean() for k in range(steps + 1)])
    torch.testing.assert_close(got, want)
    assert got[0].item() == pytest.approx(1.0)


def test_rnn_gradient_norms_rejects_bad_input():
    from gatedrnn.diagnostics import rnn_gradient_norms
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        rnn_gradient_norms(torch.eye(3), "sigmoid")
    with pytest.raises(ValueError, match=r"square \(h, h\) tensor, got torch.Size\(\[2, 3\]\)"):
        rnn_gradient_norms(torch.zeros(2, 3))


@pytest.mark.parametrize("make", [lambda: gatedrnn.RNN(2, 4, dtype=torch.float64),
                                  lambda: gatedrnn.GRU(2, 4, dtype=torch.float64),
                                  lambda: gatedrnn.GRU(2, 4, reset_after=False,
                                                       dtype=torch.float64)])
def test_layer_state_gradients_match_autograd(make):
    from gatedrnn.diagnostics import layer_state_gradients
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
    from gatedrnn.diagnostics import layer_state_gradients
    with pytest.raises(TypeError, match="gatedrnn.RNN or gatedrnn.GRU"):
        layer_state_gradients(torch.nn.GRU(2, 3), torch.zeros(4, 1, 2), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="one layer and one direction"):
        layer_state_gradients(gatedrnn.RNN(2, 3, num_layers=2), torch.zeros(4, 1, 2),
                              torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"time-major \(T, n, 2\)"):
        layer_state_gradients(gatedrnn.RNN(2, 3), torch.zeros(4, 2), torch.zeros(1, 3))
