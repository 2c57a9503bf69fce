"""Checkers that the chapter exercises' self-check cells call, one section per page.

A self-check cell (see the instructor guide) asserts what a student can check on their own answer:
a value in an accepted range, or, where a student could pass by copying autograd, the student's
function rerun on fresh data against a reference. Each checker raises AssertionError with a message
that says what was expected and what came in, and returns nothing on success.
"""
import math

import torch

from gatedrnn import bptt, diagnostics, init, lstm, tasks
from gatedrnn.lstm import LSTM

# --- rnn_bptt ------------------------------------------------------------------------------------



# --- rnn_training --------------------------------------------------------------------------------



# --- lstm ----------------------------------------------------------------------------------------


def _fresh(seed):
    """A float64 standard-normal sampler on its own generator: checks never touch the page's
    random state."""
    generator = torch.Generator().manual_seed(seed)
    return lambda *shape: torch.randn(*shape, generator=generator, dtype=torch.float64)


def _largest_gap(got, expected):
    return (torch.as_tensor(got, dtype=torch.float64)
            - torch.as_tensor(expected, dtype=torch.float64)).abs().max().item()


def _vector(values, name):
    """A list of numbers or of 0-d tensors, or a tensor, as a float64 vector."""
    if isinstance(values, torch.Tensor):
        return values.detach().to(torch.float64).reshape(-1)
    try:
        return torch.tensor([float(value) for value in values], dtype=torch.float64)
    except TypeError:
        raise AssertionError(f"{name}: expected a tensor or a list of numbers, got "
                             f"{type(values).__name__}") from None


def reference_peephole_step(gates_x, state_prev, weight_hh, bias_hh, w_ci, w_cf, w_co):
    """Gers and Schmidhuber's peephole step in `lstm.step_forward`'s layout: (H_t, C_t, F_t)."""
    h_prev, c_prev = state_prev
    h = h_prev.shape[1]
    gates = gates_x + h_prev @ weight_hh.T + bias_hh
    input_gate = torch.sigmoid(gates[:, :h] + c_prev * w_ci)
    forget_gate = torch.sigmoid(gates[:, h:2 * h] + c_prev * w_cf)
    c_next = forget_gate * c_prev + input_gate * torch.tanh(gates[:, 2 * h:3 * h])
    output_gate = torch.sigmoid(gates[:, 3 * h:] + c_next * w_co)
    return output_gate * torch.tanh(c_next), c_next, forget_gate


def check_peephole_step(peephole_step, seed=1048):
    """Rerun `peephole_step(gates_x, (H_prev, C_prev), weight_hh, bias_hh, w_ci, w_cf, w_co)
    -> (H_t, C_t, F_t)` on fresh float64 data (n = 2, h = 5, nonzero biases): with zero
    peepholes it must give `lstm.step_forward`'s (H_t, C_t), with random peepholes the peephole
    cell (C_{t-1} in the input and forget gates, C_t in the output gate), to 1e-12."""
    draw = _fresh(seed)
    n, h = 2, 5
    gates_x, h_prev, c_prev = draw(n, 4 * h), draw(n, h).tanh(), 2 * draw(n, h)
    weight_hh, bias_hh = draw(4 * h, h), draw(4 * h)
    zero = torch.zeros(h, dtype=torch.float64)
    (h_ref, c_ref), _ = lstm.step_forward(gates_x, (h_prev, c_prev), weight_hh, bias_hh)
    got = peephole_step(gates_x, (h_prev, c_prev), weight_hh, bias_hh, zero, zero, zero)
    if not isinstance(got, tuple) or len(got) != 3:
        raise AssertionError("peephole_step must return the tuple (H_t, C_t, F_t), got "
                             f"{type(got).__name__}")
    gap = max(_largest_gap(got[0], h_ref), _largest_gap(got[1], c_ref))
    assert gap < 1e-12, (f"with zero peepholes expected lstm.step_forward's (H_t, C_t) on fresh "
                         f"data, got a difference of {gap:.1e}")
    peepholes = [draw(h) for _ in range(3)]
    expected = reference_peephole_step(gates_x, (h_prev, c_prev), weight_hh, bias_hh, *peepholes)
    got = peephole_step(gates_x, (h_prev, c_prev), weight_hh, bias_hh, *peepholes)
    for name, mine, truth in zip(("H_t", "C_t", "F_t"), got, expected):
        gap = _largest_gap(mine, truth)
        assert gap < 1e-12, (
            f"with nonzero peepholes {name} differs from the peephole cell by {gap:.1e} on fresh "
            f"data (expected below 1e-12): C_(t-1) enters the input and forget gates, the new "
            f"C_t the output gate")


