"""Measuring how gradients travel back through time, and looking inside a GRU."""
from typing import NamedTuple

import torch

from . import gru, rnn
from ._recurrent import check_gate_blocks


def state_gradients(step_backward, caches, dh_last):
    """dL/dH_t for t = T, T-1, ..., 0 when the loss depends on H_T alone.

    BPTT is step_backward applied again and again: each call takes dL/dH_t and returns
    dL/dH_{t-1}. caches: the forward pass's caches (from `rnn.rnn_sequence` or
    `gru.gru_sequence`); dh_last: dL/dH_T, (n, h). Returns a list of T + 1 tensors (n, h),
    element k being dL/dH_{T-k}: the gradient k steps away from the loss.
    """
    if not caches:
        raise ValueError("caches is empty: run the sequence forward first")
    gradients = [dh_last]
    dh = dh_last
    with torch.no_grad():
        for cache in reversed(caches):
            _, dh, _ = step_backward(dh, cache)
            gradients.append(dh)
    return gradients


def scaled_orthogonal(size, spectral_norm, *, generator=None, dtype=torch.float64):
    """A random orthogonal (size, size) matrix times spectral_norm: every singular value, the
    largest included, equals spectral_norm, so sigma_max is exactly what was asked for."""
    if not spectral_norm >= 0:
        raise ValueError(f"spectral_norm must be >= 0, got {spectral_norm!r}")
    gaussian = torch.randn(size, size, generator=generator, dtype=dtype)
    q, r = torch.linalg.qr(gaussian)
    # The sign fix makes Q Haar-distributed (uniform over orthogonal matrices).
    return spectral_norm * q * torch.sign(torch.diagonal(r))


def rnn_gradient_norms(weight_hh, nonlinearity="tanh", *, steps=100, batch=32, input_size=4,
                       input_scale=0.5, seed=0):
    """Mean ||dL/dH_{T-k}|| over a batch, k = 0..steps, for the RNN (R1) with recurrent
    weights weight_hh (torch layout, W_hh^T) and the loss on H_T alone.

    The inputs and the input weights are random (seeded); ||dL/dH_T|| = 1 for every sequence,
    so element k is how much of a unit gradient survives k steps back. Runs in float64, so
    that gradients of 1e-40 and below stay measurable. nonlinearity: tanh, relu or identity.
    """
    if nonlinearity not in rnn.STEP_NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {rnn.STEP_NONLINEARITIES}, "
                         f"got {nonlinearity!r}")
    if not isinstance(weight_hh, torch.Tensor) or weight_hh.dim() != 2 \
            or weight_hh.shape[0] != weight_hh.shape[1]:
        raise ValueError(f"weight_hh must be a square (h, h) tensor, got "
                         f"{getattr(weight_hh, 'shape', type(weight_hh).__name__)}")
    hidden = weight_hh.shape[0]
    generator = torch.Generator().manual_seed(seed)
    weight_hh = weight_hh.detach().to(torch.float64)
    weight_ih = torch.randn(hidden, input_size, generator=generator, dtype=torch.float64)
    x = torch.randn(steps, batch, input_size, generator=generator, dtype=torch.float64)
    zeros = torch.zeros(hidden, dtype=torch.float64)
    h0 = torch.zeros(batch, hidden, dtype=torch.float64)
    with torch.no_grad():
        _, _, caches = rnn.rnn_sequence(x, h0, input_scale * weight_ih, weight_hh, zeros, zeros,
                                        nonlinearity=nonlinearity)
    dh_last = torch.randn(batch, hidden, generator=generator, dtype=torch.float64)
    dh_last /= dh_last.norm(dim=1, keepdim=True)
    gradients = state_gradients(rnn.step_backward, caches, dh_last)
    return mean_norms(gradients)


def mean_norms(gradients):
    """The batch mean of each gradient's row norms: a list of (n, h) tensors -> a (len,) tensor."""
    return torch.stack([g.norm(dim=1).mean() for g in gradients])


