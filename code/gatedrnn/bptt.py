"""Backpropagation through time, for any cell: the loop forward, the loop back, and the
autograd.Function that trains a layer with the hand-derived backward pass.

A cell is a pair of step functions (``rnn.py``, ``gru.py``, ``lstm.py``)::

    step_forward(gates_x, state_prev, weight_hh, bias_hh) -> (state, cache)
    step_backward(dstate, cache) -> (dgates_x, dstate_prev, dweight_hh, dbias_hh)

A state is H_t (RNN, GRU) or the pair (H_t, C_t) (LSTM); the layer outputs H_t, the first
entry. ``gates_x`` is the input's share X_t W_x + b_x of every pre-activation: it does not
depend on H_{t-1}, so `run_sequence` forms it for all steps in one matrix product before the
loop (as cuDNN does), and `sequence_backward` forms its gradients for all steps in one product
after the loop. Each step returns its share of the recurrent weights' gradient, and the loop
adds them up: (B3), (GB6), (LB6).

The layers train (bptt="manual") with a fast twin: the RNN and the GRU with `FusedBPTT` at the
end of this module, the same loops run with the model's fused pair of step functions and the
recurrent weights' gradient as one matrix product after the loop; the LSTM with its own
`lstm.FusedLSTM`. Both use `linear`, the fast twin's matrix product (oneDNN for large float32
products), and `workspace`, memory their backward passes keep from one call to the next.
"""
import threading

import torch


def hidden_of(state):
    """H_t of a state: the state itself, or the first entry of a pair (H_t, C_t)."""
    return state[0] if isinstance(state, tuple) else state


def with_direct_part(dstate, doutput_t):
    """(B1): dL/dH_t = the direct part from the output at t + what step t+1 sent back."""
    if isinstance(dstate, tuple):
        return (dstate[0] + doutput_t, *dstate[1:])
    return dstate + doutput_t


def run_sequence(step_forward, x, state0, weight_ih, weight_hh, bias_ih, bias_hh):
    """Run a cell over a time-major sequence x (T, n, d) from state0.

    Returns (output (T, n, h), the last state, the caches of every step); output stacks H_t.
    Under autograd this *is* the "autograd" path.
    """
    gates_x = torch.matmul(x, weight_ih.t()).add_(bias_ih)  # X_t W_x + b_x, every t at once
    state, outputs, caches = state0, [], []
    for gates_x_t in gates_x:
        state, cache = step_forward(gates_x_t, state, weight_hh, bias_hh)
        outputs.append(hidden_of(state))
        caches.append(cache)
    return torch.stack(outputs), state, caches


def backward_through_time(step_backward, doutput, dstate_last, caches):
    """The loop of BPTT: step_backward from t = T down to 1.

    doutput (T, n, h): the direct part dL+/dH_t from the layer's output at every step;
    dstate_last: dL/dH_T from the final state (for an LSTM, the pair (dL/dH_T, dL/dC_T)).
    Returns (dgates_x (T, n, G h), dL/d state0, dweight_hh, dbias_hh).
    """
    dstate, dgates_x = dstate_last, [None] * len(caches)
    dweight_hh = dbias_hh = 0
    for t in reversed(range(len(caches))):
        dstate = with_direct_part(dstate, doutput[t])                        # (B1)
        dgates_x[t], dstate, dweight_t, dbias_t = step_backward(dstate, caches[t])
        dweight_hh = dweight_hh + dweight_t                  # each step's share: (B3)
        dbias_hh = dbias_hh + dbias_t
    return torch.stack(dgates_x), dstate, dweight_hh, dbias_hh


def sequence_backward(step_backward, doutput, dstate_last, x, caches, weight_ih, need_dx=True):
    """Backpropagation through time for `run_sequence`: every gradient of one layer.

    The recurrent weights' gradients are summed over the steps inside the loop; the input
    weights' gradients, sum_t X_t^T dL/d(gates_x)_t, are one matrix product after it.
    Returns (dx, dL/d state0, dweight_ih, dweight_hh, dbias_ih, dbias_hh).
    """
    dgates_x, dstate0, dweight_hh, dbias_hh = backward_through_time(
        step_backward, doutput, dstate_last, caches)
    dx, dweight_ih, dbias_ih = input_gradients(dgates_x, x, weight_ih, need_dx)
    return dx, dstate0, dweight_ih, dweight_hh, dbias_ih, dbias_hh