def check_cifg_gate_sum(cifg, seed=1053):
    """Run the tied `gatedrnn.LSTM` `cifg` (one layer) on fresh inputs and start states: I_t + F_t
    must be 1 to 1e-12 at every step and unit, and the forget gate must not be constant (a layer
    whose two blocks are zero also gives 1/2 + 1/2)."""
    draw = _fresh(seed)
    weights = [weight.detach().to(torch.float64) for weight in cifg.layer_weights(0)]
    d, h = weights[0].shape[1], weights[1].shape[1]
    start = (draw(4, h).tanh(), draw(4, h))
    with torch.no_grad():
        _, _, caches = bptt.run_sequence(lstm.step_forward, 2 * draw(25, 4, d), start, *weights)
    gate_sum = torch.stack([cache.input_gate + cache.forget_gate for cache in caches])
    gap = (gate_sum - 1).abs().max().item()
    assert gap < 1e-12, (f"on fresh inputs I_t + F_t should be 1 to 1e-12 at every step, but it "
                         f"is off by up to {gap:.1e}: is every input-block parameter tied?")
    spread = torch.stack([cache.forget_gate for cache in caches]).std().item()
    assert spread > 1e-3, (f"the forget gate hardly varies (standard deviation {spread:.1e}): "
                           f"copy the forget block, negated, into the input block instead of "
                           f"zeroing both")


def check_output_gate_pinned(without_output_gate, seed=1058, steps=3):
    """`without_output_gate(seed)` returns a model holding a one-layer LSTM whose output gate is
    pinned to 1: after `steps` Adam steps (lr 1e-2) on fresh adding-problem data its output rows
    must still be 0 (weights) with a bias sum of at least 15 (sigma >= 1 - 3e-7), while the
    other rows trained."""
    with torch.random.fork_rng():           # make_model seeds the global generator
        _check_output_gate_pinned(without_output_gate, seed, steps)


def _check_output_gate_pinned(without_output_gate, seed, steps):
    model = without_output_gate(seed)
    layer = next((m for m in model.modules() if hasattr(m, "weight_ih_l0")), None)
    assert layer is not None, "without_output_gate(seed) returned no model with an LSTM layer"
    h = layer.hidden_size
    rows = slice(3 * h, 4 * h)

    def pinned_block():
        return [layer.weight_ih_l0[rows].detach().clone(),
                layer.weight_hh_l0[rows].detach().clone(),
                (layer.bias_ih_l0[rows] + layer.bias_hh_l0[rows]).detach().clone()]

    def check_pinned(when):
        weight_ih, weight_hh, bias = pinned_block()
        largest = max(weight_ih.abs().max().item(), weight_hh.abs().max().item())
        assert largest == 0, (f"{when}: the output gate's weights should be 0, the largest is "
                              f"{largest:.2e}")
        assert bias.min().item() >= 15, (f"{when}: the output gate's bias (input + hidden side) "
                                         f"should be large (at least 15 for sigma = 1 to 3e-7), "
                                         f"the smallest is {bias.min().item():.3g}")

    check_pinned("before training")
    before_ih, before_bias = pinned_block()[0], pinned_block()[2]
    others_before = layer.weight_ih_l0[:3 * h].detach().clone()
    inputs, targets = tasks.adding_problem(64, 20, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(inputs), targets).backward()
        optimizer.step()
    check_pinned(f"after {steps} Adam steps")
    after_ih, _, after_bias = pinned_block()
    assert torch.equal(after_ih, before_ih) and torch.equal(after_bias, before_bias), (
        "the output gate's block moved during training: zero its gradient with a hook on each "
        "parameter")
    moved = (layer.weight_ih_l0[:3 * h].detach() - others_before).abs().max().item()
    assert moved > 0, "the input, forget and candidate rows did not train at all"


