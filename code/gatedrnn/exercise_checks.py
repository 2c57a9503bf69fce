"""Checkers that the chapter exercises' self-check cells call, one section per page.

A self-check cell (see the instructor guide) asserts what a student can check on their own answer:
a value in an accepted range, or, where a student could pass by copying autograd, the student's
function rerun on fresh data against a reference. Each checker raises AssertionError with a message
that says what was expected and what came in, and returns nothing on success.
"""
import torch

# --- rnn_bptt ------------------------------------------------------------------------------------



# --- rnn_training --------------------------------------------------------------------------------



# --- lstm ----------------------------------------------------------------------------------------



# --- gru_quickstart, gru, gru_gates, gru_wild ----------------------------------------------------
# The self-checks of the quick start's and the GRU pages' exercises. Reference values come from
# the package (gatedrnn.GRU, gatedrnn.gru's steps, diagnostics.gru_trace), never from a student's
# cell. Fresh data come from a torch.Generator of the checker's own or inside
# torch.random.fork_rng(), so a check leaves the page's random state alone.

def _gap(got, expected):
    return (torch.as_tensor(got) - torch.as_tensor(expected)).abs().max().item()


def _tensor(name, value, shape):
    assert isinstance(value, torch.Tensor), (
        f"{name} is a {type(value).__name__}: expected a tensor of shape {tuple(shape)}")
    assert tuple(value.shape) == tuple(shape), (
        f"{name} has shape {tuple(value.shape)}: expected {tuple(shape)}")


def check_measured(name, got, expected, rtol=1e-3, atol=1e-9):
    """`got` (a dict or sequence of measured numbers) agrees with the reference `expected` (a dict
    {key: value} of some of them) to rtol relative plus atol absolute: the numbers were measured
    as the statement says, not typed in."""
    for key, want in expected.items():
        try:
            value = float(got[key])
        except (KeyError, IndexError):
            raise AssertionError(f"{name} has no entry {key!r}") from None
        assert abs(value - want) <= rtol * abs(want) + atol, (
            f"{name}[{key!r}] = {value:.4e}: the statement's setting gives {want:.4e}")


# quickstart-pin

def check_pin(movements, smallest_bias, exact_bias):
    """The visible part of quickstart-pin's check: the movements for the biases 0 to 24, a
    threshold in the accepted range 8 to 12 that is the first bias below 1e-3, a slope of
    log-movement against the bias near -1, and the first bias of exactly no movement."""
    import math
    assert isinstance(movements, dict) and set(range(25)) <= set(movements), (
        f"movements must be a dict with every bias from 0 to 24 as a key, got "
        f"{sorted(movements) if isinstance(movements, dict) else type(movements).__name__}")
    assert 8 <= smallest_bias <= 12, f"smallest_bias = {smallest_bias}: expected 8 to 12"
    assert movements[smallest_bias] < 1e-3 <= movements[smallest_bias - 1], (
        f"movements[{smallest_bias}] = {movements[smallest_bias]:.1e} and "
        f"movements[{smallest_bias - 1}] = {movements[smallest_bias - 1]:.1e}: expected "
        "smallest_bias to be the first bias whose movement is below 1e-3")
    slope = (math.log(movements[smallest_bias]) - math.log(movements[smallest_bias - 4])) / 4
    assert -1.3 < slope < -0.7, (
        f"log-movement falls by {slope:.2f} per unit of bias: expected about -1 (-1.3 to -0.7)")
    assert movements[exact_bias] == 0.0 < movements[exact_bias - 1], (
        f"movements[{exact_bias}] = {movements[exact_bias]:.1e} and movements[{exact_bias - 1}] = "
        f"{movements[exact_bias - 1]:.1e}: expected exact_bias to be the first bias whose movement "
        "is exactly 0")


# quickstart-reset-before, gru-step-forward, gru-one-gate, gru-reset-before-backward: fresh data

