r"""The plain (Elman) recurrent network, written out.

Row-vector notation of the book (see the notation page)::

    H_t = phi(X_t W_xh + b_xh + H_{t-1} W_hh + b_hh)                      (R1)

with phi = tanh (default) or relu; the step functions also take phi = identity (a linear
network, for studying gradients; torch.nn.RNN has no such option). torch.nn.RNN stores W_xh^T as ``weight_ih_l0`` (h, d) and
W_hh^T as ``weight_hh_l0`` (h, h), with biases ``bias_ih_l0`` = b_xh and ``bias_hh_l0`` = b_hh.
"""
from typing import NamedTuple

import torch

from ._recurrent import (RecurrentLayer, backward_through_time, input_gradients,
                         outer_sum_h_prev, run_sequence)

NONLINEARITIES = ("tanh", "relu")                # what torch.nn.RNN, and so RNN, accepts
STEP_NONLINEARITIES = NONLINEARITIES + ("identity",)


class RNNCache(NamedTuple):
    """What one forward step keeps for its backward step."""
    h_prev: torch.Tensor      # H_{t-1}
    h_next: torch.Tensor      # H_t = phi(pre-activation)
    weight_hh: torch.Tensor
    nonlinearity: str


def step_forward(gates_x, h_prev, weight_hh, bias_hh, nonlinearity="tanh"):
    """One step of (R1).

    gates_x:   (n, h) X_t W_xh + b_xh, computed for all steps before the loop
    h_prev:    (n, h) H_{t-1}
    weight_hh: (h, h) W_hh^T and bias_hh: (h,), in torch.nn.RNN's layout
    Returns (h_next, cache).
    """
    pre_activation = gates_x + torch.addmm(bias_hh, h_prev, weight_hh.t())
    if nonlinearity == "tanh":
        h_next = torch.tanh(pre_activation)
    elif nonlinearity == "relu":
        h_next = torch.relu(pre_activation)
    elif nonlinearity == "identity":
        h_next = pre_activation
    else:
        raise ValueError(f"nonlinearity must be one of {STEP_NONLINEARITIES}, got {nonlinearity!r}")
    return h_next, RNNCache(h_prev, h_next, weight_hh, nonlinearity)


def step_backward(dh_next, cache):
    """Backward through one step of (R1).

    dh_next: (n, h) dL/dH_t, the total derivative (output at t plus step t+1).
    Returns (dgates_x, dh_prev, dgates_h). Both shares of the pre-activation get the same
    gradient, dL/d(pre-activation) = dL/dH_t * phi'(pre-activation), and
    dL/dH_{t-1} = that times W_hh^T: the factor diag(phi') W_hh^T of every step of BPTT.
    """
    h_prev, h_next, weight_hh, nonlinearity = cache
    if nonlinearity == "tanh":
        d_pre = dh_next * (1 - h_next * h_next)    # tanh' = 1 - tanh^2
    elif nonlinearity == "relu":
        d_pre = dh_next * (h_next > 0)              # relu' = 1 where the unit is on
    else:
        d_pre = dh_next                             # identity' = 1
    dh_prev = d_pre @ weight_hh
    return d_pre, dh_prev, d_pre


def rnn_sequence(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity="tanh"):
    """Run (R1) over x (T, n, d) from h0 (n, h): (output, H_T, caches)."""
    return run_sequence(step_forward, x, h0, weight_ih, weight_hh, bias_ih, bias_hh,
                        nonlinearity=nonlinearity)


def rnn_sequence_backward(doutput, dh_last, x, output, caches, weight_ih, need_dx=True):
    """Backpropagation through time for `rnn_sequence`.

    Returns (dx, dh0, dweight_ih, dweight_hh, dbias_ih, dbias_hh).
    """
    dgates_x, dgates_h, dh0 = backward_through_time(step_backward, doutput, dh_last, caches)
    dx, dweight_ih, dbias_ih = input_gradients(dgates_x, x, weight_ih, need_dx)
    dweight_hh = outer_sum_h_prev(dgates_h, caches[0].h_prev, output)
    return dx, dh0, dweight_ih, dweight_hh, dbias_ih, dgates_h.sum(dim=(0, 1))


class RNN(RecurrentLayer):
    r"""A from-scratch twin of ``torch.nn.RNN``: equation (R1) of the book.

    Same constructor arguments (in the same positions), parameter names and shapes, input
    and output shapes as torch.nn.RNN. Extra keyword argument ``bptt``: "autograd" (default)
    or "manual" (the hand-derived `rnn_sequence_backward`), as for `gatedrnn.GRU`.
    """

    sequence = staticmethod(rnn_sequence)
    sequence_backward = staticmethod(rnn_sequence_backward)
    gate_count = 1

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, *, bptt="autograd",
                 device=None, dtype=None):
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, bptt=bptt, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self):
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity='relu'"

    def cell_options(self):
        return {"nonlinearity": self.nonlinearity}
