"""What every recurrent layer of the package shares with its torch.nn twin.

`RecurrentLayer` holds the parameters under torch.nn.RNN/LSTM/GRU's names, checks the input,
and runs the layers and directions. A model (``rnn.py``, ``gru.py``, ``lstm.py``) supplies only
its `sequence` function (one layer, one direction, time-major input) and its hand-derived
`sequence_backward`.

A cell's *state* is one tensor H_t (RNN, GRU) or a tuple whose first entry is H_t (the LSTM's
(H_t, C_t)); H_t is what the layer outputs at every step. The helpers below treat both alike.

The loop over time is the same for every cell, and so is the loop back through time: they
are `run_sequence` and `backward_through_time` below, which call a model's `step_forward`
and `step_backward`. `ManualBPTT` wraps a model's hand-derived backward pass as a
torch.autograd.Function, so a layer trains with it.
"""
import math
import numbers
from functools import partial

import torch
from torch import nn

BPTT_PATHS = ("autograd", "manual")


def hidden_of(state):
    """H_t of a cell's state: the state itself, or the first entry of a tuple like (H_t, C_t)."""
    return state[0] if isinstance(state, tuple) else state


def map_state(function, state):
    """Apply function to the state's tensor, or to each tensor of a tuple state."""
    return tuple(function(part) for part in state) if isinstance(state, tuple) else function(state)


def run_sequence(step_forward, x, h0, weight_ih, weight_hh, bias_ih, bias_hh, **options):
    """Run a cell over a time-major sequence x (T, n, d) from h0 (n, h), or from a tuple state.

    The input's share of every pre-activation, X_t W_x + b_x, does not depend on H_{t-1}:
    it is computed for all steps in one matrix product before the loop (as cuDNN does),
    so each step does only the recurrent product. Returns (output (T, n, h), H_T, caches);
    for a tuple state, the last state (H_T, C_T) in place of H_T, and output stacks the H_t.
    Under autograd this *is* the "autograd" path.
    """
    gates_x = torch.matmul(x, weight_ih.t()) + bias_ih
    h, outputs, caches = h0, [], []
    for gates_x_t in gates_x:
        h, cache = step_forward(gates_x_t, h, weight_hh, bias_hh, **options)
        outputs.append(hidden_of(h))
        caches.append(cache)
    return torch.stack(outputs), h, caches


def backward_through_time(step_backward, doutput, dh_last, caches):
    """The loop of BPTT: step_backward from t = T down to 1.

    doutput (T, n, h) holds dL/dH_t from the layer's output at each step (the direct part);
    dh_last (n, h) is dL/dH_T from the final state (for a tuple state, a tuple such as
    (dL/dH_T, dL/dC_T)). Returns every step's dgates_x and dgates_h, stacked to (T, n, G*h),
    and dL/dH_0 (or the tuple of the initial state's gradients).
    """
    dgates_x, dgates_h = [], []
    dh = dh_last
    for t in reversed(range(len(caches))):
        # Total derivative at step t = what the output at t sends + what step t+1 sent back.
        if isinstance(dh, tuple):  # the output is H_t, the state's first entry
            dnext = (dh[0] + doutput[t], *dh[1:])
        else:
            dnext = dh + doutput[t]
        dgx, dh, dgh = step_backward(dnext, caches[t])
        dgates_x.append(dgx)
        dgates_h.append(dgh)
    return torch.stack(dgates_x[::-1]), torch.stack(dgates_h[::-1]), dh


def outer_sum(grad, inputs):
    """sum over t (and the batch) of grad_t^T inputs_t: a weight's gradient, in one product."""
    return grad.reshape(-1, grad.shape[-1]).t() @ inputs.reshape(-1, inputs.shape[-1])


def outer_sum_h_prev(grad, h0, output):
    """outer_sum(grad, H_{t-1}) without stacking H_{t-1}: it is H_0 at t = 1, then the output."""
    return grad[0].t() @ h0 + outer_sum(grad[1:], output[:-1])


def input_gradients(dgates_x, x, weight_ih, need_dx=True):
    """(dx, dweight_ih, dbias_ih) from the gradient of gates_x = X_t W_x + b_x."""
    dx = torch.matmul(dgates_x, weight_ih) if need_dx else None
    return dx, outer_sum(dgates_x, x), dgates_x.sum(dim=(0, 1))


