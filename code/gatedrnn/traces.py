"""Looking inside a trained LSTM: every step's gates and states, like `diagnostics.gru_trace`.

The same design as `gru_trace`, on the same checks (`_checks`), forward pass (`bptt.run_sequence`)
and weights (`layer.layer_weights`): a one-layer, one-direction layer from gatedrnn or torch.nn,
input in the layer's own layout or one sequence, the model's step function run without a graph,
and a NamedTuple of (L, N, H) tensors ((N, L, H) if batch_first, (L, H) for one sequence), like
the layer's output. (It can move into `diagnostics` beside `gru_trace` as it is.)
"""
from typing import NamedTuple

import torch

from . import _checks, lstm
from .bptt import run_sequence
from .layer import layer_weights


class LSTMTrace(NamedTuple):
    """Every step's gates and states of a one-layer LSTM, each (N, L, H) batch-first or
    (L, N, H) time-major, like the layer's output."""
    input_gate: torch.Tensor   # I_t, (L1)
    forget_gate: torch.Tensor  # F_t, (L2)
    candidate: torch.Tensor    # C~_t, (L3)
    output_gate: torch.Tensor  # O_t, (L4)
    cell: torch.Tensor         # C_t, (L5)
    hidden: torch.Tensor       # H_t, (L6): the layer's output


def lstm_trace(layer, input, hx=None):
    """Run a one-layer, one-direction LSTM and return its gates and states at every step, an
    `LSTMTrace` (I, F, C~, O, C, H).

    layer: a gatedrnn.LSTM or a torch.nn.LSTM (same parameter names), without projections.
    input: (L, N, d), or (N, L, d) if layer.batch_first, or one sequence (L, d); hx: the
    initial pair (h_0, c_0), each (1, N, H) or (1, H), zeros if omitted. Runs
    `lstm.step_forward` step by step without a graph: for looking at a model, not for
    training it.
    """
    _checks.check_layer_kind(layer, lstm.LSTM, "lstm_trace")
    _checks.check_one_layer(layer, "lstm_trace")
    if getattr(layer, "proj_size", 0):
        raise ValueError(f"lstm_trace expects an LSTM without projections, got proj_size="
                         f"{layer.proj_size}")
    if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
        raise TypeError(f"lstm_trace expects hx to be a pair (h_0, c_0), got "
                        f"{type(hx).__name__}")
    for state in (None,) if hx is None else hx:
        _checks.check_sequence_input(layer, input, state, "lstm_trace")
    unbatched = input.dim() == 2
    x = input.unsqueeze(1) if unbatched else input.transpose(0, 1) if layer.batch_first else input
    if hx is None:
        state0 = (x.new_zeros(x.shape[1], layer.hidden_size),) * 2
    else:
        state0 = tuple(s if unbatched else s[0] for s in hx)   # (N, H), or (1, H) for one sequence
    with torch.no_grad():
        output, _, caches = run_sequence(lstm.step_forward, x, state0, *layer_weights(layer, 0))
        gates = [torch.stack([getattr(cache, name) for cache in caches])
                 for name in ("input_gate", "forget_gate", "candidate", "output_gate")]
        # C_t is the next step's c_prev; the last one by (L5)
        last = caches[-1]
        c_last = last.forget_gate * last.c_prev + last.input_gate * last.candidate
        cell = torch.stack([cache.c_prev for cache in caches[1:]] + [c_last])
    trace = gates + [cell, output]
    if unbatched:
        trace = [t.squeeze(1) for t in trace]
    elif layer.batch_first:
        trace = [t.transpose(0, 1) for t in trace]
    return LSTMTrace(*trace)