def fresh_gru(seed, input_size=5, hidden_size=3, steps=7, batch=2):
    """(a torch.nn.GRU, X of shape (steps, batch, d), H0 of shape (batch, h)), all float32 and
    drawn from `seed` without touching the global random state."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        reference = torch.nn.GRU(input_size, hidden_size)
        X = torch.randn(steps, batch, input_size)
        H0 = torch.rand(batch, hidden_size) * 2 - 1
    return reference, X, H0


def fresh_step(seed, n=5, d=3, h=6):
    """Random float64 (X_t, H_prev, weight_ih, weight_hh, bias_ih, bias_hh) in torch.nn's layout
    (blocks r, z, h), from a generator of its own."""
    generator = torch.Generator().manual_seed(seed)

    def draw(*shape, scale=1.0):
        return torch.randn(*shape, generator=generator, dtype=torch.float64) * scale

    return (draw(n, d), draw(n, h).tanh(), draw(3 * h, d, scale=0.7), draw(3 * h, h, scale=0.7),
            draw(3 * h), draw(3 * h))


def _book_matrices(weight_ih, weight_hh, bias_ih, bias_hh, h):
    W_x, W_h = weight_ih.T.split(h, dim=1), weight_hh.T.split(h, dim=1)
    W = dict(zip(["xr", "xz", "xh"], W_x)) | dict(zip(["hr", "hz", "hh"], W_h))
    b = (dict(zip(["xr", "xz", "xh"], bias_ih.split(h)))
         | dict(zip(["hr", "hz", "hh"], bias_hh.split(h))))
    return W, b


def check_reset_before_step(gru_step_before, reference, X, H0):
    """quickstart-reset-before: `gru_step_before(X_t, H_prev, W, b)` run over X from H0 with the
    book's matrices of `reference` (a one-layer torch.nn.GRU) gives the states of
    gatedrnn.GRU(d, h, reset_after=False) with reference's weights, to 1e-5 (float32 rounding)."""
    from gatedrnn.gru import GRU
    h = reference.hidden_size
    with torch.random.fork_rng():
        twin = GRU(reference.input_size, h, reset_after=False)
    twin.load_state_dict(reference.state_dict())
    with torch.no_grad():
        tensors = (reference.weight_ih_l0, reference.weight_hh_l0, reference.bias_ih_l0,
                   reference.bias_hh_l0)
        W, b = _book_matrices(*(tensor.detach() for tensor in tensors), h)
        H, states = H0, []
        for X_t in X:
            H = gru_step_before(X_t, H, W, b)
            states.append(H)
        _tensor("gru_step_before's result", H, H0.shape)
        states = torch.stack(states)
        gap_twin = _gap(states, twin(X, H0[None])[0])
    assert gap_twin < 1e-5, (
        f"gru_step_before's states differ from gatedrnn.GRU(d, h, reset_after=False)'s by "
        f"{gap_twin:.1e}: expected float32 rounding, below 1e-5")


