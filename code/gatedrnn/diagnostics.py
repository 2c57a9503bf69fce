"""Measuring how gradients travel back through time, and looking inside a GRU."""
from typing import NamedTuple

import torch

from . import _checks, gru, lstm, rnn
from .bptt import run_sequence
from .layer import layer_weights


def state_gradients(step_backward, caches, dh_last):
    """dL/dH_t for t = T, T-1, ..., 0 when the loss depends on H_T alone.

    BPTT is step_backward applied again and again: each call takes dL/dH_t and returns
    dL/dH_{t-1}. caches: the forward pass's caches (from `bptt.run_sequence` with
    `rnn.step_forward` or `gru.step_forward`); dh_last: dL/dH_T, (n, h). Returns a list of
    T + 1 tensors (n, h), element k being dL/dH_{T-k}: the gradient k steps away from the loss.
    """
    _checks.check_caches(caches)
    gradients = [dh_last]
    with torch.no_grad():
        for cache in reversed(caches):
            _, dh_prev, _, _ = step_backward(gradients[-1], cache)
            gradients.append(dh_prev)
    return gradients


def mean_norms(gradients):
    """The batch mean of each gradient's row norms: a list of (n, h) tensors -> a (len,) tensor."""
    return torch.stack([g.norm(dim=1).mean() for g in gradients])


def rnn_gradient_norms(weight_hh, nonlinearity="tanh", *, steps=100, batch=32, input_size=4,
                       input_scale=0.5, seed=0):
    """Mean ||dL/dH_{T-k}|| over a batch, k = 0..steps, for the RNN (R1) with recurrent
    weights weight_hh (torch layout, W_hh^T) and the loss on H_T alone.

    The inputs and the input weights are random (seeded); ||dL/dH_T|| = 1 for every sequence,
    so element k is how much of a unit gradient survives k steps back. Runs in float64, so
    that gradients of 1e-40 and below stay measurable. nonlinearity: tanh, relu or identity.
    """
    _checks.check_choice("nonlinearity", nonlinearity, _checks.STEP_NONLINEARITIES)
    _checks.check_square("weight_hh", weight_hh)
    hidden = weight_hh.shape[0]
    generator = torch.Generator().manual_seed(seed)
    weight_hh = weight_hh.detach().to(torch.float64)
    weight_ih = torch.randn(hidden, input_size, generator=generator, dtype=torch.float64)
    x = torch.randn(steps, batch, input_size, generator=generator, dtype=torch.float64)
    zeros = torch.zeros(hidden, dtype=torch.float64)
    h0 = torch.zeros(batch, hidden, dtype=torch.float64)

    def step(gates_x, h_prev, weight_hh, bias_hh):
        return rnn.step_forward(gates_x, h_prev, weight_hh, bias_hh, nonlinearity)

    with torch.no_grad():
        _, _, caches = run_sequence(step, x, h0, input_scale * weight_ih, weight_hh, zeros, zeros)
    dh_last = torch.randn(batch, hidden, generator=generator, dtype=torch.float64)
    dh_last /= dh_last.norm(dim=1, keepdim=True)
    return mean_norms(state_gradients(rnn.step_backward, caches, dh_last))


def layer_state_gradients(layer, x, dh_last):
    """Mean ||dL/dH_{T-k}|| for k = 0..T through a one-layer, one-direction gatedrnn.RNN or
    gatedrnn.GRU, with the loss on H_T alone, and the forward caches (whose gates can be read).

    x: time-major input (T, n, d), run from a zero state with the layer's own weights and
    options; dh_last: dL/dH_T, (n, h). Returns (norms, caches).
    """
    _checks.check_instance("layer", layer, (rnn.RNN, gru.GRU), "layer_state_gradients")
    _checks.check_one_layer(layer, "layer_state_gradients")
    _checks.check_time_major(x, layer, "layer_state_gradients")
    step_forward, step_backward = layer.cell()
    with torch.no_grad():
        h0 = x.new_zeros(x.shape[1], layer.hidden_size)
        _, _, caches = run_sequence(step_forward, x, h0, *layer.layer_weights(0))
    return mean_norms(state_gradients(step_backward, caches, dh_last)), caches