def input_gradients(dgates_x, x, weight_ih, need_dx=True):
    """The input's share X_t W_x + b_x for all steps, backward: dx, dweight_ih, dbias_ih."""
    dx = torch.matmul(dgates_x, weight_ih) if need_dx else None
    return dx, dgates_x.flatten(0, 1).t() @ x.flatten(0, 1), dgates_x.sum(dim=(0, 1))


def _parts(state):
    return state if isinstance(state, tuple) else (state,)


class ManualBPTT(torch.autograd.Function):
    """The hand-derived backward: `run_sequence` without a graph, then `sequence_backward`.

    ManualBPTT.apply(step_forward, step_backward, x, weight_ih, weight_hh, bias_ih, bias_hh,
    *state0) -> (output, *last_state). Every state tensor (H_0, and the LSTM's C_0) comes last
    and is treated alike, because autograd tracks only tensors passed directly.
    """

    @staticmethod
    def forward(ctx, step_forward, step_backward, x, weight_ih, weight_hh, bias_ih, bias_hh,
                *state0):
        state = state0[0] if len(state0) == 1 else state0
        output, state_last, caches = run_sequence(step_forward, x, state, weight_ih, weight_hh,
                                                  bias_ih, bias_hh)
        # weight_hh is saved only so that changing it in place before backward raises an error:
        # the caches hold it, and (B2) would silently use the changed matrix.
        ctx.save_for_backward(x, weight_ih, weight_hh)
        ctx.step_backward, ctx.caches = step_backward, caches
        # Clones, so that changing a returned state in place cannot change a cache.
        return (output, *(part.clone() for part in _parts(state_last)))

    @staticmethod
    def backward(ctx, doutput, *dstate_last):
        x, weight_ih, _ = ctx.saved_tensors
        dstate = dstate_last[0] if len(dstate_last) == 1 else dstate_last
        dx, dstate0, *dweights = sequence_backward(ctx.step_backward, doutput, dstate, x,
                                                   ctx.caches, weight_ih,
                                                   need_dx=ctx.needs_input_grad[2])
        return (None, None, dx, *dweights, *_parts(dstate0))


# ----------------------------------------------------------------------------- Fast twin
# What the RNN and the GRU train with (bptt="manual"): the loops above, run with the model's fused
# pair of step functions (`fused_step_forward`, `fused_step_backward` in rnn.py and gru.py):
# the same equations in fewer, larger operations. The backward step returns, instead of its
# share of (B3), the gradient of its hidden share H_{t-1} W_h + b_h, and (B3) is one matrix
# product over all steps after the loop. tests/test_fused.py checks that both paths agree.

def tanh_(a):
    """tanh(a) in place, as 2 sigma(2a) - 1 (exact but for rounding): torch's CPU sigmoid is
    several times faster than its tanh, and the fused steps call it once or twice a step."""
    return a.mul_(2).sigmoid_().mul_(2).sub_(1)


def _onednn_works():
    """Whether this PyTorch build runs oneDNN's matrix product (see `linear`) on this CPU."""
    try:
        X, weight = torch.ones(2, 3), torch.ones(4, 3)
        return torch.equal(torch.ops.mkldnn._linear_pointwise(X, weight, None, "none", [], ""),
                           X @ weight.t())
    except (AttributeError, NotImplementedError, RuntimeError):
        return False


ONEDNN = torch.backends.mkldnn.is_available() and _onednn_works()
ONEDNN_MIN_PRODUCTS = 2 ** 21   # multiply-adds below which a oneDNN call costs more than it saves


def linear(X, weight, bias=None, add=None):
    """X weight^T (+ bias) (+ add): a matrix product of the fast twin.

    Large float32 products on the CPU go to oneDNN, the library torch.nn.LSTM's fused kernel
    runs on, instead of torch.matmul's BLAS (MKL): on CPUs where MKL takes a slower path (AMD's,
    for one) oneDNN's is up to twice as fast. Each oneDNN call costs about 10 microseconds to set
    up, so products of fewer than ONEDNN_MIN_PRODUCTS multiply-adds stay with torch.matmul, as
    do float64, other devices, builds without oneDNN, and every product inside
    ``torch.backends.mkldnn.flags(enabled=False)``. The two libraries add in different orders,
    so their float32 results differ in the last bits.
    """
    if (ONEDNN and X.dtype == torch.float32 and X.device.type == "cpu"
            and X.numel() * weight.shape[0] >= ONEDNN_MIN_PRODUCTS
            and torch.backends.mkldnn.enabled):
        if add is None:
            return torch.ops.mkldnn._linear_pointwise(X, weight, bias, "none", [], "")
        return torch.ops.mkldnn._linear_pointwise.binary(X, add, weight, bias, "add")
    Y = torch.matmul(X, weight.t())
    if bias is not None:
        Y = Y.add_(bias)
    return Y if add is None else Y.add_(add)


