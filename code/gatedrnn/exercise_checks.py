"""Checkers that the chapter exercises' self-check cells call, one section per page.

A self-check cell (see the instructor guide) asserts what a student can check on their own answer:
a value in an accepted range, or, where a student could pass by copying autograd, the student's
function rerun on fresh data against a reference. Each checker raises AssertionError with a message
that says what was expected and what came in, and returns nothing on success.
"""


# --- rnn_bptt ------------------------------------------------------------------------------------
# (The rnn_* checkers import inside their functions, so that the pages' sections of this file
# never edit the same lines.)

def _float64(*shape, generator, scale=1.0):
    import torch
    return torch.randn(*shape, generator=generator, dtype=torch.float64) * scale


def relu_network(seed, sizes=None):
    """A fresh random relu network and data for `check_relu_bptt`, as a dict of the arguments of
    ``relu_bptt``: X (T, n, d), Y (T, n, q), H0 (n, h), W_xh (d, h), W_hh (h, h), b_xh and
    b_hh (h,), W_hq (h, q), b_q (q,), all float64. The sizes (T, n, d, h, q) depend on the seed
    unless given."""
    import torch
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
    import torch
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
        import torch
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
    import torch
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
    import torch
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
    import torch
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
    import torch
    generator = torch.Generator().manual_seed(seed)
    return (_float64(steps, 1, d, generator=generator), _float64(d, h, generator=generator),
            _float64(h, h, generator=generator, scale=1.2 / h ** 0.5))


def check_power_iteration(ratio, gap_rate, eigenvalues):
    """ratio = |lambda_2 / lambda_1| of `eigenvalues` (to 1e-9); gap_rate, the measured per-step
    factor of 1 - |cos|, within 0.03 of ratio^2."""
    import torch
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
    import torch
    generator = torch.Generator().manual_seed(seed)
    return [(int(torch.randint(0, 40, (1,), generator=generator)),
             float(torch.rand(1, generator=generator) * 0.98 + 0.01),
             float(torch.randn(1, generator=generator) * 3)) for _ in range(count)]


def check_jordan_power(jordan_power, cases):
    """jordan_power(k, lam, a) -> J^k as a 2 x 2 float64 tensor, for J = [[lam, a], [0, lam]],
    equal to the matrix power to 1e-9 relative on every (k, lam, a) of `cases`."""
    import torch
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
    import math
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
    import torch
    return torch.cat([p.grad.detach().flatten().to(torch.float64) for p in parameters])


def _cosine(a, b):
    return float(a @ b / (a.norm() * b.norm()))


def check_clip_by_value(gradients_of, theta, cosine_by_value, cosine_by_norm):
    """gradients_of(1) returns parameters with fresh gradients (the page's small RNN). theta must
    change some entries; cosine_by_value must be the cosine between the original gradient and
    the one clipped by value at theta (to 1e-6), below 1; cosine_by_norm must be 1 (to 1e-6)."""
    import torch
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
    import torch
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
    import torch
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
    import torch
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
    import torch
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


# --- lstm ----------------------------------------------------------------------------------------



# --- gru_quickstart, gru, gru_gates, gru_wild ----------------------------------------------------



# --- compare_memory, compare_real ----------------------------------------------------------------



# --- questions -----------------------------------------------------------------------------------
