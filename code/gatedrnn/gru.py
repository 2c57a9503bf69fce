r"""The gated recurrent unit, written out equation by equation.

Row-vector notation of the book (see the notation page): X_t is (n, d), H_t is (n, h), and
``*`` is the elementwise product. sigma is the logistic sigmoid.

Reset gate after the hidden matmul (``reset_after=True``, torch.nn.GRU, cuDNN, Keras' default)::

    R_t  = sigma(X_t W_xr + b_xr + H_{t-1} W_hr + b_hr)                   (G1)
    Z_t  = sigma(X_t W_xz + b_xz + H_{t-1} W_hz + b_hz)                   (G2)
    H~_t = tanh(X_t W_xh + b_xh + R_t * (H_{t-1} W_hh + b_hh))            (G3)
    H_t  = Z_t * H_{t-1} + (1 - Z_t) * H~_t                               (G4)

Reset gate before the hidden matmul (``reset_after=False``, Cho et al. 2014 v3, d2l)::

    H~_t = tanh(X_t W_xh + b_xh + (R_t * H_{t-1}) W_hh + b_hh)            (G3')

torch.nn.GRU stores each W transposed and the three gates stacked in the order (r, z, n):
``weight_ih_l0`` is [W_xr | W_xz | W_xh]^T, (3h, d); ``weight_hh_l0`` is [W_hr | W_hz | W_hh]^T,
(3h, h); ``bias_ih_l0`` = [b_xr, b_xz, b_xh] and ``bias_hh_l0`` = [b_hr, b_hz, b_hh].

The input's share of every pre-activation, ``gates_x = X_t W_x + b_x`` for all three gates, is
computed for all time steps before the loop (see `run_sequence`).
"""
from typing import NamedTuple

import torch

from ._recurrent import (RecurrentLayer, backward_through_time, input_gradients,
                         outer_sum, outer_sum_h_prev, run_sequence)


class GRUCache(NamedTuple):
    """What one forward step keeps for its backward step."""
    h_prev: torch.Tensor           # H_{t-1}
    reset_gate: torch.Tensor       # R_t
    update_gate: torch.Tensor      # Z_t
    candidate: torch.Tensor        # H~_t
    hidden_part: torch.Tensor      # what R_t multiplies in (G3), or the product in (G3')
    candidate_input: torch.Tensor  # what W_hh multiplies: H_{t-1} (G3) or R_t * H_{t-1} (G3')
    weight_hh: torch.Tensor
    reset_after: bool


def step_forward(gates_x, h_prev, weight_hh, bias_hh, reset_after=True):
    """One GRU step, equations (G1)-(G4).

    gates_x:   (n, 3h) X_t W_x + b_x for r, z and the candidate, in that order
    h_prev:    (n, h)  H_{t-1}
    weight_hh: (3h, h) and bias_hh: (3h,), in torch.nn.GRU's layout
    Returns (h_next, cache); the cache (a GRUCache) is what step_backward needs.
    """
    h = h_prev.shape[1]
    if reset_after:
        # H_{t-1} W_h + b_h for all three blocks at once
        gates_h = torch.addmm(bias_hh, h_prev, weight_hh.t())
        # (G1) and (G2) have the same form: one sigmoid call gives both gates.
        pre_rz = gates_x[:, :2 * h] + gates_h[:, :2 * h]
        reset_gate, update_gate = torch.sigmoid(pre_rz).chunk(2, dim=1)
        hidden_part = gates_h[:, 2 * h:]               # H_{t-1} W_hh + b_hh
        candidate = torch.tanh(gates_x[:, 2 * h:]
                               + reset_gate * hidden_part)          # (G3)
        candidate_input = h_prev                        # what W_hh multiplies
    else:
        gates_rz = torch.addmm(bias_hh[:2 * h], h_prev, weight_hh[:2 * h].t())
        pre_rz = gates_x[:, :2 * h] + gates_rz
        reset_gate, update_gate = torch.sigmoid(pre_rz).chunk(2, dim=1)
        candidate_input = reset_gate * h_prev           # R_t * H_{t-1}
        hidden_part = torch.addmm(bias_hh[2 * h:], candidate_input,
                                  weight_hh[2 * h:].t())
        candidate = torch.tanh(gates_x[:, 2 * h:] + hidden_part)    # (G3')
    # (G4) H_t = Z_t * H_{t-1} + (1 - Z_t) * H~_t, as one call:
    # lerp(a, b, w) = a + w * (b - a)
    h_next = torch.lerp(candidate, h_prev, update_gate)
    cache = GRUCache(h_prev, reset_gate, update_gate, candidate, hidden_part,
                     candidate_input, weight_hh, reset_after)
    return h_next, cache