def check_stacked_count(lstm_stacked_count):
    """`lstm_stacked_count(d, h, layers)` against `torch.nn.LSTM(d, h, num_layers=layers,
    bidirectional=True)`'s parameter count on sizes with d != h and up to four layers."""
    for d, h, layers in ((7, 5, 1), (3, 8, 3), (1, 2, 2), (12, 3, 4)):
        with torch.random.fork_rng():        # building a layer draws its weights
            model = torch.nn.LSTM(d, h, num_layers=layers, bidirectional=True)
        expected = sum(parameter.numel() for parameter in model.parameters())
        got = lstm_stacked_count(d, h, layers)
        assert got == expected, (f"lstm_stacked_count({d}, {h}, {layers}) = {got}, torch.nn.LSTM "
                                 f"has {expected}")


def _time_series_windows():
    """The lstm-time-series statement's windows (float32, (3970, 31): 30 values and the next):
    x_t = sin(0.2 t) + 0.5 sin(0.05 t) + 0.1 eps_t, t = 0..3999, eps from a Generator seeded 5."""
    t_axis = torch.arange(4000, dtype=torch.float32)
    noise = torch.randn(4000, generator=torch.Generator().manual_seed(5))
    signal = torch.sin(0.2 * t_axis) + 0.5 * torch.sin(0.05 * t_axis) + 0.1 * noise
    return signal.unfold(0, 31, 1)


def time_series_reference():
    """(naive, linear) held-out MSE of the lstm-time-series exercise's baselines, on the data its
    statement fixes (`_time_series_windows`): train windows end inside the first 3000 values,
    test windows start at 3000. linear: least squares on the 30 lags and a constant."""
    windows = _time_series_windows().double()
    train, test = windows[:2970], windows[3000:]
    naive = ((test[:, 29] - test[:, 30]) ** 2).mean().item()
    design = torch.cat([train[:, :30], torch.ones(len(train), 1, dtype=torch.float64)], dim=1)
    coefficients = torch.linalg.lstsq(design, train[:, 30:]).solution
    test_design = torch.cat([test[:, :30], torch.ones(len(test), 1, dtype=torch.float64)], dim=1)
    linear = ((test_design @ coefficients - test[:, 30:]) ** 2).mean().item()
    return naive, linear


def check_time_series(lstm_mse, linear_mse, naive_mse, noise_floor=0.01):
    """The three held-out MSEs of lstm-time-series: the naive and linear baselines within 10% of
    `time_series_reference` (other cuts of the windows, a fit without the constant), the LSTM's
    between 0.8 times the noise floor (the test set's own noise varies) and the naive forecast."""
    naive, linear = time_series_reference()
    for name, got, expected in (("naive_mse", naive_mse, naive),
                                ("linear_mse", linear_mse, linear)):
        got = float(got)
        assert abs(got - expected) <= 0.1 * expected, (
            f"{name} = {got:.4f}: expected {expected:.4f} within 10% on the statement's data")
    lstm_mse = float(lstm_mse)
    assert 0.8 * noise_floor < lstm_mse < naive, (
        f"lstm_mse = {lstm_mse:.4f}: expected between {0.8 * noise_floor:.4f} (below the noise "
        f"floor only by the test set's luck) and the naive forecast's {naive:.4f}")


def check_step_backward(my_step_backward, seed=1073):
    """Rerun `my_step_backward(dh_next, dc_next, cache) -> (dA, (dH_prev, dC_prev))` on a fresh
    float64 step (n = 2, h = 5, nonzero biases, a cell beyond [-1, 1]) against
    `lstm.step_backward`, to 1e-12. It runs with autograd switched off: the cache holds no graph,
    so a backward step must be (LB1)-(LB5) written out."""
    draw = _fresh(seed)
    n, h = 2, 5
    _, cache = lstm.step_forward(draw(n, 4 * h), (draw(n, h).tanh(), 2 * draw(n, h)),
                                 draw(4 * h, h), draw(4 * h))
    dh_next, dc_next = draw(n, h), draw(n, h)
    with torch.no_grad():
        got = my_step_backward(dh_next, dc_next, cache)
    dgates, (dh_prev, dc_prev) = lstm.step_backward((dh_next, dc_next), cache)[:2]
    try:
        mine_dgates, (mine_dh, mine_dc) = got
    except (TypeError, ValueError):
        raise AssertionError("my_step_backward must return (dA, (dH_prev, dC_prev)), got "
                             f"{type(got).__name__}") from None
    for name, mine, truth in (("dA (n, 4h)", mine_dgates, dgates), ("dH_prev", mine_dh, dh_prev),
                              ("dC_prev", mine_dc, dc_prev)):
        assert tuple(mine.shape) == tuple(truth.shape), (
            f"{name}: expected shape {tuple(truth.shape)}, got {tuple(mine.shape)}")
        gap = _largest_gap(mine, truth)
        assert gap < 1e-12, (f"on a fresh step {name} differs from lstm.step_backward by {gap:.1e}"
                             f" (expected below 1e-12)")


