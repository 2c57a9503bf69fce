"""Looking inside a trained LSTM: every step's gates and states, like `diagnostics.gru_trace`.

One design for both traces: a one-layer, one-direction layer from gatedrnn or torch.nn (same
parameter names), input in the layer's own layout or one sequence, the package's own forward
step run without a graph, and a NamedTuple of (L, N, H) tensors (or (N, L, H) if batch_first,
(L, H) for one sequence), like the layer's output. (`lstm_trace` lives here, beside
`diagnostics.gru_trace`, while the package is being regrouped; the two belong in one module.)
"""
from typing import NamedTuple

import torch

from . import lstm
from ._recurrent import check_gate_blocks


class LSTMTrace(NamedTuple):
    """Every step's gates and states of a one-layer LSTM, each (N, L, H) batch-first or
    (L, N, H) time-major, like the layer's output."""
    input_gate: torch.Tensor   # I_t, (L1)
    forget_gate: torch.Tensor  # F_t, (L2)
    candidate: torch.Tensor    # C~_t, (L3)
    output_gate: torch.Tensor  # O_t, (L4)
    cell: torch.Tensor         # C_t, (L5)
    hidden: torch.Tensor       # H_t, (L6): the layer's output


def _time_major(layer, input, caller, kind):
    """Check a one-layer, one-direction layer and its input; return (x (L, N, d), unbatched)."""
    if layer.num_layers != 1 or layer.bidirectional:
        raise ValueError(f"{caller} expects one layer and one direction, got num_layers="
                         f"{layer.num_layers}, bidirectional={layer.bidirectional}")
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"{caller} expects input to be a torch.Tensor, got {type(input).__name__}")
    if input.dim() not in (2, 3):
        raise ValueError(f"{caller} expects input of rank 3 or 2 (one sequence), got shape "
                         f"{tuple(input.shape)}")
    if input.shape[-1] != layer.input_size:
        raise ValueError(f"{caller}: the {kind} has input_size {layer.input_size}, the input "
                         f"has {input.shape[-1]} features (shape {tuple(input.shape)})")
    unbatched = input.dim() == 2
    x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if layer.batch_first
                                              else input)
    return x, unbatched


def _initial(state, hidden_size, x, unbatched, caller, name):
    # One initial state, (1, N, H) or (1, H) as the layer takes it, as (N, H); zeros if None.
    if state is None:
        return x.new_zeros(x.shape[1], hidden_size)
    expected = (1, hidden_size) if unbatched else (1, x.shape[1], hidden_size)
    if not isinstance(state, torch.Tensor) or tuple(state.shape) != expected:
        raise ValueError(f"{caller} expects {name} of shape {expected}, got "
                         f"{tuple(getattr(state, 'shape', ())) or type(state).__name__}")
    return state if unbatched else state[0]


def _layer_layout(tensors, layer, unbatched):
    # (L, N, H) tensors back to the layout of the layer's output.
    if unbatched:
        return [t.squeeze(1) for t in tensors]
    if layer.batch_first:
        return [t.transpose(0, 1) for t in tensors]
    return list(tensors)


def lstm_trace(layer, input, hx=None):
    """Run a one-layer, one-direction LSTM and return its gates and states at every step, an
    `LSTMTrace` (I, F, C~, O, C, H).

    layer: a gatedrnn.LSTM or a torch.nn.LSTM (same parameter names), without projections.
    input: (L, N, d), or (N, L, d) if layer.batch_first, or one sequence (L, d); hx: the
    initial pair (h_0, c_0), each (1, N, H) or (1, H), zeros if omitted. Runs
    `lstm.step_forward` step by step without a graph: for looking at a model, not for
    training it.
    """
    hidden_size = check_gate_blocks(layer, 4, "lstm_trace", "LSTM")
    if getattr(layer, "proj_size", 0):
        raise ValueError(f"lstm_trace expects an LSTM without projections, got proj_size="
                         f"{layer.proj_size}")
    x, unbatched = _time_major(layer, input, "lstm_trace", "LSTM")
    if hx is None:
        hx = (None, None)
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"lstm_trace expects hx to be a pair (h_0, c_0), got "
                        f"{type(hx).__name__}")
    h0 = _initial(hx[0], hidden_size, x, unbatched, "lstm_trace", "h_0")
    c0 = _initial(hx[1], hidden_size, x, unbatched, "lstm_trace", "c_0")
    weight_ih, weight_hh = layer.weight_ih_l0, layer.weight_hh_l0
    zeros = weight_hh.new_zeros(4 * hidden_size)
    bias_ih = getattr(layer, "bias_ih_l0", None)
    bias_hh = getattr(layer, "bias_hh_l0", None)
    bias_ih = zeros if bias_ih is None else bias_ih      # bias=False: the equations stay
    bias_hh = zeros if bias_hh is None else bias_hh
    with torch.no_grad():
        output, _, caches = lstm.lstm_sequence(x, (h0, c0), weight_ih, weight_hh, bias_ih,
                                               bias_hh)
        gates = [torch.stack([getattr(cache, name) for cache in caches])
                 for name in ("input_gate", "forget_gate", "candidate", "output_gate")]
        # C_t: the cell after step t is the c_prev of step t + 1; the last one from (L5)
        last = caches[-1]
        c_last = last.forget_gate * last.c_prev + last.input_gate * last.candidate
        cell = torch.stack([cache.c_prev for cache in caches[1:]] + [c_last])
    return LSTMTrace(*_layer_layout(gates + [cell, output], layer, unbatched))