def step_backward(dh_next, cache):
    """Backward through one GRU step: the chain rule through (G4), (G3), (G2), (G1).

    dh_next: (n, h) dL/dH_t, the total derivative (from the output at t and
             from step t+1).
    Returns (dgates_x, dh_prev, dgates_h):
      dgates_x (n, 3h) dL/d(gates_x), the input's share of each pre-activation
      dh_prev  (n, h)  dL/dH_{t-1} through this step
      dgates_h (n, 3h) dL/d(the recurrent products); W_hh multiplies H_{t-1}
               for r and z, and cache.candidate_input for the candidate.
    The weight gradients are sums over time of outer products:
    `gru_sequence_backward` forms them in one matrix product after the loop.
    """
    (h_prev, reset_gate, update_gate, candidate, hidden_part, _,
     weight_hh, reset_after) = cache
    h = h_prev.shape[1]
    # (G4): H_t = Z * H_{t-1} + (1 - Z) * H~
    d_update = dh_next * (h_prev - candidate)
    d_candidate = dh_next * (1 - update_gate)
    dh_prev = dh_next * update_gate
    # (G3): through tanh, whose derivative is 1 - tanh^2
    d_candidate_pre = d_candidate * (1 - candidate * candidate)
    if reset_after:
        d_reset = d_candidate_pre * hidden_part
        d_hidden_part = d_candidate_pre * reset_gate
    else:
        # dL/d(R * H_{t-1}), then split between R and H_{t-1}
        d_candidate_input = d_candidate_pre @ weight_hh[2 * h:]
        d_reset = d_candidate_input * h_prev
        dh_prev = dh_prev + d_candidate_input * reset_gate
        d_hidden_part = d_candidate_pre
    # (G1), (G2): through the sigmoid, whose derivative is sigma (1 - sigma)
    d_reset_pre = d_reset * reset_gate * (1 - reset_gate)
    d_update_pre = d_update * update_gate * (1 - update_gate)
    dgates_x = torch.cat([d_reset_pre, d_update_pre, d_candidate_pre], dim=1)
    dgates_h = torch.cat([d_reset_pre, d_update_pre, d_hidden_part], dim=1)
    # The recurrent products carry gradient back to H_{t-1} too.
    if reset_after:
        dh_prev = dh_prev + dgates_h @ weight_hh
    else:
        dh_prev = dh_prev + dgates_h[:, :2 * h] @ weight_hh[:2 * h]
    return dgates_x, dh_prev, dgates_h


def gru_sequence(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, reset_after=True):
    """Run the GRU over x (T, n, d) from h0 (n, h): (output, H_T, caches)."""
    return run_sequence(step_forward, x, h0, weight_ih, weight_hh, bias_ih, bias_hh,
                        reset_after=reset_after)


def gru_sequence_backward(doutput, dh_last, x, output, caches, weight_ih, need_dx=True):
    """Backpropagation through time for `gru_sequence`.

    doutput: (T, n, h) dL/dH_t from the layer's output (the direct, partial part);
    dh_last: (n, h) dL/dH_T from the final state; x, output and caches: what the forward
    pass took and gave. Returns (dx, dh0, dweight_ih, dweight_hh, dbias_ih, dbias_hh).
    """
    dgates_x, dgates_h, dh0 = backward_through_time(step_backward, doutput, dh_last, caches)
    dx, dweight_ih, dbias_ih = input_gradients(dgates_x, x, weight_ih, need_dx)
    h0, h = caches[0].h_prev, dh0.shape[1]
    if caches[0].reset_after:      # W_hh multiplies H_{t-1} in all three blocks
        dweight_hh = outer_sum_h_prev(dgates_h, h0, output)
    else:                          # ... but R_t * H_{t-1} in the candidate's block
        candidate_input = torch.stack([cache.candidate_input for cache in caches])
        dweight_hh = torch.cat([outer_sum_h_prev(dgates_h[..., :2 * h], h0, output),
                                outer_sum(dgates_h[..., 2 * h:], candidate_input)])
    return dx, dh0, dweight_ih, dweight_hh, dbias_ih, dgates_h.sum(dim=(0, 1))


class GRU(RecurrentLayer):
    r"""A from-scratch twin of ``torch.nn.GRU``.

    Same constructor arguments, parameter names and shapes, input and output shapes as
    torch.nn.GRU, so ``GRU(...).load_state_dict(torch_gru.state_dict())`` works both ways.
    Equations (G1)-(G4) of the book; see this module's docstring.

    Extra keyword arguments:
      reset_after: True (default) applies the reset gate after the hidden matmul, (G3), as
        torch.nn.GRU does; False applies it before, (G3'), as Cho et al. 2014 and d2l do.
      bptt: "autograd" (default) lets torch's autograd differentiate the forward loop;
        "manual" uses the hand-derived backward pass `gru_sequence_backward`.
        autograd is the default because it supports everything autograd does (double
        backward, torch.func, hooks on intermediate states) and is the reference the manual
        path is tested against; choose "manual" to study BPTT or for speed.

    Inputs: input (L, N, H_in), or (N, L, H_in) with batch_first=True, or (L, H_in);
    hx (num_layers * num_directions, N, H), zeros if omitted.
    Outputs: output (L, N, num_directions * H) and h_n (num_layers * num_directions, N, H).
    """

    sequence = staticmethod(gru_sequence)
    sequence_backward = staticmethod(gru_sequence_backward)
    gate_count = 3

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, reset_after=True, bptt="autograd",
                 device=None, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, bptt=bptt, device=device, dtype=dtype)
        self.reset_after = bool(reset_after)

    def extra_repr(self):
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")

    def cell_options(self):
        return {"reset_after": self.reset_after}
