r"""The recurrent weight's gradient split into its contributions over time.

With the loss on the last state alone, (B3) of the book writes

    dL/dW_hh = sum_t H_{t-1}^T dL/dA_t,

and the term of step t is the *temporal contribution* of Pascanu, Mikolov & Bengio (2013): it
has travelled back T - t steps through (B4). "Vanishing" means that the long-range terms are
swamped by the short-range ones, not that the sum is small; these functions measure that.
"""
import torch

from . import rnn


def weight_gradient_contributions(x, h0, weight_ih, weight_hh, dh_last, nonlinearity="tanh"):
    """The terms of (B3) for dL/dW_hh when the loss depends on H_T alone.

    x: time-major input (T, n, d); h0: (n, h); weight_ih (h, d) and weight_hh (h, h) in
    torch.nn.RNN's layout (W_xh^T, W_hh^T), no biases; dh_last: dL/dH_T, (n, h).
    Returns a (T, h, h) tensor whose element k is the contribution of step T - k,
    H_{T-k-1}^T dL/dA_{T-k}, in the book's layout (the shape of W_hh): its sum over k is
    dL/dW_hh.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError(f"x must be a time-major tensor (T, n, d), got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    if dh_last.shape != h0.shape:
        raise ValueError(f"dh_last must have the shape of h0 {tuple(h0.shape)}, got "
                         f"{tuple(dh_last.shape)}")
    zeros = weight_hh.new_zeros(weight_hh.shape[0])
    with torch.no_grad():
        gates_x = x @ weight_ih.T                              # X_t W_xh for every step at once
        H, caches = h0, []
        for t in range(x.shape[0]):                            # (R1), step by step
            H, cache = rnn.step_forward(gates_x[t], H, weight_hh, zeros, nonlinearity)
            caches.append(cache)
        contributions, dH = [], dh_last
        for cache in reversed(caches):
            backward = rnn.step_backward(dH, cache)
            dA, dH = backward[0], backward[1]                  # (B2), then (B1)
            contributions.append(cache.h_prev.T @ dA)          # H_{t-1}^T dL/dA_t, a term of (B3)
    return torch.stack(contributions)


def temporal_contributions(weight_hh, nonlinearity="tanh", *, steps=100, batch=32, input_size=4,
                           input_scale=0.5, seed=0):
    """`weight_gradient_contributions` in the set-up of `diagnostics.rnn_gradient_norms`.

    The same seeded random inputs, input weights and unit dL/dH_T per sequence, so the two
    measurements can be read side by side. weight_hh: (h, h) in torch's layout (W_hh^T).
    Returns (T, h, h), element k the contribution of the step k steps before the loss.
    """
    if not isinstance(weight_hh, torch.Tensor) or weight_hh.dim() != 2 \
            or weight_hh.shape[0] != weight_hh.shape[1]:
        raise ValueError(f"weight_hh must be a square (h, h) tensor, got "
                         f"{getattr(weight_hh, 'shape', type(weight_hh).__name__)}")
    hidden = weight_hh.shape[0]
    generator = torch.Generator().manual_seed(seed)
    weight_ih = torch.randn(hidden, input_size, generator=generator, dtype=torch.float64)
    x = torch.randn(steps, batch, input_size, generator=generator, dtype=torch.float64)
    dh_last = torch.randn(batch, hidden, generator=generator, dtype=torch.float64)
    dh_last /= dh_last.norm(dim=1, keepdim=True)
    h0 = torch.zeros(batch, hidden, dtype=torch.float64)
    return weight_gradient_contributions(x, h0, input_scale * weight_ih,
                                         weight_hh.detach().to(torch.float64), dh_last,
                                         nonlinearity)


def long_range_share(contributions, distance):
    """||sum of the contributions at distance >= `distance`|| / ||sum of all of them||."""
    if not 0 <= distance <= len(contributions):
        raise ValueError(f"distance must be in 0..{len(contributions)}, got {distance}")
    return float(contributions[distance:].sum(0).norm() / contributions.sum(0).norm())
