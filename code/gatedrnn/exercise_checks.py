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

def _float64(*shape, generator, scale=1.0):
    return torch.randn(*shape, generator=generator, dtype=torch.float64) * scale


def relu_network(seed, sizes=None):
    """A fresh random relu network and data for `check_relu_bptt`, as a dict of the arguments of
    ``relu_bptt``: X (T, n, d), Y (T, n, q), H0 (n, h), W_xh (d, h), W_hh (h, h), b_xh and
    b_hh (h,), W_hq (h, q), b_q (q,), all float64. The sizes (T, n, d, h, q) depend on the seed
    unless given."""
    generator = torch.Generator().manual_seed(seed)
    if sizes is None:
        sizes = [int(v) for v in torch.randint(2, 8, (5,), generator=generator)]
    T, n, d, h, q = sizes
    return {"X": _float64(T, n, d, generator=generator),
            "Y": _float64(T, n, q, generator=generator),
            "H0": torch.relu(_float64(n, h, generator=generator)),
            "W_xh": _float64(d, h, generator=generator, scale=0.5),
            "W_hh": _float64(h, h, generator=generator, scale=0.5),
            "b_xh": _float64(h, generator=generator), "b_hh": _float64(h, generator=generator),
            "W_hq": _float64(h, q, generator=generator), "b_q": _float64(q, generator=generator)}


def _relu_loss(X, Y, H0, W_xh, W_hh, b_xh, b_hh, W_hq, b_q):
    # L = 1/2 sum_t ||H_t W_hq + b_q - Y_t||^2, H_t = relu(X_t W_xh + b_xh + H_{t-1} W_hh + b_hh)
    H, loss = H0, 0.0
    for t in range(X.shape[0]):
        H = torch.relu(X[t] @ W_xh + b_xh + H @ W_hh + b_hh)
        loss = loss + 0.5 * ((H @ W_hq + b_q - Y[t]) ** 2).sum()
    return loss


class _GraphWatch:
    """Counts the tensors that autograd saves for a backward pass while the block runs: a
    function that computes its gradients by hand records none."""

    def __enter__(self):
        self.saved = 0

        def pack(tensor):
            self.saved += 1
            return tensor

        self._hooks = torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc):
        self._hooks.__exit__(*exc)
        return False


def _call_student(name, function, *args):
    try:
        return function(*args)
    except NotImplementedError:
        raise AssertionError(f"{name} still raises NotImplementedError: expected your code in "
                             "place of the `raise NotImplementedError` line") from None