def check_step_forward(my_step_forward, X_t, H_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    """gru-step-forward: my_step_forward(gates_x, H_prev, weight_hh, bias_hh) equals
    torch.nn.GRUCell with the same weights to 1e-12 (float64)."""
    n, h = H_prev.shape
    with torch.random.fork_rng():
        cell = torch.nn.GRUCell(X_t.shape[1], h, dtype=torch.float64)
    with torch.no_grad():
        for name, value in (("weight_ih", weight_ih), ("weight_hh", weight_hh),
                            ("bias_ih", bias_ih), ("bias_hh", bias_hh)):
            getattr(cell, name).copy_(value)
        expected = cell(X_t, H_prev)
        got = my_step_forward(X_t @ weight_ih.T + bias_ih, H_prev, weight_hh, bias_hh)
    _tensor("my_step_forward's result", got, (n, h))
    gap = _gap(got, expected)
    assert gap < 1e-12, (f"my_step_forward differs from torch.nn.GRUCell by {gap:.1e} "
                         f"(n = {n}, h = {h}): expected below 1e-12 in float64")


def _pinned(model, reset=None, update=None):
    # a copy of a one-layer gatedrnn.GRU whose gate(s) are pinned: weights 0, bias +-50
    from gatedrnn.gru import GRU
    h = model.hidden_size
    with torch.random.fork_rng():
        copy = GRU(model.input_size, h, dtype=model.weight_ih_l0.dtype,
                   reset_after=model.reset_after)
    copy.load_state_dict(model.state_dict())
    with torch.no_grad():
        for value, rows in ((reset, slice(0, h)), (update, slice(h, 2 * h))):
            if value is not None:
                copy.weight_ih_l0[rows] = 0
                copy.weight_hh_l0[rows] = 0
                copy.bias_ih_l0[rows] = 50.0 if value == 1 else -50.0
                copy.bias_hh_l0[rows] = 0
    return copy


def fresh_gru64(seed, input_size=5, hidden_size=3, steps=12, batch=4):
    """(a float64 gatedrnn.GRU, X (steps, batch, d), H0 (1, batch, h)) drawn from `seed`
    without touching the global random state."""
    from gatedrnn.gru import GRU
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = GRU(input_size, hidden_size, dtype=torch.float64)
        X = torch.randn(steps, batch, input_size, dtype=torch.float64)
        H0 = torch.rand(1, batch, hidden_size, dtype=torch.float64) * 2 - 1
    return model, X, H0


def check_one_gate(only_reset, only_update, model, X, H0):
    """gru-one-gate: only_reset(model, X, H0) and only_update(model, X, H0), the states
    H_1..H_T (T, n, h) of the cells (a) Z = 0 and (b) R = 1 written from the equations, equal the
    states of `model` with that gate pinned (update gate to 0, reset gate to 1) to 1e-10."""
    from gatedrnn.diagnostics import gru_trace
    for name, function, pins in (("only_reset", only_reset, {"update": 0}),
                                 ("only_update", only_update, {"reset": 1})):
        expected = gru_trace(_pinned(model, **pins), X, H0).hidden
        with torch.no_grad():
            got = function(model, X, H0)
        _tensor(f"{name}(model, X, H0)", got, expected.shape)
        gap = _gap(got, expected)
        assert gap < 1e-10, (
            f"{name}(model, X, H0) differs from the GRU with its "
            f"{'update gate pinned to 0' if 'update' in pins else 'reset gate pinned to 1'} by "
            f"{gap:.1e}: expected below 1e-10 in float64")


# gru-only-one-step

def check_one_step_model(model, seed=48, trials=5, steps=30):
    """gru-only-one-step: over `trials` random sequences of [value, marker] with one marked step
    at a random position, and random start states, H_T moves by less than 1e-9 when the unmarked
    values or H_0 change and by more than 1e-3 when the marked value changes by 0.3."""
    assert getattr(model, "input_size", None) == 2 and getattr(model, "hidden_size", None) == 1, (
        "expected a gatedrnn.GRU(2, 1, dtype=torch.float64), got "
        f"{type(model).__name__} with input_size {getattr(model, 'input_size', None)} and "
        f"hidden_size {getattr(model, 'hidden_size', None)}")
    fresh = torch.Generator().manual_seed(seed)
    dtype = model.weight_ih_l0.dtype
    for trial in range(trials):
        marked = int(torch.randint(steps, (1,), generator=fresh))
        base = torch.rand(steps, 1, 2, generator=fresh, dtype=dtype)
        base[:, :, 1] = 0
        base[marked, :, 1] = 1
        start, other_start = torch.rand(2, 1, 1, 1, generator=fresh, dtype=dtype) * 2 - 1
        unmarked = base.clone()
        unmarked[:, :, 0] = torch.rand(steps, 1, generator=fresh, dtype=dtype)
        unmarked[marked, :, 0] = base[marked, :, 0]
        moved_marked = base.clone()
        moved_marked[marked, :, 0] += 0.3
        with torch.no_grad():
            final = model(base, start)[1].item()
            same = max(abs(model(unmarked, start)[1].item() - final),
                       abs(model(base, other_start)[1].item() - final))
            moved = abs(model(moved_marked, start)[1].item() - final)
        where = f"(sequence {trial + 1} of {trials}, marked step {marked} of {steps})"
        assert same < 1e-9, (f"H_T moved by {same:.1e} when the unmarked values or H_0 changed "
                             f"{where}: expected below 1e-9")
        assert moved > 1e-3, (f"H_T moved by only {moved:.1e} when the marked value changed by "
                              f"0.3 {where}: expected more than 1e-3")


def check_reset_before_backward(reset_before_backward, V, X_t, H_prev, W, b):
    """gru-reset-before-backward: reset_before_backward(V, X_t, H_prev, W, b) returns
    (dL/dH_prev, dL/dW_hh) of L = sum(H_t * V) for the reset-before step (G3'), equal to
    gatedrnn.gru.step_backward_reset_before to 1e-12 (float64). W, b: the book's matrices by name
    (W["xr"] is d x h, ..., b["hh"] has h entries)."""
    from gatedrnn import gru
    h = H_prev.shape[1]
    weight_ih = torch.cat([W["xr"], W["xz"], W["xh"]], dim=1).T
    weight_hh = torch.cat([W["hr"], W["hz"], W["hh"]], dim=1).T
    bias_ih = torch.cat([b["xr"], b["xz"], b["xh"]])
    bias_hh = torch.cat([b["hr"], b["hz"], b["hh"]])
    _, cache = gru.step_forward_reset_before(X_t @ weight_ih.T + bias_ih, H_prev, weight_hh,
                                             bias_hh)
    _, want_h, want_weight_hh, _ = gru.step_backward_reset_before(V, cache)
    result = reset_before_backward(V, X_t, H_prev, W, b)
    assert isinstance(result, tuple) and len(result) == 2, (
        "reset_before_backward must return a pair (dH_prev, dW_hh), got "
        f"{type(result).__name__}")
    dH_prev, dW_hh = result
    _tensor("dH_prev", dH_prev, H_prev.shape)
    _tensor("dW_hh", dW_hh, (h, h))
    for name, got, want in (("dH_prev", dH_prev, want_h),
                            ("dW_hh", dW_hh, want_weight_hh[2 * h:].T)):
        gap = _gap(got, want)
        assert gap < 1e-12, (f"{name} differs from the package's reset-before backward step by "
                             f"{gap:.1e}: expected below 1e-12 in float64")


def fresh_backward(seed, n=4, d=3, h=5):
    """Random float64 (V, X_t, H_prev, W, b) for check_reset_before_backward."""
    X_t, H_prev, weight_ih, weight_hh, bias_ih, bias_hh = fresh_step(seed, n, d, h)
    V = torch.randn(n, h, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    return (V, X_t, H_prev, *_book_matrices(weight_ih, weight_hh, bias_ih, bias_hh, h))


# gru-rnn-gradients

def check_rnn_gradients(candidate_gap, gate_gradient):
    """gru-rnn-gradients, visible part: the candidate block's gradients equal the RNN's to 1e-10,
    and the pinned gates' largest gradient is numerically zero (below 1e-12)."""
    assert 0 <= candidate_gap < 1e-10, (
        f"candidate_gap = {candidate_gap:.1e}: expected the candidate block's gradients to equal "
        "the RNN's to rounding, below 1e-10")
    assert 0 <= gate_gradient < 1e-12, (
        f"gate_gradient = {gate_gradient:.1e}: expected the pinned gates' gradients to be "
        "numerically zero, below 1e-12")


def pinned_gate_gradient(model, X, H0):
    """The largest |gradient| of the gate blocks (rows 0 to 2h) of `model`'s four tensors for the
    loss (output ** 2).sum() of model(X, H0): the reference for gru-rnn-gradients."""
    output, _ = model(X, H0)
    grads = torch.autograd.grad((output ** 2).sum(), list(model.parameters()))
    return max(g[:2 * model.hidden_size].abs().max().item() for g in grads)


# gates-offset-sweep, gates-initial-state

def check_offset_sweep(offsets, errors, best, baseline):
    """gates-offset-sweep, visible part: nine offsets -4..4, nine positive test errors, `best`
    the offset of the smallest error, and the error at +4 above `baseline` (the update gates
    pushed to 1 stop the writing)."""
    offsets = [float(o) for o in offsets]
    assert offsets == [float(o) for o in range(-4, 5)], (
        f"offsets = {offsets}: expected -4, -3, ..., 4")
    errors = [float(e) for e in errors]
    assert len(errors) == 9 and min(errors) > 0, (
        f"errors has {len(errors)} entries (smallest {min(errors, default=float('nan')):.3g}): "
        "expected 9 positive test errors, one per offset")
    want_best = offsets[errors.index(min(errors))]
    assert float(best) == want_best, (
        f"best = {best}: expected the offset with the smallest error, {want_best:g}")
    assert errors[-1] > baseline, (
        f"the error at offset +4 is {errors[-1]:.4f}: expected it above the baseline "
        f"{baseline:.4f}")


def check_initial_state(errors_by_start, zero_state_error):
    """gates-initial-state, visible part: the three errors by start state, the zero start's equal
    to the model's test error, the small start's costing less than the random start's."""
    keys = ("H_0 = 0", "small random H_0", "random H_0")
    assert isinstance(errors_by_start, dict) and set(keys) <= set(errors_by_start), (
        f"errors_by_start must be a dict with the keys {keys}, got "
        f"{sorted(errors_by_start) if isinstance(errors_by_start, dict) else errors_by_start!r}")
    zero = float(errors_by_start["H_0 = 0"])
    assert abs(zero - zero_state_error) <= 1e-4 * zero_state_error, (
        f"errors_by_start['H_0 = 0'] = {zero:.5f}: expected the model's test error "
        f"{zero_state_error:.5f}")
    assert float(errors_by_start["small random H_0"]) < float(errors_by_start["random H_0"]), (
        "expected the small random starts to cost less than the random starts, got "
        f"{errors_by_start['small random H_0']:.4f} and {errors_by_start['random H_0']:.4f}")


# gru-count-stack

def _stacked_count(d, h, layers):
    # the reference: layer 1 reads d inputs, each later layer both directions (2h) of the one below
    per_direction = [3 * ((d if layer == 0 else 2 * h) * h + h * h + 2 * h)
                     for layer in range(layers)]
    return 2 * sum(per_direction)


def check_stacked_count(stacked_count, sizes=((100, 100, 2), (7, 5, 1), (3, 8, 3))):
    """gru-count-stack: stacked_count(d, h, layers) equals the number of numbers
    torch.nn.GRU(d, h, num_layers=layers, bidirectional=True) stores, for each of `sizes`."""
    for d, h, layers in sizes:
        with torch.random.fork_rng():
            model = torch.nn.GRU(d, h, num_layers=layers, bidirectional=True)
        want = sum(p.numel() for p in model.parameters())
        got = stacked_count(d, h, layers)
        assert got == want, (f"stacked_count({d}, {h}, {layers}) = {got}: "
                             f"torch.nn.GRU stores {want}")


def check_stacked_count_formula(stacked_count, sizes=((10**6, 10**5, 50), (123, 45, 6))):
    """gru-count-stack, hidden part: the formula at sizes too large to build a model."""
    for d, h, layers in sizes:
        got, want = stacked_count(d, h, layers), _stacked_count(d, h, layers)
        assert got == want, f"stacked_count({d}, {h}, {layers}) = {got}: expected {want}"


# --- compare_memory, compare_real ----------------------------------------------------------------



# --- questions -----------------------------------------------------------------------------------