class GRUTrace(NamedTuple):
    """Every step's gates and states of a one-layer GRU, each (N, L, H) batch-first or
    (L, N, H) time-major, like the layer's output."""
    reset_gate: torch.Tensor   # R_t, (G1)
    update_gate: torch.Tensor  # Z_t, (G2)
    candidate: torch.Tensor    # H~_t, (G3) or (G3')
    hidden: torch.Tensor       # H_t, (G4): the layer's output


def gru_trace(layer, input, hx=None):
    """Run a one-layer, one-direction GRU and return its gates at every step, a `GRUTrace`.

    layer: a gatedrnn.GRU or a torch.nn.GRU (same parameter names; torch.nn.GRU is reset-after).
    input: (L, N, d), or (N, L, d) if layer.batch_first, or one sequence (L, d); hx: the
    initial state (1, N, H) or (1, H), zeros if omitted. Runs the GRU's step function step by
    step without a graph: for looking at a model, not for training it.
    """
    _checks.check_layer_kind(layer, gru.GRU, "gru_trace")
    _checks.check_one_layer(layer, "gru_trace")
    _checks.check_sequence_input(layer, input, hx, "gru_trace")
    unbatched = input.dim() == 2
    x = input.unsqueeze(1) if unbatched else input.transpose(0, 1) if layer.batch_first else input
    if hx is None:
        h0 = x.new_zeros(x.shape[1], layer.hidden_size)
    else:
        h0 = hx if unbatched else hx[0]              # (N, H), or (1, H) for one sequence
    reset_after = getattr(layer, "reset_after", True)
    step = gru.step_forward if reset_after else gru.step_forward_reset_before
    with torch.no_grad():
        output, _, caches = run_sequence(step, x, h0, *layer_weights(layer, 0))
        trace = [torch.stack([getattr(cache, name) for cache in caches])
                 for name in ("reset_gate", "update_gate", "candidate")] + [output]
    if unbatched:
        trace = [t.squeeze(1) for t in trace]
    elif layer.batch_first:
        trace = [t.transpose(0, 1) for t in trace]
    return GRUTrace(*trace)


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


def lstm_state_gradients(caches, dh_last, dc_last=None):
    """Total dL/dH_t and dL/dC_t for t = T, T-1, ..., 0 of an LSTM, the loss on step T.

    caches: the forward pass's caches (from `bptt.run_sequence` with `lstm.step_forward`);
    dh_last: dL/dH_T, (n, h); dc_last: the direct dL/dC_T (a loss on C_T itself), zeros if
    omitted. `lstm.step_backward` returns dL/dC_{t-1} through (L5) alone; C_{t-1} also reaches
    the loss through H_{t-1} = O_{t-1} * tanh(C_{t-1}), (L6), so the total derivative adds
    dL/dH_{t-1} * O_{t-1} * (1 - tanh^2(C_{t-1})), (LB2). At t = 0 there is no such path (H_0
    is given, not computed from C_0). Returns two lists of T + 1 tensors (n, h), element k
    being dL/dH_{T-k} and dL/dC_{T-k}: the gradients k steps away from the loss.
    """
    _checks.check_caches(caches, lstm.LSTMCache, "lstm_state_gradients")
    dh, dc_carried = dh_last, torch.zeros_like(dh_last) if dc_last is None else dc_last
    dh_list, dc_list = [], []
    with torch.no_grad():
        for cache in reversed(caches):
            dh_list.append(dh)
            dc_list.append(dc_carried + dh * cache.output_gate
                           * (1 - cache.tanh_cell * cache.tanh_cell))          # (LB2)
            _, (dh, dc_carried), _, _ = lstm.step_backward((dh, dc_carried), cache)
    dh_list.append(dh)                 # dL/dH_0
    dc_list.append(dc_carried)         # dL/dC_0: through (L5) of step 1 alone
    return dh_list, dc_list
