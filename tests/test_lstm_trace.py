"""lstm_trace against (L1)-(L6) computed directly, and against the layer's own output."""
import pytest
import torch

import gatedrnn
from gatedrnn.diagnostics import LSTMTrace, lstm_trace


def _by_hand(x, h0, c0, layer):
    # (L1)-(L6) written out with the book's matrices, one step at a time.
    h = layer.hidden_size
    W_x = layer.weight_ih_l0.detach().T.split(h, dim=1)      # W_xi, W_xf, W_xc, W_xo
    W_h = layer.weight_hh_l0.detach().T.split(h, dim=1)
    b = (layer.bias_ih_l0 + layer.bias_hh_l0).detach().split(h)
    H, C = h0, c0
    rows = {name: [] for name in LSTMTrace._fields}
    for X in x:
        I = torch.sigmoid(X @ W_x[0] + H @ W_h[0] + b[0])
        F = torch.sigmoid(X @ W_x[1] + H @ W_h[1] + b[1])
        C_cand = torch.tanh(X @ W_x[2] + H @ W_h[2] + b[2])
        O = torch.sigmoid(X @ W_x[3] + H @ W_h[3] + b[3])
        C = F * C + I * C_cand
        H = O * torch.tanh(C)
        for name, value in zip(LSTMTrace._fields, (I, F, C_cand, O, C, H)):
            rows[name].append(value)
    return LSTMTrace(*(torch.stack(rows[name]) for name in LSTMTrace._fields))


@pytest.mark.parametrize("make", [lambda: torch.nn.LSTM(3, 4, dtype=torch.float64),
                                  lambda: gatedrnn.LSTM(3, 4, dtype=torch.float64)])
def test_lstm_trace_matches_the_equations_and_the_layer(make):
    torch.manual_seed(0)
    layer = make()
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64)
    c0 = torch.randn(1, 2, 4, dtype=torch.float64)
    trace = lstm_trace(layer, x, (h0, c0))
    want = _by_hand(x, h0[0], c0[0], layer)
    for got, expected in zip(trace, want):
        assert got.shape == (7, 2, 4)
        torch.testing.assert_close(got, expected)
    with torch.no_grad():
        output, (h_n, c_n) = layer(x, (h0, c0))
    torch.testing.assert_close(trace.hidden, output)
    torch.testing.assert_close(trace.cell[-1], c_n[0])
    assert not trace.forget_gate.requires_grad


def test_lstm_trace_batch_first_unbatched_and_no_bias():
    torch.manual_seed(1)
    layer = gatedrnn.LSTM(2, 5, batch_first=True)
    x = torch.randn(3, 6, 2)                              # (N, L, d)
    trace = lstm_trace(layer, x)
    assert trace.input_gate.shape == (3, 6, 5)
    with torch.no_grad():
        output, (_, c_n) = layer(x)
    torch.testing.assert_close(trace.hidden, output)
    torch.testing.assert_close(trace.cell[:, -1], c_n[0])
    one = lstm_trace(layer, x[1])                         # (L, d): one sequence
    assert one.forget_gate.shape == (6, 5)
    torch.testing.assert_close(one.cell, trace.cell[1])
    plain = torch.nn.LSTM(2, 3, bias=False)
    with torch.no_grad():
        torch.testing.assert_close(lstm_trace(plain, x[0]).hidden, plain(x[0])[0])


def test_lstm_trace_rejects_what_it_cannot_trace():
    with pytest.raises(ValueError, match="one layer and one direction"):
        lstm_trace(gatedrnn.LSTM(2, 3, num_layers=2), torch.zeros(4, 1, 2))
    with pytest.raises(TypeError, match="4 gate blocks"):
        lstm_trace(gatedrnn.GRU(2, 3), torch.zeros(4, 1, 2))
    with pytest.raises(TypeError, match="gatedrnn.LSTM or torch.nn.LSTM"):
        lstm_trace(torch.nn.Linear(2, 3), torch.zeros(4, 1, 2))
    with pytest.raises(ValueError, match="input_size 2, the input has 5"):
        lstm_trace(gatedrnn.LSTM(2, 3), torch.zeros(4, 1, 5))
    with pytest.raises(ValueError, match="rank 3 or 2"):
        lstm_trace(gatedrnn.LSTM(2, 3), torch.zeros(4))
    with pytest.raises(ValueError, match="hx of shape"):
        lstm_trace(gatedrnn.LSTM(2, 3), torch.zeros(4, 1, 2), (torch.zeros(1, 2, 3), None))
    with pytest.raises(TypeError, match="pair"):
        lstm_trace(gatedrnn.LSTM(2, 3), torch.zeros(4, 1, 2), torch.zeros(1, 1, 3))
    with pytest.raises(ValueError, match="projections"):
        lstm_trace(torch.nn.LSTM(2, 3, proj_size=2), torch.zeros(4, 1, 2))
