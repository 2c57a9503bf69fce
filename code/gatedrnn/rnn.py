r"""The plain (Elman) recurrent network, written out.

Row-vector notation of the book (see the notation page)::

    A_t = X_t W_xh + b_xh + H_{t-1} W_hh + b_hh,    H_t = phi(A_t)                 (R1)

with phi = tanh (default) or relu; the step functions also take phi = identity (a linear
network, for studying gradients; torch.nn.RNN has no such option). Backward, for the total
derivative dL/dH_t that reaches step t (the rnn_bptt chapter)::

    dL/dA_t     = dL/dH_t * phi'(A_t)        (tanh' = 1 - H_t * H_t)               (B2)
    dL/dH_{t-1} = dL/dA_t W_hh^T             (step t-1 adds its direct part: (B1))
    dL/dW_hh   += H_{t-1}^T dL/dA_t,  dL/db_hh += column sums of dL/dA_t            (B3)

torch.nn.RNN stores W_xh^T as ``weight_ih_l0`` (h, d) and W_hh^T as ``weight_hh_l0`` (h, h),
with biases ``bias_ih_l0`` = b_xh and ``bias_hh_l0`` = b_hh.
"""
from functools import partial
from typing import NamedTuple

import torch

from . import _checks
from .bptt import FusedBPTT, tanh_
from .layer import RecurrentLayer

PHI = {"tanh": torch.tanh, "relu": torch.relu, "identity": lambda a: a}
# phi'(A_t), written with H_t = phi(A_t), which the step keeps:
PHI_PRIME = {"tanh": lambda h: 1 - h * h, "relu": lambda h: (h > 0).to(h.dtype),
             "identity": torch.ones_like}


class RNNCache(NamedTuple):
    """What one forward step keeps for its backward step."""
    h_prev: torch.Tensor      # H_{t-1}
    h_next: torch.Tensor      # H_t = phi(A_t)
    weight_hh: torch.Tensor   # W_hh^T, torch's layout
    nonlinearity: str


def step_forward(gates_x, H_prev, weight_hh, bias_hh, nonlinearity="tanh"):
    """One step of (R1).

    gates_x:   (n, h) X_t W_xh + b_xh, formed for all steps before the loop
    H_prev:    (n, h) H_{t-1}
    weight_hh: (h, h) W_hh^T and bias_hh: (h,) b_hh, in torch.nn.RNN's layout
    Returns (H_t, cache).
    """
    A = gates_x + H_prev @ weight_hh.T + bias_hh
    H = PHI[nonlinearity](A)                                                    # (R1)
    return H, RNNCache(H_prev, H, weight_hh, nonlinearity)


def step_backward(dH, cache):
    """Backward through one step of (R1).

    dH: (n, h) dL/dH_t, the total derivative (the output at t plus step t+1), (B1).
    Returns (dgates_x, dh_prev, dweight_hh, dbias_hh): dL/dA_t, which is also the gradient of
    the input's share X_t W_xh + b_xh; dL/dH_{t-1} through this step; and this step's share of
    the gradients of W_hh^T and b_hh. dL/dH_{t-1} = dL/dA_t W_hh^T: the factor
    diag(phi') W_hh^T of every step of BPTT.
    """
    H_prev, H, weight_hh, nonlinearity = cache
    dA = dH * PHI_PRIME[nonlinearity](H)                                        # (B2)
    dH_prev = dA @ weight_hh                                                    # (B1)
    dweight_hh, dbias_hh = dA.T @ H_prev, dA.sum(dim=0)                         # (B3)
    return dA, dH_prev, dweight_hh, dbias_hh


class RNN(RecurrentLayer):
    r"""A from-scratch twin of ``torch.nn.RNN``: equation (R1) of the book.

    Same constructor arguments (in the same positions), parameter names and shapes, input
    and output shapes as torch.nn.RNN. Extra keyword argument ``bptt``: "autograd" (default)
    lets torch's autograd differentiate the forward loop; "manual" runs the hand-derived
    backward through time, with the fast twin of `step_forward` and `step_backward` below
    (`gatedrnn.bptt.FusedBPTT`).
    """

    gate_count = 1
    step_forward = staticmethod(step_forward)
    step_backward = staticmethod(step_backward)

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, *, bptt="autograd",
                 device=None, dtype=None):
        _checks.check_choice("nonlinearity", nonlinearity, _checks.NONLINEARITIES)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, bptt=bptt, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self):
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity='relu'"

    def cell(self):
        return partial(step_forward, nonlinearity=self.nonlinearity), step_backward

    def fused(self):
        return partial(FusedBPTT.apply, partial(fused_step_forward, nonlinearity=self.nonlinearity),
                       fused_step_backward)


# ----------------------------------------------------------------------------- Fast twin
# The pair above, fused for training (bptt="manual" runs it through `gatedrnn.bptt.FusedBPTT`):
# fewer operations, and the backward step leaves (B3) to the loop.

def fused_step_forward(gates_x, H_prev, weight_hh, bias_hh, nonlinearity="tanh"):
    """`step_forward` in place on one new tensor. Returns (H_t, cache)."""
    A = torch.addmm(gates_x, H_prev, weight_hh.t()).add_(bias_hh)
    H = {"tanh": tanh_, "relu": torch.relu_, "identity": lambda a: a}[nonlinearity](A)  # (R1)
    return H, (H, weight_hh, nonlinearity)


def fused_step_backward(dH, cache, dA, _spare):
    """`step_backward` without (B3), writing dL/dA_t into dA. Returns (dH_prev, None)."""
    H, weight_hh, nonlinearity = cache
    torch.mul(dH, PHI_PRIME[nonlinearity](H), out=dA)                           # (B2)
    return dA @ weight_hh, None                                                 # (B1)