def check_forecaster(forecaster, lstm_mse):
    """Rerun the trained `forecaster` (a model of (n, 30, 1) windows -> (n, 1)) on the statement's
    test windows: its MSE must be the reported `lstm_mse` to 2% (a number that was measured)."""
    test = _time_series_windows()[3000:]
    with torch.no_grad():
        measured = torch.nn.functional.mse_loss(forecaster(test[:, :30, None]),
                                                test[:, 30:]).item()
    assert abs(measured - float(lstm_mse)) <= 0.02 * measured, (
        f"lstm_mse = {float(lstm_mse):.4f}, but forecaster's MSE on the windows that start at "
        f"value 3000 is {measured:.4f}")


def no_squash_reference():
    """(kept, plain, squashed) of the lstm-no-squash exercise, as its statement fixes them:
    kept maps step k to the value of c <- tanh(c) after k steps from 0.9; plain and squashed are
    the mean ||dL/dC_t|| over 64 adding-problem sequences (T = 100, seed 3) at distances 0..99
    (distance 0 first) for `gatedrnn.LSTM(2, 32)` in float64 drawn after torch.manual_seed(2),
    forget bias 3, dL/dH_T drawn from a Generator seeded 4 and normalised per sequence: the cell
    as it is (`lstm_state_gradients`) and squashed by tanh (autograd)."""
    value, kept = 0.9, {}
    for step in range(1, 101):
        value = math.tanh(value)
        kept[step] = value
    inputs, _ = tasks.adding_problem(64, 100, seed=3, dtype=torch.float64)
    x = inputs.transpose(0, 1)
    direction = torch.randn(64, 32, dtype=torch.float64,
                            generator=torch.Generator().manual_seed(4))
    direction /= direction.norm(dim=1, keepdim=True)
    with torch.random.fork_rng():
        torch.manual_seed(2)
        layer = init.set_forget_bias(LSTM(2, 32, dtype=torch.float64), 3.0)
    weight_ih, weight_hh, bias_ih, bias_hh = (p.detach() for p in layer.layer_weights(0))
    zeros = torch.zeros(64, 32, dtype=torch.float64)
    with torch.no_grad():
        _, _, caches = bptt.run_sequence(lstm.step_forward, x, (zeros, zeros), weight_ih,
                                         weight_hh, bias_ih, bias_hh)
    plain = diagnostics.mean_norms(diagnostics.lstm_state_gradients(caches, direction)[1])[:-1]
    h_t, c_t = zeros.clone().requires_grad_(True), zeros.clone().requires_grad_(True)
    cells = []
    with torch.enable_grad():
        for x_t in x:
            gates = x_t @ weight_ih.T + bias_ih + h_t @ weight_hh.T + bias_hh
            input_gate, forget_gate, output_gate = (torch.sigmoid(gates[:, k * 32:(k + 1) * 32])
                                                    for k in (0, 1, 3))
            c_t = torch.tanh(forget_gate * c_t + input_gate * torch.tanh(gates[:, 64:96]))
            c_t.retain_grad()
            cells.append(c_t)
            h_t = output_gate * torch.tanh(c_t)
        (h_t * direction).sum().backward()
    squashed = torch.stack([cell.grad.norm(dim=1).mean() for cell in reversed(cells)])
    return kept, plain, squashed