class ManualBPTT(torch.autograd.Function):
    """The "manual" path: the forward loop without a graph, then the model's own backward.

    sequence(x, h0, weight_ih, weight_hh, bias_ih, bias_hh) -> (output, h_last, caches), and
    sequence_backward(doutput, dh_last, x, output, caches, weight_ih, need_dx) ->
    (dx, dh0, dweight_ih, dweight_hh, dbias_ih, dbias_hh): a model's two functions, with
    its options (nonlinearity, reset_after) bound by functools.partial.

    A tuple state's further tensors (the LSTM's C_0) come after the biases, as `more_state`,
    because autograd tracks only tensors passed directly; the outputs are then
    (output, H_T, C_T) and h0, h_last, dh_last, dh0 are tuples for the model's functions.
    """

    @staticmethod
    def forward(ctx, sequence, sequence_backward, x, h0, weight_ih, weight_hh, bias_ih, bias_hh,
                *more_state):
        state0 = (h0, *more_state) if more_state else h0
        output, h_last, caches = sequence(x, state0, weight_ih, weight_hh, bias_ih, bias_hh)
        ctx.save_for_backward(x, weight_ih, output)
        ctx.sequence_backward, ctx.caches = sequence_backward, caches
        return (output, *map_state(torch.clone, h_last)) if more_state else (output, h_last.clone())

    @staticmethod
    def backward(ctx, doutput, *dh_last):
        x, weight_ih, output = ctx.saved_tensors
        dh_last = dh_last if len(dh_last) > 1 else dh_last[0]
        dx, dh0, *dweights = ctx.sequence_backward(doutput, dh_last, x, output, ctx.caches,
                                                   weight_ih, need_dx=ctx.needs_input_grad[2])
        if isinstance(dh0, tuple):
            return (None, None, dx, dh0[0], *dweights, *dh0[1:])
        return (None, None, dx, dh0, *dweights)


def check_gate_blocks(layer, blocks, caller, kind):
    """The hidden size of `layer` after checking that it is a torch.nn-style recurrent layer of
    the given kind ("GRU": 3 gate blocks, "LSTM": 4), from gatedrnn or torch.nn alike."""
    if not isinstance(layer, nn.Module) or not hasattr(layer, "weight_hh_l0"):
        raise TypeError(f"{caller} expects a gatedrnn.{kind} or torch.nn.{kind}, "
                        f"got {type(layer).__name__}")
    hidden_size = layer.hidden_size
    if layer.weight_hh_l0.shape[0] != blocks * hidden_size:
        raise ValueError(f"{caller} expects the {blocks} gate blocks of the {kind} (weight_hh_l0 "
                         f"of {blocks * hidden_size} rows), got {tuple(layer.weight_hh_l0.shape)}")
    return hidden_size


def _check_size(name, value, minimum=1):
    # bool is an int in Python; GRU(True, 4) is almost certainly a mistake.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _shape(tensor):
    return tuple(tensor.shape)


