r"""Long short-term memory, written out equation by equation.

Row-vector notation of the book (see the notation page): X_t is (n, d), H_t and C_t are
(n, h), ``*`` is the elementwise product, sigma the logistic sigmoid, and b_. = b_x. + b_h.
(torch.nn.LSTM keeps two biases that add up)::

    I_t  = sigma(X_t W_xi + H_{t-1} W_hi + b_i)                           (L1)
    F_t  = sigma(X_t W_xf + H_{t-1} W_hf + b_f)                           (L2)
    C~_t = tanh(X_t W_xc + H_{t-1} W_hc + b_c)                            (L3)
    O_t  = sigma(X_t W_xo + H_{t-1} W_ho + b_o)                           (L4)
    C_t  = F_t * C_{t-1} + I_t * C~_t                                     (L5)
    H_t  = O_t * tanh(C_t)                                                (L6)

torch.nn.LSTM stores each W transposed and the four blocks stacked in the order (i, f, g, o),
its g being our candidate C~: ``weight_ih_l0`` is [W_xi | W_xf | W_xc | W_xo]^T, (4h, d);
``weight_hh_l0`` is [W_hi | W_hf | W_hc | W_ho]^T, (4h, h); ``bias_ih_l0`` and ``bias_hh_l0``
are (4h,) each. The cell's state is the pair (H_t, C_t); H_t is what the layer outputs.

The input's share of every pre-activation, ``gates_x = X_t W_x + b_x`` for all four blocks, is
formed for all time steps before the loop (`gatedrnn.bptt.run_sequence`).

Backward through one step (the LSTM chapter), with dH = dL/dH_t, dC-> the derivative step t+1
sent back along the cell through its (L5), and A^i, A^f, A^c, A^o the pre-activations::

    dO = dH * tanh(C_t)                                                   (LB1)
    dC = dC-> + dH * O_t * (1 - tanh^2(C_t))                              (LB2)
    dF = dC * C_{t-1}, dI = dC * C~_t, dC~ = dC * I_t, dC->_{t-1} = dC * F_t   (LB3)
    dA^. = dGamma * Gamma * (1 - Gamma) for each gate Gamma = I, F, O (block . = i, f, o);
    dA^c = dC~ * (1 - C~_t^2)                                             (LB4)
    dL/dH_{t-1} = sum over the blocks . = i, f, c, o of dA^. W_h.^T       (LB5)
    dL/dW_x. = X_t^T dA^.,  dL/dW_h. = H_{t-1}^T dA^.,  dL/db_. = sums of dA^.   (LB6)
"""
from typing import NamedTuple

import torch

from . import _checks
from .layer import RecurrentLayer


class LSTMCache(NamedTuple):
    """What one forward step keeps for its backward step."""
    h_prev: torch.Tensor       # H_{t-1}
    c_prev: torch.Tensor       # C_{t-1}
    input_gate: torch.Tensor   # I_t
    forget_gate: torch.Tensor  # F_t
    candidate: torch.Tensor    # C~_t
    output_gate: torch.Tensor  # O_t
    tanh_cell: torch.Tensor    # tanh(C_t)
    weight_hh: torch.Tensor    # torch's layout: [W_hi | W_hf | W_hc | W_ho]^T


def step_forward(gates_x, state_prev, weight_hh, bias_hh):
    """One LSTM step, equations (L1)-(L6).

    gates_x:    (n, 4h) X_t W_x + b_x for i, f, the candidate and o, in that order
    state_prev: the pair (H_{t-1}, C_{t-1}), each (n, h)
    weight_hh:  (4h, h) and bias_hh: (4h,), in torch.nn.LSTM's layout
    Returns ((H_t, C_t), cache); the cache (an LSTMCache) is what step_backward needs.
    """
    H_prev, C_prev = state_prev
    # All four pre-activations in one product, split at once.
    A_i, A_f, A_c, A_o = (gates_x + H_prev @ weight_hh.T + bias_hh).chunk(4, dim=1)
    I = torch.sigmoid(A_i)                                                     # (L1)
    F = torch.sigmoid(A_f)                                                     # (L2)
    C_tilde = torch.tanh(A_c)                                                  # (L3)
    O = torch.sigmoid(A_o)                                                     # (L4)
    C = F * C_prev + I * C_tilde                                               # (L5)
    tanh_C = torch.tanh(C)
    H = O * tanh_C                                                             # (L6)
    return (H, C), LSTMCache(H_prev, C_prev, I, F, C_tilde, O, tanh_C, weight_hh)


