"""GRU specifics: the reset-before variant (G3') is its own cell, and the layer runs it."""
import pytest
import torch

import book_equations as book
import gatedrnn


def test_reset_before_is_a_different_cell():
    """reset_after=False must not agree with torch.nn.GRU: the placement of R_t matters."""
    torch.manual_seed(0)
    reference = torch.nn.GRU(3, 4)
    ours = gatedrnn.GRU(3, 4, reset_after=False)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(6, 2, 3)
    assert (ours(x)[0] - reference(x)[0]).abs().max() > 1e-3


@pytest.mark.parametrize("bptt", ["autograd", "manual"])
def test_reset_before_layer_matches_its_equations(bptt):
    """The layer with reset_after=False against (G1), (G2), (G3'), (G4) by hand: outputs and
    the gradients of the input, the initial state and every parameter."""
    torch.manual_seed(1)
    ours = gatedrnn.GRU(3, 4, reset_after=False, bptt=bptt, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True)
    output, h_n = ours(x, h0)
    expected, h_last = book.run(lambda X, H, w: book.gru_step(X, H, w, reset_after=False), x,
                                h0[0], ours.layer_weights(0))
    torch.testing.assert_close(output, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(h_n[0], h_last, atol=1e-12, rtol=0)
    loss_weights = torch.linspace(-1, 1, output.numel(), dtype=torch.float64).view(output.shape)
    inputs = [x, h0, *ours.parameters()]
    got = torch.autograd.grad((loss_weights * output).sum(), inputs)
    want = torch.autograd.grad((loss_weights * expected).sum(), inputs)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-12, rtol=0)


def test_reset_after_chooses_the_step_pair():
    assert gatedrnn.GRU(2, 3).cell() == (gatedrnn.gru.step_forward, gatedrnn.gru.step_backward)
    assert gatedrnn.GRU(2, 3, reset_after=False).cell() == (
        gatedrnn.gru.step_forward_reset_before, gatedrnn.gru.step_backward_reset_before)
    assert "reset_after=False" in repr(gatedrnn.GRU(2, 3, reset_after=False))