def check_no_squash(kept, plain_norms, squashed_norms):
    """`kept[10]`, `kept[100]` (a stored 0.9 under c <- tanh(c)) to 1e-6, and the two curves of
    mean ||dL/dC_t|| against distance 0..99 to a relative 1e-6 of the setup the statement fixes
    (see `no_squash_reference`)."""
    reference_kept, plain, squashed = no_squash_reference()
    for step in (10, 100):
        assert step in kept, f"kept should map steps to values, with an entry for step {step}"
        got = float(kept[step])
        assert abs(got - reference_kept[step]) < 1e-6, (
            f"kept[{step}]: expected {reference_kept[step]:.6f}, got {got:.6f}")
    for name, got, expected in (("plain_norms", plain_norms, plain),
                                ("squashed_norms", squashed_norms, squashed)):
        got = _vector(got, name)
        assert got.shape == expected.shape, (
            f"{name} should hold the mean norm at distances 0..99 ({len(expected)} values, "
            f"distance 0 first), got {got.numel()}")
        relative = ((got - expected).abs() / expected).max().item()
        assert relative < 1e-6, (
            f"{name} differs from the statement's setup by up to {relative:.1e} (relative; "
            f"expected below 1e-6): distance 0 first, dL/dC_t of the cell itself")


# --- gru_quickstart, gru, gru_gates, gru_wild ----------------------------------------------------



# --- compare_memory, compare_real ----------------------------------------------------------------



# --- questions -----------------------------------------------------------------------------------


def check_bounded_candidate(tanh_cell, relu_cell, seed=1045):
    """Fresh data for questions-bound: the two `GRUVariant` cells must hold the same weights,
    scaled up (largest entry above 1; PyTorch's initialisation keeps them below 1/sqrt(h)); on
    200 steps of fresh inputs three times larger than standard normal, from a fresh H_0 uniform
    in [-1, 1], the tanh cell's states stay in [-1, 1] (to float32 rounding) and the ReLU
    cell's leave it."""
    tanh_weights, relu_weights = tanh_cell.state_dict(), relu_cell.state_dict()
    assert tanh_weights.keys() == relu_weights.keys() and all(
        torch.equal(tanh_weights[key], relu_weights[key]) for key in tanh_weights), (
        "relu_cell should hold exactly tanh_cell's weights (load_state_dict)")
    largest = max(weight.abs().max().item() for weight in tanh_weights.values())
    assert largest > 1, (f"the largest weight is {largest:.2f}: expected the weights multiplied "
                         f"by 10 (above 1)")
    generator = torch.Generator().manual_seed(seed)
    hidden = tanh_cell.hidden_size
    inputs = 3 * torch.randn(4, 200, tanh_cell.input_size, generator=generator)
    h0 = torch.rand(1, 4, hidden, generator=generator) * 2 - 1
    with torch.no_grad():
        tanh_largest = tanh_cell(inputs, h0)[0].abs().max().item()
        relu_largest = relu_cell(inputs, h0)[0].abs().max().item()
    assert tanh_largest <= 1 + 1e-6, (f"on fresh inputs the tanh cell reached |H_t| = "
                                      f"{tanh_largest:.6g}: expected at most 1")
    assert not math.isfinite(relu_largest) or relu_largest > 1, (
        f"on fresh inputs the ReLU cell stayed within {relu_largest:.3g}: expected it to leave "
        f"[-1, 1]; is its candidate ReLU?")


def reference_alias(f, rate):
    """Where a tone of whole-number frequency f appears when sampled at `rate`, in [0, rate/2]."""
    folded = f % rate
    return min(folded, rate - folded)


def check_alias(alias, seed=1050):
    """`alias(f, rate)` on the exercise's tones, on the edges (0, rate/2, multiples of rate), on an
    odd rate, and on 40 fresh (f, rate) pairs, against `reference_alias` to 1e-9."""
    generator = torch.Generator().manual_seed(seed)
    fresh = torch.randint(1, 5000, (40,), generator=generator).tolist()
    rates = torch.randint(2, 1000, (40,), generator=generator).tolist()
    cases = ([(f, 200) for f in (30, 130, 170, 230, 330, 470)]
             + [(0, 200), (100, 200), (200, 200), (300, 200), (600, 200), (99, 199), (100, 199),
                (1000, 44), (22, 44)]
             + list(zip(fresh, rates)))
    for f, rate in cases:
        got = alias(f, rate)
        expected = reference_alias(f, rate)
        assert abs(float(got) - expected) < 1e-9, (
            f"alias({f}, {rate}) = {got}: expected {expected} (in [0, rate/2] = [0, {rate / 2:g}])")
