import pytest
import torch

from gatedrnn import gradients
from gatedrnn.diagnostics import rnn_gradient_norms
from gatedrnn.init import scaled_orthogonal


def _setup(nonlinearity, seed=0, T=7, n=3, d=2, h=5):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, n, d, generator=g, dtype=torch.float64)
    h0 = torch.randn(n, h, generator=g, dtype=torch.float64)
    weight_ih = torch.randn(h, d, generator=g, dtype=torch.float64)
    weight_hh = 0.6 * torch.randn(h, h, generator=g, dtype=torch.float64)
    dh_last = torch.randn(n, h, generator=g, dtype=torch.float64)
    return x, h0, weight_ih, weight_hh, dh_last


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "identity"])
def test_contributions_sum_to_the_autograd_gradient(nonlinearity):
    x, h0, weight_ih, weight_hh, dh_last = _setup(nonlinearity)
    contributions = gradients.weight_gradient_contributions(x, h0, weight_ih, weight_hh, dh_last,
                                                            nonlinearity)
    assert contributions.shape == (7, 5, 5)
    W_hh = weight_hh.T.clone().requires_grad_(True)          # the book's layout
    phi = {"tanh": torch.tanh, "relu": torch.relu, "identity": lambda a: a}[nonlinearity]
    H = h0
    for t in range(len(x)):
        H = phi(x[t] @ weight_ih.T + H @ W_hh)
    (expected,) = torch.autograd.grad((H * dh_last).sum(), W_hh)
    assert torch.allclose(contributions.sum(0), expected, atol=1e-12)


def test_last_step_contribution_is_the_one_step_gradient():
    x, h0, weight_ih, weight_hh, dh_last = _setup("tanh")
    contributions = gradients.weight_gradient_contributions(x, h0, weight_ih, weight_hh, dh_last)
    # drop the first 6 steps' influence: with T = 1 the only term is H_0^T dL/dA_1
    one = gradients.weight_gradient_contributions(x[:1], h0, weight_ih, weight_hh, dh_last)
    assert one.shape == (1, 5, 5)
    H1 = torch.tanh(x[0] @ weight_ih.T + h0 @ weight_hh.T)
    assert torch.allclose(one[0], h0.T @ (dh_last * (1 - H1 ** 2)), atol=1e-12)
    assert not torch.allclose(contributions[0], one[0])


def test_temporal_contributions_use_the_rnn_gradient_norms_setup():
    W = scaled_orthogonal(16, 1.1, generator=torch.Generator().manual_seed(0))
    contributions = gradients.temporal_contributions(W, "tanh", steps=20, batch=4)
    assert contributions.shape == (20, 16, 16)
    # the draws of rnn_gradient_norms, in its order: input weights, inputs, dL/dH_T
    g = torch.Generator().manual_seed(0)
    weight_ih = torch.randn(16, 4, generator=g, dtype=torch.float64)
    x = torch.randn(20, 4, 4, generator=g, dtype=torch.float64)
    dh_last = torch.randn(4, 16, generator=g, dtype=torch.float64)
    dh_last /= dh_last.norm(dim=1, keepdim=True)
    expected = gradients.weight_gradient_contributions(x, torch.zeros(4, 16, dtype=torch.float64),
                                                       0.5 * weight_ih, W, dh_last)
    assert torch.allclose(contributions, expected)
    # and the gradient norms along the way are the ones rnn_gradient_norms reports
    norms = rnn_gradient_norms(W, "tanh", steps=20, batch=4)
    assert norms.shape == (21,) and norms[0] == pytest.approx(1.0)


def test_long_range_share_and_errors():
    contributions = torch.zeros(5, 2, 2, dtype=torch.float64)
    contributions[0] = torch.eye(2)
    contributions[3] = 0.5 * torch.eye(2)
    assert gradients.long_range_share(contributions, 0) == pytest.approx(1.0)
    assert gradients.long_range_share(contributions, 2) == pytest.approx(0.5 / 1.5)
    with pytest.raises(ValueError, match="distance"):
        gradients.long_range_share(contributions, 6)
    with pytest.raises(ValueError, match="square"):
        gradients.temporal_contributions(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="time-major"):
        gradients.weight_gradient_contributions(torch.zeros(3, 4), torch.zeros(1, 2),
                                                torch.zeros(2, 4), torch.zeros(2, 2),
                                                torch.zeros(1, 2))