def check_relu_bptt(relu_bptt, network, *, tolerance=1e-8):
    """relu_bptt(X, Y, H0, W_xh, W_hh, b_xh, b_hh, W_hq, b_q) -> (dW_xh, dW_hh, db) must give
    the gradients of L = 1/2 sum_t ||H_t W_hq + b_q - Y_t||^2 for the relu network, by hand: no
    autograd inside, and equal to autograd's to `tolerance` relative to the largest entry.
    `network` is a dict of the arguments (the page's, or `relu_network(seed)`)."""
    args = [network[key].detach().clone() for key in
            ("X", "Y", "H0", "W_xh", "W_hh", "b_xh", "b_hh", "W_hq", "b_q")]
    with _GraphWatch() as watch:
        result = _call_student("relu_bptt", relu_bptt, *[a.clone() for a in args])
    assert watch.saved == 0, (
        "relu_bptt records an autograd graph (it sets requires_grad or calls backward / "
        "torch.autograd.grad): expected the gradients by hand, from (B1)-(B3) with the relu (B2)")
    assert isinstance(result, (tuple, list)) and len(result) == 3, (
        f"relu_bptt should return (dW_xh, dW_hh, db); it returned {type(result).__name__}"
        + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
    params = [a.clone().requires_grad_(True) for a in args[3:6]]
    reference = torch.autograd.grad(_relu_loss(*args[:3], *params, *args[6:]), params)
    sizes = "T, n, d, h = " + ", ".join(str(s) for s in (*args[0].shape, args[3].shape[1]))
    for name, got, expected in zip(("dW_xh", "dW_hh", "db"), result, reference):
        assert isinstance(got, torch.Tensor) and got.shape == expected.shape, (
            f"{name}: expected a tensor of shape {tuple(expected.shape)}, got "
            + (f"shape {tuple(got.shape)}" if isinstance(got, torch.Tensor)
               else type(got).__name__))
        error = float((got.to(torch.float64) - expected).abs().max())
        scale = max(float(expected.abs().max()), 1e-12)
        assert error <= tolerance * scale, (
            f"{name} differs from autograd's by {error:.1e} (largest entry {scale:.1e}, network "
            f"with {sizes}): expected agreement to {tolerance:.0e} relative")


def _jacobian_norms_reference(inputs, W_xh, W_hh):
    """The spectral norms of dH_t/dH_{t-1} along the trajectory, t = 1..T, by autograd."""
    H, norms = torch.zeros(1, W_hh.shape[0], dtype=W_hh.dtype), []
    for x in inputs:
        def step(previous, x=x):
            return torch.tanh(x[0] @ W_xh + previous @ W_hh)
        # [i, j] = dH_t[i] / dH_{t-1}[j]
        jacobian = torch.autograd.functional.jacobian(step, H[0], vectorize=True)
        norms.append(torch.linalg.matrix_norm(jacobian, ord=2))
        H = step(H[0])[None]
    return torch.stack(norms)


def check_jacobian_norms(jacobian_norms_along, inputs, W_xh, W_hh, *, tolerance=1e-6):
    """jacobian_norms_along(inputs (T, 1, d), W_xh (d, h), W_hh (h, h)) -> the T spectral norms of
    the step Jacobians diag(1 - h_t^2) W_hh^T of the tanh network (zero biases, H_0 = 0), equal
    to autograd's Jacobians' norms to `tolerance` (relative)."""
    inputs, W_xh, W_hh = (a.detach().to(torch.float64) for a in (inputs, W_xh, W_hh))
    got = _call_student("jacobian_norms_along", jacobian_norms_along,
                        inputs.clone(), W_xh.clone(), W_hh.clone())
    expected = _jacobian_norms_reference(inputs, W_xh, W_hh)
    got = torch.as_tensor(got, dtype=torch.float64).flatten()
    assert got.shape == expected.shape, (
        f"expected {expected.numel()} norms (one per step), got {got.numel()}")
    error = float(((got - expected).abs() / expected).max())
    assert error <= tolerance, (
        f"the norms differ from those of autograd's Jacobians by {error:.1e} relative (for "
        f"instance step 1: {float(got[0]):.6f} against {float(expected[0]):.6f}): expected "
        f"agreement to {tolerance:.0e}; is the Jacobian diag(1 - h_t^2) W_hh^T, with h_t the new "
        "state?")


def jacobian_network(seed, steps=12, d=3, h=7):
    """Fresh (inputs, W_xh, W_hh) for `check_jacobian_norms`: a non-normal Gaussian W_hh, so
    that a transposed Jacobian has another norm."""
    generator = torch.Generator().manual_seed(seed)
    return (_float64(steps, 1, d, generator=generator), _float64(d, h, generator=generator),
            _float64(h, h, generator=generator, scale=1.2 / h ** 0.5))


def check_power_iteration(ratio, gap_rate, eigenvalues):
    """ratio = |lambda_2 / lambda_1| of `eigenvalues` (to 1e-9); gap_rate, the measured per-step
    factor of 1 - |cos|, within 0.03 of ratio^2."""
    moduli = sorted((abs(complex(v)) for v in torch.as_tensor(eigenvalues).tolist()), reverse=True)
    expected = moduli[1] / moduli[0]
    assert abs(float(ratio) - expected) < 1e-9, (
        f"ratio = {float(ratio):.6f}: expected |lambda_2 / lambda_1| = {expected:.6f} (the two "
        "largest moduli)")
    assert abs(float(gap_rate) - expected ** 2) < 0.03, (
        f"gap_rate = {float(gap_rate):.4f}: expected the per-step factor of 1 - |cos| to be close "
        f"to |lambda_2 / lambda_1|^2 = {expected ** 2:.4f} (within 0.03)")


def check_random_matrix_norms(norm_ratios, after_100):
    """norm_ratios {h: (sigma_max / (sd sqrt h), rho / (sd sqrt h))} for h = 16, 64, 256;
    after_100 {"sd = 1/(2 sqrt h)", "sd = 1/sqrt h", "orthogonal": the identity network's mean
    gradient norm 100 steps back}. Accepted: sigma ratios in [1.4, 2.3], rho ratios in
    [0.75, 1.35]; per-step factors after_100^(1/100) in [0.4, 0.65], [0.95, 1.2] and 1 +- 1e-9."""
    assert set(norm_ratios) == {16, 64, 256}, (
        f"norm_ratios should have the keys 16, 64, 256; it has {sorted(norm_ratios)}")
    for size, (sigma_ratio, rho_ratio) in sorted(norm_ratios.items()):
        assert 1.4 <= float(sigma_ratio) <= 2.3, (
            f"h = {size}: sigma_max / (sd sqrt h) = {float(sigma_ratio):.3f}: expected about 2 "
            "(1.4 to 2.3 accepted)")
        assert 0.75 <= float(rho_ratio) <= 1.35, (
            f"h = {size}: rho / (sd sqrt h) = {float(rho_ratio):.3f}: expected about 1 "
            "(0.75 to 1.35 accepted)")
    ranges = {"sd = 1/(2 sqrt h)": (0.4, 0.65), "sd = 1/sqrt h": (0.95, 1.2),
              "orthogonal": (1 - 1e-11, 1 + 1e-11)}
    assert set(after_100) == set(ranges), (
        f"after_100 should have the keys {sorted(ranges)}; it has {sorted(after_100)}")
    for name, (low, high) in ranges.items():
        factor = float(after_100[name]) ** (1 / 100)
        assert low <= factor <= high, (
            f"{name}: the gradient norm after 100 steps is {float(after_100[name]):.2e}, a factor "
            f"of {factor:.4f} per step: expected {low:g} to {high:g} per step")


def jordan_cases(seed, count=5):
    """Fresh (k, lam, a) triples for `check_jordan_power`."""
    generator = torch.Generator().manual_seed(seed)
    return [(int(torch.randint(0, 40, (1,), generator=generator)),
             float(torch.rand(1, generator=generator) * 0.98 + 0.01),
             float(torch.randn(1, generator=generator) * 3)) for _ in range(count)]


def check_jordan_power(jordan_power, cases):
    """jordan_power(k, lam, a) -> J^k as a 2 x 2 float64 tensor, for J = [[lam, a], [0, lam]],
    equal to the matrix power to 1e-9 relative on every (k, lam, a) of `cases`."""
    for k, lam, a in cases:
        J = torch.tensor([[lam, a], [0.0, lam]], dtype=torch.float64)
        expected = torch.linalg.matrix_power(J, k)
        got = torch.as_tensor(_call_student("jordan_power", jordan_power, k, lam, a),
                              dtype=torch.float64)
        assert got.shape == (2, 2), (
            f"jordan_power({k}, {lam}, {a}) has shape {tuple(got.shape)}: expected (2, 2)")
        error = float((got - expected).abs().max())
        assert error <= 1e-9 * max(float(expected.abs().max()), 1e-300), (
            f"jordan_power({k}, {lam:.4f}, {a:.4f}) = {got.tolist()}: expected J^{k} = "
            f"{expected.tolist()}")


def check_jordan_peak(peak_k, peak_value, lam=0.9, a=2.0):
    """peak_k: the power at which k a lam^(k-1) is largest (either of two tied whole numbers, or
    the real maximiser -1/ln lam); peak_value: that largest entry, within 2%."""
    best = max(range(200), key=lambda k: k * a * lam ** (k - 1))
    tied = {k for k in (best - 1, best + 1)
            if math.isclose(k * lam ** (k - 1), best * lam ** (best - 1))}
    accepted = {best, -1 / math.log(lam)} | tied
    assert any(abs(float(peak_k) - k) < 1e-6 for k in accepted), (
        f"peak_k = {peak_k}: expected the k that maximises k a lam^(k-1), one of "
        f"{sorted(round(k, 3) for k in accepted)}")
    largest = best * a * lam ** (best - 1)
    assert abs(float(peak_value) / largest - 1) < 0.02, (
        f"peak_value = {float(peak_value):.3f}: expected the largest off-diagonal entry, "
        f"{largest:.3f} (within 2%)")


# --- rnn_training --------------------------------------------------------------------------------

def _flat_gradient(parameters):
    return torch.cat([p.grad.detach().flatten().to(torch.float64) for p in parameters])


def _cosine(a, b):
    return float(a @ b / (a.norm() * b.norm()))


def check_clip_by_value(gradients_of, theta, cosine_by_value, cosine_by_norm):
    """gradients_of(1) returns parameters with fresh gradients (the page's small RNN). theta must
    change some entries; cosine_by_value must be the cosine between the original gradient and
    the one clipped by value at theta (to 1e-6), below 1; cosine_by_norm must be 1 (to 1e-6)."""
    with torch.random.fork_rng(devices=[]):    # gradients_of seeds torch's global generator
        original = _flat_gradient(gradients_of(1))
    largest = float(original.abs().max())
    assert 0 < float(theta) < largest, (
        f"theta = {float(theta):.4g}: expected a threshold between 0 and the largest entry "
        f"{largest:.4g}, so that clipping by value changes some entries")
    expected = _cosine(original.clamp(-float(theta), float(theta)), original)
    assert abs(float(cosine_by_value) - expected) < 1e-6, (
        f"cosine_by_value = {float(cosine_by_value):.6f}: clipping every entry to [-theta, theta] "
        f"at theta = {float(theta):.4g} gives a cosine of {expected:.6f}")
    assert expected < 1 - 1e-6
    assert abs(float(cosine_by_norm) - 1) < 1e-6, (
        f"cosine_by_norm = {float(cosine_by_norm):.6f}: clipping the norm (C1) keeps the "
        "direction, so expected 1")


def check_logged_norms(norms_before, fraction_clipped, first_norm, threshold=1.0, steps=100):
    """norms_before: the `steps` global gradient norms logged before clipping; the first equals
    `first_norm` (the norm of the specified model on the first batch, to 1e-4 relative), some
    exceed the threshold, and fraction_clipped is the share above it."""
    norms = torch.as_tensor([float(v) for v in norms_before], dtype=torch.float64)
    assert len(norms) == steps, f"expected {steps} logged norms, got {len(norms)}"
    assert bool(torch.isfinite(norms).all() and (norms > 0).all()), (
        "expected finite positive norms; some logged norms are not")
    assert float(norms.max()) > threshold, (
        f"every logged norm is at most {threshold} (largest {float(norms.max()):.4f}): expected "
        "the norms before clipping, and some of them above the threshold; were they logged after "
        "clipping?")
    assert abs(float(norms[0]) / first_norm - 1) < 1e-4, (
        f"the first logged norm is {float(norms[0]):.6f}: the specified model's gradient on the "
        f"first batch has norm {first_norm:.6f} before clipping")
    share = float((norms > threshold).double().mean())
    assert abs(float(fraction_clipped) - share) < 1e-9, (
        f"fraction_clipped = {float(fraction_clipped):.4f}: {share:.2f} of the logged norms exceed "
        f"{threshold}")


def first_logged_norm(data, order, batch_size=32, hidden=32, seed=0):
    """The global gradient norm, before clipping, of the exercise's model (a `hidden`-unit tanh
    `gatedrnn.RNN` under `gatedrnn.SequenceModel`, built after torch.manual_seed(seed)) on the
    first batch, order[:batch_size] of `data`, for the MSE loss. Leaves the global random state
    as it was."""
    import torch.nn.functional as F

    from gatedrnn.models import SequenceModel
    from gatedrnn.rnn import RNN
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SequenceModel(RNN(2, hidden, batch_first=True), 1)
    inputs, targets = data
    batch = order[:batch_size]
    F.mse_loss(model(inputs[batch]), targets[batch]).backward()
    return float(_flat_gradient(list(model.parameters())).norm())


def check_logged_norms_rerun(norms_before, data, order, *, steps=100, batch_size=32, lr=0.2,
                             threshold=1.0, seed=0):
    """Rerun the exercise's training loop (the model built after torch.manual_seed(seed), SGD,
    step i on order[batch_size i : batch_size (i + 1)], clipping at `threshold`) and compare
    every logged norm with norms_before, to 1e-4 relative. Leaves the global random state alone."""
    import torch.nn.functional as F

    from gatedrnn.models import SequenceModel
    from gatedrnn.rnn import RNN
    inputs, targets = data
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SequenceModel(RNN(2, 32, batch_first=True), 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    expected = []
    for step in range(steps):
        batch = order[batch_size * step:batch_size * (step + 1)]
        optimizer.zero_grad()
        F.mse_loss(model(inputs[batch]), targets[batch]).backward()
        expected.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), threshold)))
        optimizer.step()
    got = [float(v) for v in norms_before]
    assert len(got) == steps, f"expected {steps} logged norms, got {len(got)}"
    for step, (a, b) in enumerate(zip(got, expected)):
        assert abs(a / b - 1) < 1e-4, (
            f"step {step}: logged norm {a:.6f}, but the specified run's gradient norm before "
            f"clipping is {b:.6f}")


