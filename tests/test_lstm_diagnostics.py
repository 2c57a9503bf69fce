"""lstm_state_gradients against autograd's gradients of every H_t and C_t."""
import pytest
import torch

from gatedrnn import gru, lstm
from gatedrnn.diagnostics import lstm_state_gradients


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
def test_matches_autograd(with_dc_last):
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
    _, (_, carry_only), _ = lstm.step_backward((dh_list[0], torch.zeros_like(v)), caches[-1])
    assert (carry_only - cs[T - 1].grad).abs().max() > 1e-3


def test_rejects_empty_and_foreign_caches():
    with pytest.raises(ValueError, match="empty"):
        lstm_state_gradients([], torch.zeros(1, 2))
    x = torch.randn(3, 1, 2)
    _, _, caches = gru.gru_sequence(x, torch.zeros(1, 2), torch.randn(6, 2), torch.randn(6, 2),
                                    torch.zeros(6), torch.zeros(6))
    with pytest.raises(TypeError, match="lstm_sequence"):
        lstm_state_gradients(caches, torch.zeros(1, 2))
