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
from .bptt import linear, workspace
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
      fast twin of `step_forward` and `step_backward` below, `FusedLSTM`), as for
      `gatedrnn.GRU`.

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
        return FusedLSTM.apply


# ----------------------------------------------------------------------------- Fast twin
# What bptt="manual" trains with: the pair above for a whole sequence, in fewer and larger
# operations. tests/test_fused.py checks it against `bptt.ManualBPTT` with the pair above.

STEPS_PER_BLOCK = 20   # steps prepared together, outside the loop but close enough to stay cached


class FusedLSTM(torch.autograd.Function):
    """FusedLSTM.apply(x, weight_ih, weight_hh, bias_ih, bias_hh, H0, C0) -> (output, H_T, C_T).

    Forward: one sigmoid for all four blocks, with the candidate's weights and biases doubled,
    tanh(a) = 2 sigma(2a) - 1; both biases added once, with the input shares X_t W_x of a block of
    steps; each step writing into tensors that hold the whole sequence. Backward: what
    multiplies the incoming gradient in (LB1)-(LB4), prepared for a block of steps at a time
    (`_backward_factors`), so that a step of the loop is five elementwise operations and (LB5);
    then (LB6) for both weight matrices as one matrix product over all steps. Large float32
    products go to oneDNN (`bptt.linear`).
    """

    @staticmethod
    def forward(ctx, x, weight_ih, weight_hh, bias_ih, bias_hh, H0, C0):
        steps, n, h = x.shape[0], x.shape[1], weight_hh.shape[1]
        # One sigmoid over each step's whole gate row: a second call, tanh on the candidate's
        # strided columns, made the training step about a quarter slower (measured).
        doubled = torch.ones_like(weight_hh[:, :1])              # (4h, 1): 2 on the candidate
        doubled[2 * h:3 * h] = 2
        weight_ih2, weight_hh2 = weight_ih * doubled, weight_hh * doubled
        bias2 = (bias_ih + bias_hh) * doubled[:, 0]
        gates = x.new_empty(steps, n, 4 * h)                     # I, F, C~, O of every step
        cells, output = x.new_empty(2, steps, n, h)              # C_t and H_t of every step
        # Each step's rows, taken apart once (indexing a tensor in the loop costs more).
        gate_rows, cell_rows, output_rows = gates.unbind(0), cells.unbind(0), output.unbind(0)
        I_rows, F_rows, C_tilde_rows, O_rows = (block.unbind(0) for block in gates.split(h, 2))
        H, C = H0, C0
        for t in range(steps):
            if t % STEPS_PER_BLOCK == 0:
                gates_x = linear(x[t:t + STEPS_PER_BLOCK], weight_ih2, bias2).unbind(0)
            A = linear(H, weight_hh2, add=gates_x[t % STEPS_PER_BLOCK])
            torch.sigmoid(A, out=gate_rows[t])                                 # (L1), (L2), (L4)
            C_tilde = C_tilde_rows[t].mul_(2).sub_(1)                          # (L3)
            C = torch.mul(F_rows[t], C, out=cell_rows[t]).addcmul_(I_rows[t], C_tilde)   # (L5)
            H = torch.mul(O_rows[t], torch.tanh(C), out=output_rows[t])        # (L6)
        ctx.save_for_backward(x, weight_ih, weight_hh, H0, C0, gates, cells, output)
        return output, H.clone(), C.clone()

    @staticmethod
    def backward(ctx, doutput, dH_last, dC_last):
        x, weight_ih, weight_hh, H0, C0, gates, cells, output = ctx.saved_tensors
        steps, h = x.shape[0], weight_hh.shape[1]
        dgates = workspace("lstm dgates", gates)   # [dA^i, dA^f, dA^c, dA^o] of every step
        by_block = dgates.view(steps, -1, 4, h)
        dgate_rows, doutput_rows = dgates.unbind(0), doutput.unbind(0)
        ifc_rows, o_rows = by_block[:, :, :3].unbind(0), by_block[:, :, 3].unbind(0)
        dH, dC, weight_hh_t = dH_last, dC_last, weight_hh.t()
        for t in reversed(range(steps)):
            if t == steps - 1 or (t + 1) % STEPS_PER_BLOCK == 0:   # the last step of a block
                start = t - t % STEPS_PER_BLOCK
                cells_before = (torch.cat([C0.unsqueeze(0), cells[:t]]) if start == 0
                                else cells[start - 1:t])
                dC_factors, forget_gates = (block.unbind(0) for block in _backward_factors(
                    gates[start:t + 1], cells[start:t + 1], cells_before, dgates[start:t + 1]))
            dH = dH + doutput_rows[t]                                          # (B1)
            dC = torch.addcmul(dC, dH, dC_factors[t - start])                  # (LB2)
            ifc_rows[t].mul_(dC.unsqueeze(1))          # dA^i, dA^f, dA^c: (LB3), (LB4)
            o_rows[t].mul_(dH)                         # dA^o: (LB1), (LB4)
            dH = linear(dgate_rows[t], weight_hh_t)                            # (LB5)
            dC = dC * forget_gates[t - start]                                  # (LB3)
        # (LB6) over all steps, sum_t H_{t-1}^T dA_t and sum_t X_t^T dA_t, as one product
        # [H_{t-1} | X_t]^T dA over all steps, formed transposed so that the long sum over
        # steps runs along the rows of both factors.
        dgates_all, n = dgates.flatten(0, 1), x.shape[1]
        # [H_0 ... H_{T-1} | X_1 ... X_T]^T
        reads_t = workspace("lstm reads_t", x, (h + x.shape[2], steps * n))
        reads_t[:h, :n] = H0.t()
        reads_t[:h, n:] = output[:-1].flatten(0, 1).t()
        reads_t[h:] = x.flatten(0, 1).t()
        dweight_hh, dweight_ih = linear(reads_t, dgates_all.t()).t().split([h, x.shape[2]], dim=1)
        dweight_hh, dweight_ih = dweight_hh.contiguous(), dweight_ih.contiguous()
        dx = linear(dgates, weight_ih.t()) if ctx.needs_input_grad[0] else None
        dbias = dgates_all.sum(dim=0)
        return dx, dweight_ih, dweight_hh, dbias, dbias, dH, dC


def _backward_factors(gates, cells, cells_before, factors):
    """For a block of steps, what multiplies the incoming gradient in (LB1)-(LB4).

    Writes into factors the blocks [C~ I (1 - I), C_{t-1} F (1 - F), I (1 - C~^2),
    tanh(C_t) O (1 - O)], which dA^i, dA^f, dA^c take from dC and dA^o from dH.
    Returns (O (1 - tanh^2 C_t), which dC takes from dH in (LB2); F_t, which dC->_{t-1} takes
    from dC in (LB3)).
    """
    h = cells.shape[2]
    I, F, C_tilde, O = gates.split(h, dim=2)
    torch.addcmul(gates, gates, gates, value=-1, out=factors)        # Gamma (1 - Gamma)
    factor_i, factor_f, factor_c, factor_o = factors.split(h, dim=2)
    factor_i.mul_(C_tilde)
    factor_f.mul_(cells_before)
    torch.mul(C_tilde, C_tilde, out=factor_c).neg_().add_(1).mul_(I)
    tanh_cells = torch.tanh(cells)
    factor_o.mul_(tanh_cells)
    return tanh_cells.mul_(tanh_cells).neg_().add_(1).mul_(O), F