class RecurrentLayer(nn.Module):
    """Parameters, input checks, layers and directions of a torch.nn-style recurrent layer.

    `gate_count` is how many (hidden_size)-row blocks each weight matrix stacks: 1 for a plain
    RNN, 3 for a GRU (r, z, n), 4 for an LSTM (i, f, g, o).
    """

    gate_count = 1

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, bptt="autograd", device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        self.input_size = _check_size("input_size", input_size)
        self.hidden_size = _check_size("hidden_size", hidden_size)
        self.num_layers = _check_size("num_layers", num_layers)
        if not isinstance(dropout, numbers.Real) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be a number in [0, 1], got {dropout!r}")
        if bptt not in BPTT_PATHS:
            raise ValueError(f"bptt must be one of {BPTT_PATHS}, got {bptt!r}")
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"{name} needs a floating-point dtype, got {dtype}")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.bptt = bptt
        self.num_directions = 2 if self.bidirectional else 1

        factory = {"device": device, "dtype": dtype}
        rows = self.gate_count * self.hidden_size
        # Same names, shapes and registration order as torch.nn: weight_ih_l{k}[_reverse], ...
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.hidden_size * self.num_directions
            for suffix in self._suffixes()[:self.num_directions]:
                self.register_parameter(f"weight_ih_l{layer}{suffix}",
                                        nn.Parameter(torch.empty(rows, layer_input, **factory)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}",
                                        nn.Parameter(torch.empty(rows, self.hidden_size, **factory)))
                if self.bias:
                    self.register_parameter(f"bias_ih_l{layer}{suffix}",
                                            nn.Parameter(torch.empty(rows, **factory)))
                    self.register_parameter(f"bias_hh_l{layer}{suffix}",
                                            nn.Parameter(torch.empty(rows, **factory)))
        self.reset_parameters()

    @staticmethod
    def _suffixes():
        return ("", "_reverse")

    def reset_parameters(self):
        """U(-1/sqrt(h), 1/sqrt(h)) for every weight and bias, as torch.nn does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

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

    def layer_weights(self, layer, direction=0):
        """(weight_ih, weight_hh, bias_ih, bias_hh) of one layer and direction.

        With bias=False the biases are zeros that take no gradient, so every model's
        equations stay the same.
        """
        suffix = self._suffixes()[direction]
        weight_ih = getattr(self, f"weight_ih_l{layer}{suffix}")
        weight_hh = getattr(self, f"weight_hh_l{layer}{suffix}")
        if self.bias:
            return (weight_ih, weight_hh, getattr(self, f"bias_ih_l{layer}{suffix}"),
                    getattr(self, f"bias_hh_l{layer}{suffix}"))
        zeros = weight_hh.new_zeros(weight_hh.shape[0])
        return weight_ih, weight_hh, zeros, zeros

    # ------------------------------------------------------------------ input checks
    def _check_input(self, input, hx):
        name = type(self).__name__
        if not isinstance(input, torch.Tensor):
            raise TypeError(f"{name} expected input to be a torch.Tensor, got {type(input).__name__}")
        layout = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
        if input.dim() not in (2, 3):
            raise ValueError(f"{name} expected input of rank 3 {layout} or rank 2 (L, H_in) "
                             f"for one unbatched sequence, got rank {input.dim()} with shape "
                             f"{_shape(input)}")
        if not input.is_floating_point():
            raise TypeError(f"{name} expected a floating-point input, got {input.dtype}; "
                            f"convert it with .float() (token ids go through an nn.Embedding first)")
        parameter = self.weight_ih_l0
        if input.dtype != parameter.dtype:
            raise TypeError(f"{name} input has dtype {input.dtype} but the parameters have "
                            f"{parameter.dtype}; convert one to match (e.g. model.double())")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name} expected input with {self.input_size} features "
                             f"(input_size), got {input.shape[-1]} in shape {_shape(input)}")
        time_axis = 1 if (self.batch_first and input.dim() == 3) else 0
        if input.shape[time_axis] == 0:
            raise ValueError(f"{name} expected a sequence of length >= 1, got shape {_shape(input)}")
        if hx is not None:
            self._check_state("hx", hx, input)

    def _expected_state_shape(self, input):
        stack = self.num_layers * self.num_directions
        if input.dim() == 2:
            return (stack, self.hidden_size)
        batch = input.shape[0] if self.batch_first else input.shape[1]
        return (stack, batch, self.hidden_size)

    def _check_state(self, label, state, input):
        name = type(self).__name__
        if not isinstance(state, torch.Tensor):
            raise TypeError(f"{name} expected {label} to be a torch.Tensor, got {type(state).__name__}")
        if state.dtype != input.dtype:
            raise TypeError(f"{name} expected {label} with dtype {input.dtype} (the input's), "
                            f"got {state.dtype}")
        expected = self._expected_state_shape(input)
        if _shape(state) != expected:
            raise ValueError(f"{name} expected {label} of shape {expected} = (num_layers * "
                             f"num_directions, batch, hidden_size), got {_shape(state)}")

    # ------------------------------------------------------------------ layers and directions
    # A model sets these two to its module's functions, and says which options they take.
    sequence = None            # (x, h0, *weights, **options) -> (output, h_last, caches)
    sequence_backward = None   # the hand-derived BPTT of `sequence`, see ManualBPTT

    def cell_options(self):
        return {}

    def _initial_state(self, input, batch):
        """hx when none is given: zeros. (An LSTM returns the pair (h_0, c_0).)"""
        return input.new_zeros(self.num_layers * self.num_directions, batch, self.hidden_size)

    def _run_direction(self, x, h0, weights):
        """One layer, one direction: x (L, N, H_in), h0 (N, H) -> output (L, N, H), h_last (N, H).

        h0 and h_last are tuples of (N, H) tensors for a tuple state."""
        sequence = partial(type(self).sequence, **self.cell_options())
        if self.bptt == "manual":
            if isinstance(h0, tuple):
                output, *h_last = ManualBPTT.apply(sequence, type(self).sequence_backward, x,
                                                   h0[0], *weights, *h0[1:])
                return output, tuple(h_last)
            return ManualBPTT.apply(sequence, type(self).sequence_backward, x, h0, *weights)
        output, h_last, _ = sequence(x, h0, *weights)
        return output, h_last

    def forward(self, input, hx=None):
        self._check_input(input, hx)
        unbatched = input.dim() == 2
        if unbatched:
            input = input.unsqueeze(1)
            hx = None if hx is None else map_state(lambda state: state.unsqueeze(1), hx)
        elif self.batch_first:
            input = input.transpose(0, 1)
        batch = input.shape[1]
        if hx is None:
            hx = self._initial_state(input, batch)

        layer_input, last_states = input, []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                # The reverse direction reads the sequence back to front.
                x = layer_input if direction == 0 else layer_input.flip(0)
                index = layer * self.num_directions + direction
                h0 = map_state(lambda state: state[index], hx)
                output, h_last = self._run_direction(x, h0, self.layer_weights(layer, direction))
                outputs.append(output if direction == 0 else output.flip(0))
                last_states.append(h_last)
            layer_input = torch.cat(outputs, dim=2) if len(outputs) > 1 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = nn.functional.dropout(layer_input, self.dropout, training=True)

        if isinstance(last_states[0], tuple):   # stack each part: (h_n, c_n)
            h_n = tuple(torch.stack(parts) for parts in zip(*last_states))
        else:
            h_n = torch.stack(last_states)
        output = layer_input
        if unbatched:
            return output.squeeze(1), map_state(lambda state: state.squeeze(1), h_n)
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, h_n
