"""state_gradients against autograd's gradient with respect to each hidden state."""
import pytest
import torch

from gatedrnn import gru, rnn
from gatedrnn.diagnostics import state_gradients


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
