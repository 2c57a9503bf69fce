"""What every recurrent layer of the package shares with its torch.nn twin: the parameters
under torch.nn's names, and the loop over layers and directions.

A model (``rnn.py``, ``gru.py``, ``lstm.py``) supplies its two step functions and says how many
gate blocks its weights stack and how many tensors its state holds; `bptt` runs them.
"""
import math

import torch
from torch import nn

from . import _checks
from .bptt import ManualBPTT, run_sequence

SUFFIXES = ("", "_reverse")   # direction 0 (forward) and 1 (backward) of a bidirectional layer


def layer_weights(layer, k=0, direction=0):
    """(weight_ih, weight_hh, bias_ih, bias_hh) of layer k and one direction, in torch's layout.

    With bias=False the biases are zeros that take no gradient, so every model's equations
    stay the same.
    """
    suffix = SUFFIXES[direction]
    weight_ih = getattr(layer, f"weight_ih_l{k}{suffix}")
    weight_hh = getattr(layer, f"weight_hh_l{k}{suffix}")
    if not layer.bias:
        zeros = weight_hh.new_zeros(weight_hh.shape[0])
        return weight_ih, weight_hh, zeros, zeros
    return (weight_ih, weight_hh, getattr(layer, f"bias_ih_l{k}{suffix}"),
            getattr(layer, f"bias_hh_l{k}{suffix}"))


class RecurrentLayer(nn.Module):
    """A torch.nn-style recurrent layer (RNN, GRU or LSTM) built from a model's step functions."""

    gate_count = 1      # hidden_size-row blocks per weight matrix: RNN 1, GRU 3 (r, z, n), LSTM 4
    state_count = 1     # tensors in a state: 1 (H_t), or 2 for the LSTM's (H_t, C_t)
    step_forward = None   # the model's step functions, see bptt
    step_backward = None

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, bptt="autograd", device=None, dtype=None):
        super().__init__()
        _checks.check_layer_options(self, input_size, hidden_size, num_layers, dropout, bptt,
                                    dtype)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.bptt = bptt
        self.num_directions = 2 if self.bidirectional else 1

        def parameter(*shape):
            return nn.Parameter(torch.empty(*shape, device=device, dtype=dtype))

        rows = self.gate_count * hidden_size
        # Same names, shapes and registration order as torch.nn: weight_ih_l{k}[_reverse], ...
        for k in range(num_layers):
            layer_input = input_size if k == 0 else hidden_size * self.num_directions
            for suffix in SUFFIXES[:self.num_directions]:
                self.register_parameter(f"weight_ih_l{k}{suffix}", parameter(rows, layer_input))
                self.register_parameter(f"weight_hh_l{k}{suffix}", parameter(rows, hidden_size))
                if self.bias:
                    self.register_parameter(f"bias_ih_l{k}{suffix}", parameter(rows))
                    self.register_parameter(f"bias_hh_l{k}{suffix}", parameter(rows))
        self.reset_parameters()

    def reset_parameters(self):
        """U(-1/sqrt(h), 1/sqrt(h)) for every weight and bias, as torch.nn does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text + f", bptt={self.bptt!r}"

    def layer_weights(self, k=0, direction=0):
        """(weight_ih, weight_hh, bias_ih, bias_hh) of layer k and one direction."""
        return layer_weights(self, k, direction)

    def cell(self):
        """The step functions this layer runs: (step_forward, step_backward)."""
        return type(self).step_forward, type(self).step_backward

    def fused(self):
        """The fast twin of `cell()` that bptt="manual" trains with, a function called as
        ``fused(sequence, weight_ih, weight_hh, bias_ih, bias_hh, *state0)`` that returns
        ``(output, *last_state)``: `bptt.FusedBPTT` with the model's fused step pair, or the
        model's own (`lstm.FusedLSTM`); or None to run `cell()` through `bptt.ManualBPTT`."""
        return None

    def forward(self, input, hx=None):
        _checks.check_layer_input(self, input, hx)
        unbatched = input.dim() == 2
        if unbatched:
            x = input.unsqueeze(1)
        else:
            x = input.transpose(0, 1) if self.batch_first else input    # time-major (L, N, H_in)
        stack, batch = self.num_layers * self.num_directions, x.shape[1]
        # Every state tensor alike: (h_0,) or (h_0, c_0), each (layers * directions, N, H).
        if hx is None:
            states = tuple(x.new_zeros(stack, batch, self.hidden_size)
                           for _ in range(self.state_count))
        else:
            states = tuple(hx) if self.state_count > 1 else (hx,)
            states = tuple(s.unsqueeze(1) for s in states) if unbatched else states
        step_forward, step_backward = self.cell()
        fused = self.fused()

        last_states = []
        for k in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                # The reverse direction reads the sequence back to front.
                sequence = x if direction == 0 else x.flip(0)
                state0 = tuple(s[k * self.num_directions + direction] for s in states)
                weights = self.layer_weights(k, direction)
                if self.bptt == "manual" and fused is not None:
                    output, *state_last = fused(sequence, *weights, *state0)
                elif self.bptt == "manual":
                    output, *state_last = ManualBPTT.apply(step_forward, step_backward, sequence,
                                                           *weights, *state0)
                else:
                    cell_state = state0 if self.state_count > 1 else state0[0]
                    output, cell_state, _ = run_sequence(step_forward, sequence, cell_state,
                                                         *weights)
                    state_last = cell_state if self.state_count > 1 else (cell_state,)
                outputs.append(output if direction == 0 else output.flip(0))
                last_states.append(state_last)
            x = torch.cat(outputs, dim=2) if len(outputs) > 1 else outputs[0]
            if self.dropout and self.training and k < self.num_layers - 1:
                x = nn.functional.dropout(x, self.dropout, training=True)

        state_n = tuple(torch.stack(parts) for parts in zip(*last_states))
        if unbatched:
            x, state_n = x.squeeze(1), tuple(s.squeeze(1) for s in state_n)
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, (state_n if self.state_count > 1 else state_n[0])
