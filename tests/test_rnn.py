"""RNN specifics: one step's backward, gradcheck of the manual path, and the GRU that is an RNN."""
from functools import partial

import pytest
import torch

import gatedrnn
from gatedrnn import rnn
from gatedrnn._recurrent import ManualBPTT


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_step_backward_matches_autograd(nonlinearity):
    torch.manual_seed(0)
    n, h = 3, 4
    gates_x = torch.randn(n, h, dtype=torch.float64, requires_grad=True)
    h_prev = torch.randn(n, h, dtype=torch.float64, requires_grad=True)
    weight_hh = torch.randn(h, h, dtype=torch.float64, requires_grad=True)
    bias_hh = torch.randn(h, dtype=torch.float64, requires_grad=True)
    h_next, cache = rnn.step_forward(gates_x, h_prev, weight_hh, bias_hh, nonlinearity)
    dh_next = torch.randn(n, h, dtype=torch.float64)
    want = torch.autograd.grad(h_next, [gates_x, h_prev, weight_hh, bias_hh], dh_next)
    dgates_x, dh_prev, dgates_h = rnn.step_backward(dh_next, cache)
    torch.testing.assert_close(dgates_x, want[0])
    torch.testing.assert_close(dh_prev, want[1])
    torch.testing.assert_close(dgates_h.t() @ h_prev, want[2])
    torch.testing.assert_close(dgates_h.sum(0), want[3])


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_gradcheck_manual_path(nonlinearity):
    torch.manual_seed(0)
    steps, batch, d, h = 5, 2, 3, 4
    tensors = [torch.randn(steps, batch, d), torch.randn(batch, h), torch.randn(h, d) * 0.5,
               torch.randn(h, h) * 0.5, torch.randn(h), torch.randn(h)]
    tensors = [t.double().requires_grad_(True) for t in tensors]

    def manual(*args):
        return ManualBPTT.apply(partial(rnn.rnn_sequence, nonlinearity=nonlinearity),
                                rnn.rnn_sequence_backward, *args)

    assert torch.autograd.gradcheck(manual, tuple(tensors))


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_with_update_gate_0_and_reset_gate_1_is_an_rnn(reset_after):
    """(G3)-(G4) with Z_t = 0 and R_t = 1 are (R1) with the candidate's weights."""
    torch.manual_seed(0)
    d, h = 3, 5
    gru = gatedrnn.GRU(d, h, reset_after=reset_after, dtype=torch.float64)
    with torch.no_grad():
        gru.bias_ih_l0[:h] = 1e4          # reset gate: sigma(+1e4) = 1 exactly in float64
        gru.bias_ih_l0[h:2 * h] = -1e4    # update gate: sigma(-1e4) = 0 exactly
    plain = gatedrnn.RNN(d, h, dtype=torch.float64)
    with torch.no_grad():
        plain.weight_ih_l0.copy_(gru.weight_ih_l0[2 * h:])
        plain.weight_hh_l0.copy_(gru.weight_hh_l0[2 * h:])
        plain.bias_ih_l0.copy_(gru.bias_ih_l0[2 * h:])
        plain.bias_hh_l0.copy_(gru.bias_hh_l0[2 * h:])
    x = torch.randn(7, 2, d, dtype=torch.float64)
    h0 = torch.randn(1, 2, h, dtype=torch.float64)
    for got, want in zip(gru(x, h0), plain(x, h0)):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


def test_identity_step_is_linear_and_unknown_nonlinearities_fail():
    torch.manual_seed(3)
    h_prev, gates_x = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    weight_hh, bias = torch.randn(4, 4, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    h_next, cache = rnn.step_forward(gates_x, h_prev, weight_hh, bias, "identity")
    torch.testing.assert_close(h_next, gates_x + h_prev @ weight_hh.t() + bias)
    upstream = torch.randn(2, 4, dtype=torch.float64)
    _, dh_prev, _ = rnn.step_backward(upstream, cache)
    torch.testing.assert_close(dh_prev, upstream @ weight_hh)
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        rnn.step_forward(gates_x, h_prev, weight_hh, bias, "sigmoid")
