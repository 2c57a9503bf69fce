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
computed for all time steps before the loop (see `run_sequence`).
"""
import numbers
from typing import NamedTuple

import torch

from ._recurrent import (RecurrentLayer, backward_through_time, check_gate_blocks,
                         input_gradients, outer_sum_h_prev, run_sequence)


class LSTMCache(NamedTuple):
    """What one forward step keeps for its backward step."""
    h_prev: torch.Tensor       # H_{t-1}
    c_prev: torch.Tensor       # C_{t-1}
    input_gate: torch.Tensor   # I_t
    forget_gate: torch.Tensor  # F_t
    candidate: torch.Tensor    # C~_t
    output_gate: torch.Tensor  # O_t
    tanh_cell: torch.Tensor    # tanh(C_t)
    weight_hh: torch.Tensor


def step_forward(gates_x, state_prev, weight_hh, bias_hh):
    """One LSTM step, equations (L1)-(L6).

    gates_x:    (n, 4h) X_t W_x + b_x for i, f, the candidate and o, in that order
    state_prev: the pair (H_{t-1}, C_{t-1}), each (n, h)
    weight_hh:  (4h, h) and bias_hh: (4h,), in torch.nn.LSTM's layout
    Returns ((H_t, C_t), cache); the cache (an LSTMCache) is what step_backward needs.
    """
    h_prev, c_prev = state_prev
    h = h_prev.shape[1]
    # All four pre-activations: X_t W_x + b_x + H_{t-1} W_h + b_h, in one product.
    gates = gates_x + torch.addmm(bias_hh, h_prev, weight_hh.t())
    # (L1) and (L2) sit side by side in the (i, f, g, o) layout: one sigmoid call for both.
    input_gate, forget_gate = torch.sigmoid(gates[:, :2 * h]).chunk(2, dim=1)
    candidate = torch.tanh(gates[:, 2 * h:3 * h])                     # (L3)
    output_gate = torch.sigmoid(gates[:, 3 * h:])                     # (L4)
    c_next = forget_gate * c_prev + input_gate * candidate            # (L5)
    tanh_cell = torch.tanh(c_next)
    h_next = output_gate * tanh_cell                                  # (L6)
    cache = LSTMCache(h_prev, c_prev, input_gate, forget_gate, candidate, output_gate,
                      tanh_cell, weight_hh)
    return (h_next, c_next), cache


def step_backward(dnext_state, cache):
    """Backward through one LSTM step: the chain rule through (L6), (L5), then (L1)-(L4).

    dnext_state: the pair (dL/dH_t, dL/dC_t). dL/dH_t is the total derivative (from the
      output at t and from step t+1); dL/dC_t is what step t+1 sent back through (L5) alone,
      C_t's path to the loss that does not pass through H_t.
    Returns (dgates_x, (dh_prev, dc_prev), dgates_h):
      dgates_x (n, 4h) dL/d(gates_x), the input's share of each pre-activation
      dh_prev  (n, h)  dL/dH_{t-1} through this step (through the four recurrent products)
      dc_prev  (n, h)  dL/dC_{t-1} through this step: through (L5) alone, F_t times dL/dC_t
      dgates_h (n, 4h) dL/d(H_{t-1} W_h + b_h); the same tensor as dgates_x, since both
               shares enter each pre-activation by a plain sum.
    The weight gradients are sums over time of outer products:
    `lstm_sequence_backward` forms them in one matrix product after the loop.
    """
    (h_prev, c_prev, input_gate, forget_gate, candidate, output_gate, tanh_cell,
     weight_hh) = cache
    dh_next, dc_next = dnext_state
    # (L6): H_t = O_t * tanh(C_t)
    d_output_gate = dh_next * tanh_cell
    # C_t's total derivative: through H_t (tanh' = 1 - tanh^2) plus through C_{t+1}
    dc = dc_next + dh_next * output_gate * (1 - tanh_cell * tanh_cell)
    # (L5): C_t = F_t * C_{t-1} + I_t * C~_t
    d_forget_gate = dc * c_prev
    dc_prev = dc * forget_gate            # the carry path: no matrix, no squashing
    d_input_gate = dc * candidate
    d_candidate = dc * input_gate
    # (L1)-(L4): through the sigmoid, sigma (1 - sigma), and the tanh, 1 - tanh^2
    d_input_pre = d_input_gate * input_gate * (1 - input_gate)
    d_forget_pre = d_forget_gate * forget_gate * (1 - forget_gate)
    d_candidate_pre = d_candidate * (1 - candidate * candidate)
    d_output_pre = d_output_gate * output_gate * (1 - output_gate)
    dgates = torch.cat([d_input_pre, d_forget_pre, d_candidate_pre, d_output_pre], dim=1)
    # The four recurrent products carry gradient back to H_{t-1}.
    dh_prev = dgates @ weight_hh
    return dgates, (dh_prev, dc_prev), dgates


def lstm_sequence(x, state0, weight_ih, weight_hh, bias_ih, bias_hh):
    """Run the LSTM over x (T, n, d) from state0 = (H_0, C_0): (output, (H_T, C_T), caches)."""
    return run_sequence(step_forward, x, tuple(state0), weight_ih, weight_hh, bias_ih, bias_hh)


def lstm_sequence_backward(dout, dstate_last, x, output, caches, weight_ih, need_dx=True):
    """Backpropagation through time for `lstm_sequence`.

    dout: (T, n, h) dL/dH_t from the layer's output (the direct, partial part);
    dstate_last: the pair (dL/dH_T, dL/dC_T) from the final state; x, output and caches:
    what the forward pass took and gave. Returns
    (dx, (dh0, dc0), dweight_ih, dweight_hh, dbias_ih, dbias_hh).
    """
    dgates_x, dgates_h, dstate0 = backward_through_time(step_backward, dout, tuple(dstate_last),
                                                        caches)
    dx, dweight_ih, dbias_ih = input_gradients(dgates_x, x, weight_ih, need_dx)
    # W_h multiplies H_{t-1} in all four blocks: H_0, then the layer's output.
    dweight_hh = outer_sum_h_prev(dgates_h, caches[0].h_prev, output)
    return dx, dstate0, dweight_ih, dweight_hh, dbias_ih, dgates_h.sum(dim=(0, 1))


class LSTM(RecurrentLayer):
    r"""A from-scratch twin of ``torch.nn.LSTM``.

    Same constructor arguments (in the same positions), parameter names and shapes, input and
    output shapes as torch.nn.LSTM, so ``LSTM(...).load_state_dict(torch_lstm.state_dict())``
    works both ways. Equations (L1)-(L6) of the book; see this module's docstring.

    proj_size: accepted for torch.nn.LSTM's signature, but only 0 (no projection, torch's
      default); any other value raises a ValueError.
    bptt: "autograd" (default) or "manual" (the hand-derived `lstm_sequence_backward`), as
      for `gatedrnn.GRU`.

    Inputs: input (L, N, H_in), or (N, L, H_in) with batch_first=True, or (L, H_in); and
    optionally the pair (h_0, c_0), each (num_layers * num_directions, N, H), zeros if omitted.
    Outputs: output (L, N, num_directions * H) and the pair (h_n, c_n), each
    (num_layers * num_directions, N, H).
    """

    sequence = staticmethod(lstm_sequence)
    sequence_backward = staticmethod(lstm_sequence_backward)
    gate_count = 4

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, *, bptt="autograd",
                 device=None, dtype=None):
        if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral):
            raise TypeError(f"proj_size must be an int, got {type(proj_size).__name__} "
                            f"({proj_size!r})")
        if proj_size != 0:
            raise ValueError(f"gatedrnn.LSTM has no projection (LSTMP): proj_size must be 0, "
                             f"got {proj_size}; use torch.nn.LSTM for proj_size > 0")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, bptt=bptt, device=device, dtype=dtype)
        self.proj_size = 0

    def _initial_state(self, input, batch):
        zeros = super()._initial_state(input, batch)
        return zeros, torch.zeros_like(zeros)

    def _check_state(self, label, state, input):
        """hx must be the pair (h_0, c_0); each part is checked like an RNN's hx."""
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            got = (f"a {type(state).__name__} of length {len(state)}"
                   if isinstance(state, (tuple, list)) else type(state).__name__)
            raise TypeError(f"LSTM expected {label} to be a tuple (h_0, c_0) of two tensors, "
                            f"got {got}")
        for index, (part, name) in enumerate(zip(state, ("h_0", "c_0"))):
            super()._check_state(f"{label}[{index}] ({name})", part, input)

    def forward(self, input, hx=None):
        """(output, (h_n, c_n)) from input and the optional pair hx = (h_0, c_0)."""
        # torch.nn.LSTM also takes a list [h_0, c_0]; the layers below expect a tuple state.
        return super().forward(input, tuple(hx) if isinstance(hx, list) else hx)


def set_forget_bias(layer, value=1.0):
    """Set every forget-gate bias b_f of an LSTM layer to `value` (Gers et al. 2000).

    layer: a gatedrnn.LSTM or a torch.nn.LSTM, built with bias=True. torch.nn.LSTM has no
    option for this and keeps two biases that add up, b_f = b_xf + b_hf; so the forget rows
    [h:2h] of ``bias_ih_l*`` are set to `value` and those of ``bias_hh_l*`` to 0, in every
    layer and direction. The other gates' biases are left as they are. Returns the layer.
    """
    h = check_gate_blocks(layer, 4, "set_forget_bias", "LSTM")
    if not layer.bias:
        raise ValueError("set_forget_bias needs a layer built with bias=True")
    with torch.no_grad():
        for name, parameter in layer.named_parameters():
            if name.startswith("bias_ih_l"):
                parameter[h:2 * h] = value
            elif name.startswith("bias_hh_l"):
                parameter[h:2 * h] = 0.0
    return layer