LONGEST_T_GRID = (10, 15, 20, 30)


def check_longest_t(largest_solved, grid=LONGEST_T_GRID, seeds=5):
    """largest_solved {8: [...], 64: [...]}: per seed the largest T of `grid` solved before the
    first unsolved one (None: not even the first). Accepted: 5 seeds per width, values from the
    grid or None, a median position at most 15, and medians at most one grid step apart."""
    assert set(largest_solved) == {8, 64}, (
        f"largest_solved should have the keys 8 and 64; it has {sorted(largest_solved)}")
    medians = {}
    for hidden, values in largest_solved.items():
        values = list(values)
        assert len(values) == seeds, f"{hidden} units: expected {seeds} seeds, got {len(values)}"
        assert all(v is None or v in grid for v in values), (
            f"{hidden} units: {values}: expected lengths from {grid} or None")
        positions = sorted(-1 if v is None else grid.index(v) for v in values)
        medians[hidden] = positions[len(positions) // 2]
        assert medians[hidden] <= grid.index(15), (
            f"{hidden} units: median largest solved T is {grid[medians[hidden]]}: expected the "
            "tanh network to fail beyond T = 15 within 300 steps in most seeds")
    assert abs(medians[8] - medians[64]) <= 1, (
        f"the median walls are {medians}: expected the widths at most one grid step apart")


def longest_t_wall(hidden, seed, grid=LONGEST_T_GRID, steps=300):
    """The exercise's measurement for one width and seed: the largest length of `grid` solved
    before the first unsolved one (None if not even the first). Leaves the global random state
    alone."""
    import torch.nn.functional as F

    from gatedrnn.models import SequenceModel
    from gatedrnn.rnn import RNN
    from gatedrnn.tasks import ADDING_BASELINE_MSE, adding_problem
    from gatedrnn.training import train
    wall = None
    with torch.random.fork_rng(devices=[]):
        for length in grid:
            torch.manual_seed(seed)
            model = SequenceModel(RNN(2, hidden, batch_first=True), 1)
            history = train(model, F.mse_loss, adding_problem(5000, length, seed=1), steps=steps,
                            batch_size=64, lr=1e-2, clip=1.0,
                            eval_data=adding_problem(500, length, seed=2), eval_every=50,
                            seed=seed, progress=False,
                            stop_when=lambda loss, _: loss < 0.5 * ADDING_BASELINE_MSE)
            if history.solved_step is None:
                break
            wall = length
    return wall


def check_longest_t_rerun(largest_solved, hidden=64, seed=0, grid=LONGEST_T_GRID):
    """Rerun one width and seed of the measurement and compare with largest_solved[hidden][seed]."""
    expected = longest_t_wall(hidden, seed, grid)
    got = list(largest_solved[hidden])[seed]
    assert got == expected, (
        f"largest_solved[{hidden}][{seed}] = {got}: the specified run for {hidden} units and seed "
        f"{seed} gives {expected}")


def check_truncation_average(errors):
    """errors {draws: relative distance of the averaged randomized-truncation gradient to the
    full one} for at least 10, 100 and 1000 draws: falling, and below 0.05 at 1000."""
    assert {10, 100, 1000} <= set(errors), (
        f"errors should have the keys 10, 100 and 1000; it has {sorted(errors)}")
    assert float(errors[1000]) < float(errors[10]), (
        f"the distance at 1000 draws ({float(errors[1000]):.3f}) is not below the one at 10 "
        f"({float(errors[10]):.3f}): expected an unbiased average to approach the full gradient")
    assert float(errors[1000]) < 0.05, (
        f"after 1000 draws the average is {float(errors[1000]):.3f} (relative) from the full "
        "gradient: expected below 0.05; a biased estimate (factors not scaled by 1/(1-c)) "
        "levels off instead")



def check_truncation_average_rerun(errors, layer, sequence, *, draws=10, cut_probability=0.5,
                                   seed=0):
    """Recompute the exercise's average of the first `draws` randomized-truncation gradients of
    layer.weight_hh_l0 (loss: the squared norm of the last output; factors from a generator
    seeded `seed`) and compare its relative distance to the full gradient with errors[draws], to
    1e-6 relative."""
    from gatedrnn import truncation

    def gradient(factors):
        output, _ = truncation.run_truncated(layer, sequence, factors)
        return torch.autograd.grad(output[0, -1].pow(2).sum(), layer.weight_hh_l0)[0]

    steps = sequence.shape[1]
    generator = torch.Generator().manual_seed(seed)
    full = gradient([1.0] * steps)
    total = sum(gradient(truncation.truncation_factors(steps, cut_probability=cut_probability,
                                                       generator=generator))
                for _ in range(draws))
    expected = float((total / draws - full).norm() / full.norm())
    assert abs(float(errors[draws]) / expected - 1) < 1e-6, (
        f"errors[{draws}] = {float(errors[draws]):.6f}: the specified draws give {expected:.6f}")


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


def check_gru_stacked_count(stacked_count, sizes=((100, 100, 2), (7, 5, 1), (3, 8, 3))):
    """gru-count-stack: stacked_count(d, h, layers) equals the number of numbers
    torch.nn.GRU(d, h, num_layers=layers, bidirectional=True) stores, for each of `sizes`."""
    for d, h, layers in sizes:
        with torch.random.fork_rng():
            model = torch.nn.GRU(d, h, num_layers=layers, bidirectional=True)
        want = sum(p.numel() for p in model.parameters())
        got = stacked_count(d, h, layers)
        assert got == want, (f"stacked_count({d}, {h}, {layers}) = {got}: "
                             f"torch.nn.GRU stores {want}")


def check_gru_stacked_count_formula(stacked_count, sizes=((10**6, 10**5, 50), (123, 45, 6))):
    """gru-count-stack, hidden part: the formula at sizes too large to build a model."""
    for d, h, layers in sizes:
        got, want = stacked_count(d, h, layers), _stacked_count(d, h, layers)
        assert got == want, f"stacked_count({d}, {h}, {layers}) = {got}: expected {want}"


# --- compare_memory, compare_real ----------------------------------------------------------------
# The race's runs are plain dicts (`race.run_seed`, `race.run_language_model`), so these checkers
# recompute the student's summaries from the runs they stored instead of training again.

def _close(name, got, expected, tolerance=1e-9):
    try:
        got = float(got)
    except (TypeError, ValueError):
        raise AssertionError(f"{name}: expected a number near {expected:.6g}, "
                             f"got {got!r}") from None
    if not abs(got - expected) <= tolerance * max(1.0, abs(expected)):
        raise AssertionError(f"{name}: expected {expected:.6g} (within {tolerance:g}), "
                             f"got {got:.6g}")


def _same_keys(name, got, expected):
    if not isinstance(got, dict) or set(got) != set(expected):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        raise AssertionError(f"{name}: expected a dict with keys {sorted(expected)}, got {keys}")


def _check_runs(name, runs, seeds, **fields):
    """runs: one result per seed, in the order of `seeds`, each with the given spec fields."""
    got_seeds = [r.get("seed") for r in runs] if isinstance(runs, list) else None
    if got_seeds != list(seeds):
        raise AssertionError(f"{name}: expected a list of one run per seed {list(seeds)}, "
                             f"got seeds {got_seeds}")
    for key, value in fields.items():
        got = [r.get(key) for r in runs]
        if any(g != value for g in got):
            raise AssertionError(f"{name}: expected every run with {key} = {value!r}, got {got}")


def check_fair_race(lstm_by_lr, validation, chosen, chosen_test_recall, race_runs):
    """cmp-fair-race: the LSTM's copying runs at 1e-2 (the race's own, `race_runs`) and 3e-2
    on the same seeds and recipe, each rate's median final validation recall, the rate chosen
    on it (a tie keeps 1e-2) and the median test recall at the chosen rate."""
    import statistics

    rates = (1e-2, 3e-2)
    _same_keys("lstm_by_lr", lstm_by_lr, rates)
    seeds = [r["seed"] for r in race_runs]
    recipe = {key: race_runs[0][key] for key in ("task", "kind", "hidden", "length", "steps",
                                                 "batch", "clip", "eval_every")}
    _check_runs("lstm_by_lr[1e-2]", lstm_by_lr[1e-2], seeds, lr=1e-2, **recipe)
    _check_runs("lstm_by_lr[3e-2]", lstm_by_lr[3e-2], seeds, lr=3e-2, **recipe)
    _same_keys("validation", validation, rates)
    medians = {lr: statistics.median(r["eval_metric"][-1] for r in lstm_by_lr[lr]) for lr in rates}
    for lr in rates:
        _close(f"validation[{lr:g}] (median of the last validation recall)", validation[lr],
               medians[lr])
    best = 3e-2 if medians[3e-2] > medians[1e-2] else 1e-2
    if chosen != best:
        raise AssertionError(f"chosen: expected {best:g}, the rate with the higher median "
                             f"validation recall ({medians}), got {chosen!r}")
    _close("chosen_test_recall (median test recall at the chosen rate)", chosen_test_recall,
           statistics.median(r["test_metric"] for r in lstm_by_lr[best]))


def check_equal_width(counts_at_32, equal_width, equal_width_ratio, seeds, *, baseline,
                      bands=None):
    """cmp-equal-parameters: the layers' parameter counts at h = 32, one adding-problem run per
    seed and model at h = 32 (the GRU's may be the race's own), each model's median test MSE
    over the baseline, and, if `bands` ({model: (low, high)}) is given, that median inside the
    band."""
    import statistics

    from .race import KINDS, layer_parameters

    _same_keys("counts_at_32", counts_at_32, KINDS)
    for kind in KINDS:
        if counts_at_32[kind] != layer_parameters(kind, 2, 32):
            raise AssertionError(f"counts_at_32[{kind!r}]: expected {layer_parameters(kind, 2, 32)}"
                                 f" (d = 2, h = 32), got {counts_at_32[kind]!r}")
    _same_keys("equal_width", equal_width, KINDS)
    _same_keys("equal_width_ratio", equal_width_ratio, KINDS)
    for kind in KINDS:
        _check_runs(f"equal_width[{kind!r}]", equal_width[kind], seeds, task="adding",
                    kind=kind, hidden=32, parameters=layer_parameters(kind, 2, 32))
        median = statistics.median(r["test_loss"] / baseline for r in equal_width[kind])
        _close(f"equal_width_ratio[{kind!r}] (median test MSE / baseline)",
               equal_width_ratio[kind], median)
        if bands and kind in bands and not bands[kind][0] <= median <= bands[kind][1]:
            raise AssertionError(f"equal_width_ratio[{kind!r}] = {median:.3f}: expected between "
                                 f"{bands[kind][0]} and {bands[kind][1]} at this budget")


def check_forget_bias(biases, time_constant, kept_after_49, gru, inputs, update_gate_start,
                      *, seed=0, total_bias=3.0):
    """cmp-forget-bias: (a) time constants (1/(1 - sigma(b)), or exactly -1/ln sigma(b)) and
    sigma(b)^49 for each bias; (b) a GRU drawn from `seed` whose update gate alone got the
    total bias `total_bias` (input side plus hidden side) and the mean update gate at its
    first step on `inputs`."""
    import math

    import torch

    from .diagnostics import gru_trace
    from .gru import GRU

    _same_keys("time_constant", time_constant, biases)
    _same_keys("kept_after_49", kept_after_49, biases)
    for b in biases:
        keep = 1 / (1 + math.exp(-b))
        approximate, exact = 1 / (1 - keep), -1 / math.log(keep)
        got = time_constant[b]
        if not any(abs(got - want) <= 1e-6 * want for want in (approximate, exact)):
            raise AssertionError(f"time_constant[{b:.3g}]: expected 1/(1 - sigma(b)) = "
                                 f"{approximate:.4g} (or exactly -1/ln sigma(b) = {exact:.4g}), "
                                 f"got {got!r}")
        _close(f"kept_after_49[{b:.3g}] (sigma(b)^49)", kept_after_49[b], keep ** 49, 1e-6)
    with torch.random.fork_rng():             # the drawn GRU, without moving the caller's seed
        torch.manual_seed(seed)
        drawn = GRU(gru.input_size, gru.hidden_size, batch_first=gru.batch_first)
    h = gru.hidden_size
    with torch.no_grad():
        for name, value in drawn.named_parameters():
            mine = getattr(gru, name)
            if name.startswith("weight") and not torch.equal(mine, value):
                raise AssertionError(f"{name}: expected the weights as drawn from seed {seed}; "
                                     "only the update gate's biases should change")
        total = gru.bias_ih_l0 + gru.bias_hh_l0
        drawn_total = drawn.bias_ih_l0 + drawn.bias_hh_l0
        update = total[h:2 * h]
        if not torch.allclose(update, torch.full_like(update, total_bias), atol=1e-6):
            raise AssertionError(f"the update gate's total bias (input side plus hidden side): "
                                 f"expected {total_bias} on every unit, got {update.tolist()}")
        others = torch.cat([total[:h], total[2 * h:]])
        if not torch.allclose(others, torch.cat([drawn_total[:h], drawn_total[2 * h:]])):
            raise AssertionError("the reset gate's and the candidate's biases changed: expected "
                                 "only the update gate's rows to change")
        measured = float(gru_trace(gru, inputs).update_gate[:, 0].mean())
    _close("update_gate_start (mean update gate at the first step)", update_gate_start,
           measured, 1e-6)


def check_copy_baseline(memoryless_logits, *, delay, num_symbols, copy_length,
                        memoryless=None, num_sequences=200, seed=0):
    """cmp-copy-baseline: the student's memoryless_logits(num_sequences, delay, num_symbols,
    copy_length) scores copying_baseline on fresh copying data (and `memoryless`, if given,
    is that score on the page's data)."""
    from .race import copying_loss
    from .tasks import copying_baseline, copying_task

    formula = copying_baseline(delay, num_symbols=num_symbols, copy_length=copy_length)
    _, targets = copying_task(num_sequences, delay, num_symbols=num_symbols,
                              copy_length=copy_length, seed=seed)
    logits = memoryless_logits(num_sequences, delay, num_symbols, copy_length)
    shape = (num_sequences, delay + 2 * copy_length, num_symbols + 2)
    if tuple(getattr(logits, "shape", ())) != shape:
        raise AssertionError(f"memoryless_logits{(num_sequences, delay, num_symbols, copy_length)}:"
                             f" expected logits of shape {shape}, got "
                             f"{tuple(getattr(logits, 'shape', ()))}")
    _close(f"the memoryless predictor's cross-entropy (delay {delay}, {num_symbols} symbols, "
           f"{copy_length} copied)", float(copying_loss(logits, targets)), formula, 1e-5)
    if memoryless is not None:
        _close("memoryless", memoryless, formula, 1e-5)


def check_ngram_orders(many_orders, page_orders, *, orders=range(1, 8)):
    """cmp-beat-ngram (a): bits per character of the counted n-grams of every order in
    `orders`, the page's own values where it counted them, falling to a best order and rising
    after it."""
    _same_keys("many_orders", many_orders, orders)
    for order, bits in page_orders.items():
        _close(f"many_orders[{order}]", many_orders[order], bits)
    scores = [many_orders[order] for order in orders]
    best = scores.index(min(scores))
    falls = all(a > b for a, b in zip(scores[:best], scores[1:best + 1]))
    rises = all(a < b for a, b in zip(scores[best:], scores[best + 1:]))
    if not (0 < best < len(scores) - 1 and falls and rises):
        raise AssertionError(f"many_orders: expected scores that fall to a best middle order and "
                             f"rise after it, got {[round(s, 3) for s in scores]}")


def check_temperature(real_share, distinct_share, model, vocab, known_words, *, temperatures,
                      num_samples, seed):
    """cmp-temperature: the shares of dictionary words and of distinct words among
    `num_samples` words drawn with compare.sample_words(..., seed=seed) at each temperature,
    recomputed; the share of real words falls from the lowest temperature through 1 to the
    highest."""
    from .compare import sample_words

    _same_keys("real_share", real_share, temperatures)
    _same_keys("distinct_share", distinct_share, temperatures)
    for temperature in temperatures:
        words = sample_words(model, vocab, num_samples, temperature=temperature, seed=seed)
        _close(f"real_share[{temperature}]", real_share[temperature],
               sum(word in known_words for word in words) / len(words))
        _close(f"distinct_share[{temperature}]", distinct_share[temperature],
               len(set(words)) / len(words))
    low, high = min(temperatures), max(temperatures)
    if not real_share[low] > real_share[1.0] > real_share[high]:
        raise AssertionError(f"real_share: expected it to fall from tau = {low} through 1 to "
                             f"{high}, got {real_share}")


def check_bidirectional_cheats(cheater, cheater_bits, valid, *, vocab_size, hidden,
                               one_way_bits):
    """cmp-bidirectional-cheats: `cheater` (a race.run_language_model result) is a seed-0
    bidirectional GRU whose weights score `cheater_bits` on `valid`, far below (less than half
    of) every one-directional GRU in `one_way_bits`."""
    import torch

    from .metrics import bits_per_character
    from .race import build_language_model

    if cheater.get("kind") != "GRU" or cheater.get("seed") != 0:
        raise AssertionError(f"cheater: expected the seed-0 GRU, got kind {cheater.get('kind')!r},"
                             f" seed {cheater.get('seed')!r}")
    with torch.random.fork_rng():             # it seeds the global generator: keep the caller's
        model = build_language_model("GRU", vocab_size, hidden, bidirectional=True)
    try:
        model.load_state_dict(cheater["state_dict"])
    except RuntimeError as error:
        raise AssertionError("cheater['state_dict']: expected the weights of a bidirectional GRU "
                             f"of width {hidden}: {str(error).splitlines()[0]}") from None
    _close("cheater_bits (the trained model's validation bits per character)", cheater_bits,
           bits_per_character(model, valid), 1e-4)
    if not cheater_bits < 0.5 * min(one_way_bits):
        raise AssertionError(f"cheater_bits = {cheater_bits:.3f}: expected far below the "
                             f"one-directional GRU's {min(one_way_bits):.3f} (less than half)")


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