_PER_THREAD = threading.local()   # .workspaces: {name: tensor}, see `workspace`


def workspace(name, like, shape=None):
    """An uninitialised tensor of `shape` (default: like's), kept for the next backward pass.

    The fast twin's backward passes write their large intermediates (the gates' gradients of
    every step, and the like) into these and drop them before they return; fresh tensors of
    10-20 MB at every call cost more than the arithmetic on them, because the allocator gives
    such blocks back to the operating system, which hands them out again zeroed, page by page.
    One tensor per name and thread, replaced when the shape changes.
    """
    shape = tuple(like.shape if shape is None else shape)
    workspaces = _PER_THREAD.__dict__.setdefault("workspaces", {})
    kept = workspaces.get(name)
    if kept is None or (kept.shape, kept.dtype, kept.device) != (shape, like.dtype, like.device):
        kept = workspaces[name] = like.new_empty(shape)
    return kept


def fused_sequence_backward(step_backward, doutput, dstate_last, caches, H0, output,
                            weight_hh):
    """`backward_through_time` with a fused step_backward, and (B3) in one product.

    step_backward(dstate, cache, dgates_x, spare) -> (dstate_prev, dhidden) writes this step's
    dgates_x (n, G h) into the row it is given; dhidden, the gradient of the hidden share
    H_{t-1} W_h + b_h, is None where it is dgates_x too (RNN, LSTM), else (GRU) the spare row,
    filled with it. H0 and output (T, n, h) give the H_{t-1} of every step. Returns what
    `backward_through_time` returns.
    """
    dstate, steps = dstate_last, len(caches)
    # dgates_x and, where a step returns it apart (the GRU), dhidden, kept between calls
    dgates_x, spare = workspace("fused dgates", doutput, (2, steps, doutput.shape[1],
                                                    weight_hh.shape[0]))
    # Each step's rows, taken apart once (indexing a tensor in the loop costs more than this).
    doutputs, dgates_rows, spare_rows = doutput.unbind(0), dgates_x.unbind(0), spare.unbind(0)
    for t in reversed(range(steps)):
        dstate = with_direct_part(dstate, doutputs[t])                       # (B1)
        dstate, dhidden_t = step_backward(dstate, caches[t], dgates_rows[t], spare_rows[t])
    dhidden = dgates_x if dhidden_t is None else spare
    # (B3) for all steps: sum_t H_{t-1}^T dhidden_t, with H_0 apart (saves stacking H_{t-1})
    dweight_hh = torch.addmm(dhidden[0].t() @ H0, dhidden[1:].flatten(0, 1).t(),
                             output[:-1].flatten(0, 1))
    return dgates_x, dstate, dweight_hh, dhidden.sum(dim=(0, 1))


class FusedBPTT(torch.autograd.Function):
    """The fast twin of `ManualBPTT`: the same call with a model's fused pair of step functions,
    FusedBPTT.apply(fused_step_forward, fused_step_backward, x, weight_ih, weight_hh, bias_ih,
    bias_hh, *state0) -> (output, *last_state).
    """

    @staticmethod
    def forward(ctx, step_forward, step_backward, x, weight_ih, weight_hh, bias_ih, bias_hh,
                *state0):
        state = state0[0] if len(state0) == 1 else state0
        output, state_last, caches = run_sequence(step_forward, x, state, weight_ih, weight_hh,
                                                  bias_ih, bias_hh)
        ctx.save_for_backward(x, weight_ih, weight_hh, state0[0], output)
        ctx.step_backward, ctx.caches = step_backward, caches
        return (output, *(part.clone() for part in _parts(state_last)))

    @staticmethod
    def backward(ctx, doutput, *dstate_last):
        x, weight_ih, weight_hh, H0, output = ctx.saved_tensors
        dstate = dstate_last[0] if len(dstate_last) == 1 else dstate_last
        dgates_x, dstate0, dweight_hh, dbias_hh = fused_sequence_backward(
            ctx.step_backward, doutput, dstate, ctx.caches, H0, output, weight_hh)
        dx, dweight_ih, dbias_ih = input_gradients(dgates_x, x, weight_ih,
                                                   need_dx=ctx.needs_input_grad[2])
        return (None, None, dx, dweight_ih, dweight_hh, dbias_ih, dbias_hh, *_parts(dstate0))