def step_backward(dstate, cache):
    """Backward through one LSTM step: (LB1)-(LB6), through (L6), (L5), then (L1)-(L4).

    dstate: the pair (dL/dH_t, dC->_t). dL/dH_t is the total derivative (from the output at t
      and from step t+1); dC->_t is what step t+1 sent back along the cell through (L5) alone,
      C_t's path to the loss that does not pass through H_t.
    Returns (dgates, (dH_prev, dC_prev), dweight_hh, dbias_hh):
      dgates     (n, 4h) [dA^i, dA^f, dA^c, dA^o], the gradient of the input's share
                 X_t W_x + b_x and of the hidden share alike (both enter by a plain sum)
      dH_prev    (n, h)  dL/dH_{t-1} through this step, (LB5)
      dC_prev    (n, h)  dC->_{t-1}: through (L5) alone, F_t times dL/dC_t, (LB3)
      dweight_hh (4h, h) and dbias_hh (4h,): this step's share of (LB6), in torch's layout
    """
    H_prev, C_prev, I, F, C_tilde, O, tanh_C, weight_hh = cache
    dH, dC_next = dstate
    dO = dH * tanh_C                                                           # (LB1)
    dC = dC_next + dH * O * (1 - tanh_C * tanh_C)                              # (LB2)
    dF, dI, dC_tilde, dC_prev = dC * C_prev, dC * C_tilde, dC * I, dC * F      # (LB3)
    dA_i, dA_f, dA_o = dI * I * (1 - I), dF * F * (1 - F), dO * O * (1 - O)    # (LB4)
    dA_c = dC_tilde * (1 - C_tilde * C_tilde)                                  # (LB4)
    dgates = torch.cat([dA_i, dA_f, dA_c, dA_o], dim=1)
    dH_prev = dgates @ weight_hh                                               # (LB5)
    dweight_hh, dbias_hh = dgates.T @ H_prev, dgates.sum(dim=0)                # (LB6)
    return dgates, (dH_prev, dC_prev), dweight_hh, dbias_hh


class LSTM(RecurrentLayer):
    r"""A from-scratch twin of ``torch.nn.LSTM``.

    Same constructor arguments (in the same positions), parameter names and shapes, input and
    output shapes as torch.nn.LSTM, so ``LSTM(...).load_state_dict(torch_lstm.state_dict())``
    works both ways. Equations (L1)-(L6) of the book; see this module's docstring.

    proj_size: accepted for torch.nn.LSTM's signature, but only 0 (no projection, torch's
      default); any other value raises a ValueError.
    bptt: "autograd" (default) or "manual" (the hand-derived backward through time, with the
      fast twin of `step_forward` and `step_backward` below), as for `gatedrnn.GRU`.

    Inputs: input (L, N, H_in), or (N, L, H_in) with batch_first=True, or (L, H_in); and
    optionally the pair (h_0, c_0) (a tuple or a list, as torch takes), each
    (num_layers * num_directions, N, H), zeros if omitted.
    Outputs: output (L, N, num_directions * H) and the pair (h_n, c_n), each
    (num_layers * num_directions, N, H).
    """

    gate_count = 4
    state_count = 2
    step_forward = staticmethod(step_forward)
    step_backward = staticmethod(step_backward)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, *, bptt="autograd",
                 device=None, dtype=None):
        _checks.check_proj_size(proj_size)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, bptt=bptt, device=device, dtype=dtype)
        self.proj_size = 0

    def fused(self):
        return fused_step_forward, fused_step_backward


# ----------------------------------------------------------------------------- Fast twin
# The pair above, fused for training (bptt="manual" runs it through `gatedrnn.bptt.FusedBPTT`):
# fewer operations, and the backward step leaves (LB6)'s W_h and b_h to the loop.

def fused_step_forward(gates_x, state_prev, weight_hh, bias_hh):
    """`step_forward` with one sigmoid over the four blocks: tanh(a) = 2 sigma(2a) - 1."""
    (H_prev, C_prev), h = state_prev, state_prev[0].shape[1]
    gates = torch.addmm(gates_x, H_prev, weight_hh.t()).add_(bias_hh)
    gates[:, 2 * h:3 * h].mul_(2)
    gates.sigmoid_()                                                            # (L1), (L2), (L4)
    gates[:, 2 * h:3 * h].mul_(2).sub_(1)                                       # (L3)
    I, F, C_tilde, O = gates.split(h, dim=1)
    C = torch.addcmul(F * C_prev, I, C_tilde)                                   # (L5)
    tanh_C = torch.sigmoid(2 * C).mul_(2).sub_(1)              # tanh(C_t), as bptt.tanh_ does
    H = O * tanh_C                                                              # (L6)
    return (H, C), (C_prev, gates, tanh_C, weight_hh)


def fused_step_backward(dstate, cache, dgates, _spare):
    """`step_backward` without (LB6), writing [dA^i, dA^f, dA^c, dA^o] into dgates.
    Returns ((dH_prev, dC_prev), None)."""
    C_prev, gates, tanh_C, weight_hh = cache
    (dH, dC_next), h = dstate, C_prev.shape[1]
    I, F, C_tilde, O = gates.split(h, dim=1)
    dC = torch.addcmul(dC_next, dH * O, 1 - tanh_C * tanh_C)                    # (LB2)
    dC_I = dC * I
    torch.cat([dC * C_tilde, dC * C_prev, dC_I, dH * tanh_C], dim=1, out=dgates)  # (LB3), (LB1)
    # (LB4) as x - x * a: with x = dGamma * Gamma for the gates (the candidate's block too,
    # then written over with x = dC~ * C~, its tanh's derivative being 1 - C~^2)
    dgates_gates = dgates * gates
    torch.addcmul(dgates_gates, dgates_gates, gates, value=-1, out=dgates)
    torch.addcmul(dC_I, dC_I * C_tilde, C_tilde, value=-1, out=dgates[:, 2 * h:3 * h])
    return (dgates @ weight_hh, dC * F), None                                   # (LB5), (LB3)
