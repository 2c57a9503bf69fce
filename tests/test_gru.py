"""GRU specifics: parameter count, the reset-before variant, one step's backward, gradcheck."""
from functools import partial

import pytest
import torch

import gatedrnn
from gatedrnn import gru
from gatedrnn._recurrent import ManualBPTT


def test_parameter_count_matches_formula():
    for d, h in [(100, 100), (32, 128)]:
        count = sum(p.numel() for p in gatedrnn.GRU(d, h).parameters())
        assert count == 3 * (d * h + h * h + 2 * h)
    assert sum(p.numel() for p in gatedrnn.GRU(100, 100).parameters()) == 60_600


def test_reset_before_is_a_different_cell():
    """reset_after=False must not agree with torch.nn.GRU: the placement of R_t matters."""
    torch.manual_seed(0)
    reference = torch.nn.GRU(3, 4)
    ours = gatedrnn.GRU(3, 4, reset_after=False)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(6, 2, 3)
    assert (ours(x)[0] - reference(x)[0]).abs().max() > 1e-3


def _reset_before_reference(x, h0, weight_ih, weight_hh, bias_ih, bias_hh):
    """(G1), (G2), (G3'), (G4) written independently of gru.py, with the book's matrices."""
    h = h0.shape[1]
    W_xr, W_xz, W_xh = weight_ih.t().split(h, dim=1)
    W_hr, W_hz, W_hh = weight_hh.t().split(h, dim=1)
    b_xr, b_xz, b_xh = bias_ih.split(h)
    b_hr, b_hz, b_hh = bias_hh.split(h)
    H, outputs = h0, []
    for X in x:
        R = torch.sigmoid(X @ W_xr + b_xr + H @ W_hr + b_hr)
        Z = torch.sigmoid(X @ W_xz + b_xz + H @ W_hz + b_hz)
        candidate = torch.tanh(X @ W_xh + b_xh + (R * H) @ W_hh + b_hh)
        H = Z * H + (1 - Z) * candidate
        outputs.append(H)
    return torch.stack(outputs)


@pytest.mark.parametrize("bptt", ["autograd", "manual"])
def test_reset_before_matches_its_equations(bptt):
    torch.manual_seed(1)
    ours = gatedrnn.GRU(3, 4, reset_after=False, bptt=bptt, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64)
    output, _ = ours(x, h0)
    expected = _reset_before_reference(x, h0[0], *ours.layer_weights(0))
    torch.testing.assert_close(output, expected, atol=1e-12, rtol=0)
    got = torch.autograd.grad(output.sum(), [x, *ours.parameters()])
    want = torch.autograd.grad(expected.sum(), [x, *ours.parameters()])
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-12, rtol=0)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gradcheck_manual_path(reset_after):
    torch.manual_seed(0)
    steps, batch, d, h = 4, 2, 3, 3
    x = torch.randn(steps, batch, d, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(batch, h, dtype=torch.float64, requires_grad=True)
    weights = [torch.randn(3 * h, d, dtype=torch.float64, requires_grad=True) * 0.5,
               torch.randn(3 * h, h, dtype=torch.float64, requires_grad=True) * 0.5,
               torch.randn(3 * h, dtype=torch.float64, requires_grad=True),
               torch.randn(3 * h, dtype=torch.float64, requires_grad=True)]
    weights = [w.detach().requires_grad_(True) for w in weights]

    def manual(*args):
        return ManualBPTT.apply(partial(gru.gru_sequence, reset_after=reset_after),
                                gru.gru_sequence_backward, *args)

    assert torch.autograd.gradcheck(manual, (x, h0, *weights))


@pytest.mark.parametrize("reset_after", [True, False])
def test_step_backward_matches_autograd(reset_after):
    torch.manual_seed(0)
    n, h = 3, 4
    gates_x = torch.randn(n, 3 * h, dtype=torch.float64, requires_grad=True)
    h_prev = torch.randn(n, h, dtype=torch.float64, requires_grad=True)
    weight_hh = torch.randn(3 * h, h, dtype=torch.float64, requires_grad=True)
    bias_hh = torch.randn(3 * h, dtype=torch.float64, requires_grad=True)
    h_next, cache = gru.step_forward(gates_x, h_prev, weight_hh, bias_hh, reset_after)
    dh_next = torch.randn(n, h, dtype=torch.float64)
    want_gx, want_h, want_w, want_b = torch.autograd.grad(h_next, [gates_x, h_prev, weight_hh, bias_hh],
                                                          dh_next)
    dgates_x, dh_prev, dgates_h = gru.step_backward(dh_next, cache)
    torch.testing.assert_close(dgates_x, want_gx)
    torch.testing.assert_close(dh_prev, want_h)
    torch.testing.assert_close(dgates_h.sum(0), want_b)
    # dW_hh = dgates_h^T [H_{t-1} | H_{t-1} | candidate_input] block by block
    dweight_hh = torch.cat([dgates_h[:, :2 * h].t() @ h_prev,
                            dgates_h[:, 2 * h:].t() @ cache.candidate_input])
    torch.testing.assert_close(dweight_hh, want_w)
