"""The plain RNN as the GRU with its gates pinned: (G3)-(G4) with Z_t = 0, R_t = 1 are (R1)."""
import pytest
import torch

import gatedrnn


@pytest.mark.parametrize("bptt", ["autograd", "manual"])
@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_with_update_gate_0_and_reset_gate_1_is_an_rnn(reset_after, bptt):
    torch.manual_seed(0)
    d, h = 3, 5
    gru = gatedrnn.GRU(d, h, reset_after=reset_after, bptt=bptt, dtype=torch.float64)
    with torch.no_grad():
        gru.bias_ih_l0[:h] = 1e4          # reset gate: sigma(+1e4) = 1 exactly in float64
        gru.bias_ih_l0[h:2 * h] = -1e4    # update gate: sigma(-1e4) = 0 exactly
    plain = gatedrnn.RNN(d, h, bptt=bptt, dtype=torch.float64)
    with torch.no_grad():
        for name, parameter in plain.named_parameters():
            parameter.copy_(getattr(gru, name)[2 * h:])    # the candidate's block
    x = torch.randn(7, 2, d, dtype=torch.float64)
    h0 = torch.randn(1, 2, h, dtype=torch.float64)
    for got, want in zip(gru(x, h0), plain(x, h0)):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
    # ... and so are the candidate block's gradients
    gru(x, h0)[0].sum().backward()
    plain(x, h0)[0].sum().backward()
    for name, parameter in plain.named_parameters():
        torch.testing.assert_close(getattr(gru, name).grad[2 * h:], parameter.grad,
                                   atol=1e-12, rtol=0)