def layer_state_gradients(layer, x, dh_last):
    """Mean ||dL/dH_{T-k}|| for k = 0..T through a one-layer, one-direction gatedrnn.RNN or
    gatedrnn.GRU, with the loss on H_T alone, and the forward caches (whose gates can be read).

    x: time-major input (T, n, d), run from a zero state with the layer's own weights and
    options; dh_last: dL/dH_T, (n, h). Returns (norms, caches).
    """
    from .gru import GRU  # the layer classes import this module's siblings; import late
    from .rnn import RNN
    if isinstance(layer, GRU):
        module, sequence = gru, gru.gru_sequence
    elif isinstance(layer, RNN):
        module, sequence = rnn, rnn.rnn_sequence
    else:
        raise TypeError(f"layer_state_gradients expects a gatedrnn.RNN or gatedrnn.GRU, "
                        f"got {type(layer).__name__}")
    if layer.num_layers != 1 or layer.bidirectional:
        raise ValueError(f"layer_state_gradients expects one layer and one direction, got "
                         f"num_layers={layer.num_layers}, bidirectional={layer.bidirectional}")
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[2] != layer.input_size:
        raise ValueError(f"x must be time-major (T, n, {layer.input_size}), got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    with torch.no_grad():
        weights = [w.detach() for w in layer.layer_weights(0)]
        h0 = x.new_zeros(x.shape[1], layer.hidden_size)
        _, _, caches = sequence(x, h0, *weights, **layer.cell_options())
    return mean_norms(state_gradients(module.step_backward, caches, dh_last)), caches


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
    initial state (1, N, H) or (1, H), zeros if omitted. Runs `gru.step_forward` step by
    step without a graph: for looking at a model, not for training it.
    """
    hidden_size = check_gate_blocks(layer, 3, "gru_trace", "GRU")
    if layer.num_layers != 1 or layer.bidirectional:
        raise ValueError(f"gru_trace expects one layer and one direction, got num_layers="
                         f"{layer.num_layers}, bidirectional={layer.bidirectional}")
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"gru_trace expects input to be a torch.Tensor, got {type(input).__name__}")
    if input.dim() not in (2, 3):
        raise ValueError(f"gru_trace expects input of rank 3 or 2 (one sequence), got shape "
                         f"{tuple(input.shape)}")
    if input.shape[-1] != layer.input_size:
        raise ValueError(f"gru_trace: the layer has input_size {layer.input_size}, the input "
                         f"has {input.shape[-1]} features (shape {tuple(input.shape)})")
    unbatched = input.dim() == 2
    x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if layer.batch_first
                                              else input)
    weight_ih, weight_hh = layer.weight_ih_l0, layer.weight_hh_l0
    zeros = weight_hh.new_zeros(3 * hidden_size)
    bias_ih = getattr(layer, "bias_ih_l0", None)
    bias_hh = getattr(layer, "bias_hh_l0", None)
    bias_ih = zeros if bias_ih is None else bias_ih      # bias=False: the equations stay
    bias_hh = zeros if bias_hh is None else bias_hh
    if hx is None:
        h0 = x.new_zeros(x.shape[1], hidden_size)
    else:
        expected = (1, hidden_size) if unbatched else (1, x.shape[1], hidden_size)
        if tuple(hx.shape) != expected:
            raise ValueError(f"gru_trace expects hx of shape {expected}, got {tuple(hx.shape)}")
        h0 = hx[0] if not unbatched else hx
    with torch.no_grad():
        output, _, caches = gru.gru_sequence(x, h0, weight_ih, weight_hh, bias_ih, bias_hh,
                                             reset_after=getattr(layer, "reset_after", True))
        trace = [torch.stack([getattr(cache, name) for cache in caches])
                 for name in ("reset_gate", "update_gate", "candidate")] + [output]
    if unbatched:
        trace = [t.squeeze(1) for t in trace]
    elif layer.batch_first:
        trace = [t.transpose(0, 1) for t in trace]
    return GRUTrace(*trace)


def lstm_state_gradients(caches, dh_last, dc_last=None):
    """Total dL/dH_t and dL/dC_t for t = T, T-1, ..., 0 of an LSTM, the loss on step T.

    caches: the forward pass's caches (from `lstm.lstm_sequence`); dh_last: dL/dH_T, (n, h);
    dc_last: the direct dL/dC_T (a loss on C_T itself), zeros if omitted. `lstm.step_backward`
    returns dL/dC_{t-1} through (L5) alone; C_{t-1} also reaches the loss through
    H_{t-1} = O_{t-1} * tanh(C_{t-1}), (L6), so the total derivative adds
    dL/dH_{t-1} * O_{t-1} * (1 - tanh^2(C_{t-1})). At t = 0 there is no such path (H_0 is
    given, not computed from C_0). Returns two lists of T + 1 tensors (n, h), element k being
    dL/dH_{T-k} and dL/dC_{T-k}: the gradients k steps away from the loss.
    """
    from . import lstm  # here, not at the top: lstm is not needed by the rest of this module
    if not caches:
        raise ValueError("caches is empty: run the sequence forward first")
    if not isinstance(caches[0], lstm.LSTMCache):
        raise TypeError(f"lstm_state_gradients expects the caches of lstm.lstm_sequence, "
                        f"got {type(caches[0]).__name__}")
    dc_partial = torch.zeros_like(dh_last) if dc_last is None else dc_last
    dh = dh_last
    dh_list, dc_list = [], []
    with torch.no_grad():
        for cache in reversed(caches):
            # C_t's total derivative: the carry path from step t + 1 plus the path through H_t
            dc_list.append(dc_partial + dh * cache.output_gate
                           * (1 - cache.tanh_cell * cache.tanh_cell))
            dh_list.append(dh)
            _, (dh, dc_partial), _ = lstm.step_backward((dh, dc_partial), cache)
    dh_list.append(dh)           # dL/dH_0
    dc_list.append(dc_partial)   # dL/dC_0: through (L5) of step 1 alone
    return dh_list, dc_list
