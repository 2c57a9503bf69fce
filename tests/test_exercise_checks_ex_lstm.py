"""The self-checks of the lstm and questions exercises can fail (issue 19).

Each checker of `gatedrnn.exercise_checks`' lstm and questions sections passes the reference
answer and rejects a wrong one (a stub's value, a sign error, a dropped term, an untied block);
each check cell of book/lstm.ipynb and book/questions.ipynb, run on its own with a right and a
wrong answer in its namespace, passes and fails. The last tests check the two pages' layout:
every exercise has a graded check cell after its solution, or a stated reason why none fits, and
is worth 4 points.
"""
import math
import types
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

import gatedrnn
from gatedrnn import compare, exercise_checks, experiments, lstm
from gatedrnn.exercises import solution_regions
from gatedrnn.student import SOLUTION_END, SOLUTION_START

BOOK = Path(__file__).resolve().parents[1] / "book"
PAGES = ("lstm", "questions")
# exercises whose solutions draw nothing from the global random state (own generators or none)
DRAW_NOTHING = {"lstm-step-backward", "questions-alias"}


pytestmark = pytest.mark.usefixtures("one_thread")


def check_source(page, label):
    notebook = nbformat.read(BOOK / f"{page}.ipynb", as_version=4)
    cells = [cell for cell in notebook.cells
             if cell.metadata.get("nbgrader", {}).get("grade_id") == f"{label}-check"]
    assert len(cells) == 1, f"{page}: {label} has {len(cells)} check cells"
    return cells[0].source


def run_check(page, label, **answer):
    """Run the check cell of `label` with the student's variables `answer`; return its output."""
    printed = []
    namespace = dict(torch=torch, np=np, math=math, compare=compare, gatedrnn=gatedrnn,
                     exercise_checks=exercise_checks, print=lambda *a, **k: printed.append(a))
    namespace.update(answer)
    exec(compile(check_source(page, label), f"{page}:{label}-check", "exec"), namespace)
    return printed


# --- lstm-peephole --------------------------------------------------------------------------------

def peephole_on_previous_cell(gates_x, state_prev, weight_hh, bias_hh, w_ci, w_cf, w_co):
    # the output gate peeks at C_{t-1} instead of the new cell
    h_prev, c_prev = state_prev
    shifted = gates_x.clone()
    h = h_prev.shape[1]
    shifted[:, 3 * h:] += c_prev * w_co
    return exercise_checks.reference_peephole_step(shifted, state_prev, weight_hh, bias_hh, w_ci,
                                                   w_cf, 0 * w_co)


def peephole_ignored(gates_x, state_prev, weight_hh, bias_hh, w_ci, w_cf, w_co):
    (h_t, c_t), cache = lstm.step_forward(gates_x, state_prev, weight_hh, bias_hh)
    return h_t, c_t, cache.forget_gate


def test_peephole_checker():
    exercise_checks.check_peephole_step(exercise_checks.reference_peephole_step)
    for wrong in (peephole_on_previous_cell, peephole_ignored):
        with pytest.raises(AssertionError, match="nonzero peepholes"):
            exercise_checks.check_peephole_step(wrong)
    with pytest.raises(AssertionError, match="tuple"):
        exercise_checks.check_peephole_step(lambda *args: peephole_ignored(*args)[:2])


def test_peephole_check_cell():
    right = dict(zero_gap=0.0, forget_gap=0.9,
                 peephole_step=exercise_checks.reference_peephole_step)
    assert "self-check passed" in run_check("lstm", "lstm-peephole", **right)[-1][0]
    with pytest.raises(AssertionError, match="forget_gap"):
        run_check("lstm", "lstm-peephole", **{**right, "forget_gap": 0.0})
    with pytest.raises(AssertionError, match="zero_gap"):
        run_check("lstm", "lstm-peephole", **{**right, "zero_gap": 1e-3})
    with pytest.raises(AssertionError, match="nonzero peepholes"):
        run_check("lstm", "lstm-peephole", **{**right, "peephole_step": peephole_ignored})


# --- lstm-cifg ------------------------------------------------------------------------------------

def cifg_layer(tie=True, zero=False):
    with torch.random.fork_rng():
        torch.manual_seed(53)
        layer = gatedrnn.LSTM(2, 8, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            parameter = getattr(layer, name)
            if zero:
                parameter[:16] = 0
            elif tie:
                parameter[:8] = -parameter[8:16]
            else:
                parameter[:8] = -parameter[8:16] + 0.01     # a tie that is slightly off
    return layer


def test_cifg_checker():
    exercise_checks.check_cifg_gate_sum(cifg_layer())
    with pytest.raises(AssertionError, match="off by up to"):
        exercise_checks.check_cifg_gate_sum(cifg_layer(tie=False))
    with pytest.raises(AssertionError, match="hardly varies"):
        exercise_checks.check_cifg_gate_sum(cifg_layer(zero=True))


def test_cifg_check_cell():
    right = dict(cifg=cifg_layer(), gate_sum=torch.ones(40, 3, 8, dtype=torch.float64),
                 cifg_free=264, gru_free=272)
    run_check("lstm", "lstm-cifg", **right)
    run_check("lstm", "lstm-cifg", **{**right, "cifg_free": 288, "gru_free": 288})  # stored
    with pytest.raises(AssertionError, match="gate_sum"):
        run_check("lstm", "lstm-cifg", **{**right, "gate_sum": right["gate_sum"] + 1e-6})
    with pytest.raises(AssertionError, match="cifg_free"):
        run_check("lstm", "lstm-cifg", **{**right, "gru_free": 264})   # "the same as a GRU"


# --- lstm-no-output-gate --------------------------------------------------------------------------

def make_model(seed, scheme="chrono", units=4):
    torch.manual_seed(seed)
    return gatedrnn.SequenceModel(compare.recurrent_layer("LSTM", 2, units,
                                                          implementation="torch"), 1)


def without_output_gate_factory(bias=50.0, hooks=True, zero_weights=True):
    def without_output_gate(seed):
        model = make_model(seed)
        layer, units = model.rnn, model.rnn.hidden_size
        rows = slice(3 * units, 4 * units)
        with torch.no_grad():
            if zero_weights:
                layer.weight_ih_l0[rows] = 0
                layer.weight_hh_l0[rows] = 0
            layer.bias_ih_l0[rows] = bias
            layer.bias_hh_l0[rows] = 0
        if hooks:
            mask = torch.ones(4 * units, 1)
            mask[rows] = 0
            for name, parameter in layer.named_parameters():
                parameter.register_hook(
                    lambda grad, m=mask if "weight" in name else mask[:, 0]: grad * m)
        return model
    return without_output_gate


def test_output_gate_checker():
    state = torch.get_rng_state()
    exercise_checks.check_output_gate_pinned(without_output_gate_factory())
    assert torch.equal(torch.get_rng_state(), state), "the checker must not move the page's RNG"
    # without hooks a bias of 15 (sigma = 1 - 3e-7 in float32) lets gradient through, and Adam,
    # which divides by the gradient's own scale, moves the block (from 17 on sigma is exactly 1
    # in float32 and no gradient passes, hooks or not)
    with pytest.raises(AssertionError, match="weights should be 0|block moved"):
        exercise_checks.check_output_gate_pinned(without_output_gate_factory(bias=15.0,
                                                                             hooks=False))
    exercise_checks.check_output_gate_pinned(without_output_gate_factory(bias=15.0))
    with pytest.raises(AssertionError, match="bias"):
        exercise_checks.check_output_gate_pinned(without_output_gate_factory(bias=5.0))
    with pytest.raises(AssertionError, match="weights should be 0"):
        exercise_checks.check_output_gate_pinned(without_output_gate_factory(zero_weights=False))


def test_output_gate_check_cell():
    run = types.SimpleNamespace(eval_loss=[0.1, 0.04])
    right = dict(without_output_gate=without_output_gate_factory(), no_output={0: run},
                 SEEDS=range(5))
    run_check("lstm", "lstm-no-output-gate", **right)
    with pytest.raises(AssertionError, match="no_output"):
        run_check("lstm", "lstm-no-output-gate", **{**right, "no_output": {}})
    with pytest.raises(AssertionError, match="bias"):
        run_check("lstm", "lstm-no-output-gate",
                  **{**right, "without_output_gate": without_output_gate_factory(bias=0.0)})


# --- lstm-parameter-count -------------------------------------------------------------------------

def stacked_count(d, h, layers):
    return 2 * 4 * (d * h + h * h + 2 * h) + 2 * (layers - 1) * 4 * (3 * h * h + 2 * h)


def later_layers_read_h(d, h, layers):
    # a later layer fed only one direction of the layer below: right for one layer only
    return 2 * 4 * (d * h + h * h + 2 * h) + 2 * (layers - 1) * 4 * (2 * h * h + 2 * h)


def test_stacked_count_checker():
    exercise_checks.check_stacked_count(stacked_count)
    with pytest.raises(AssertionError, match="torch.nn.LSTM has"):
        exercise_checks.check_stacked_count(later_layers_read_h)
    with pytest.raises(AssertionError, match="torch.nn.LSTM has"):   # one bias per gate
        exercise_checks.check_stacked_count(lambda d, h, n: stacked_count(d, h, n) - 8 * n * h)


def test_parameter_count_check_cell():
    right = dict(lstm_stacked_count=stacked_count, redundant_biases=1600, matched=27)
    run_check("lstm", "lstm-parameter-count", **right)
    with pytest.raises(AssertionError, match="redundant_biases"):
        run_check("lstm", "lstm-parameter-count", **{**right, "redundant_biases": 800})
    with pytest.raises(AssertionError, match="matched"):
        run_check("lstm", "lstm-parameter-count", **{**right, "matched": 28})
    with pytest.raises(AssertionError, match="torch.nn.LSTM has"):   # right at (100, 100, 2) only
        run_check("lstm", "lstm-parameter-count", **{**right, "lstm_stacked_count": (
            lambda d, h, n: 403_200 if (d, h, n) == (100, 100, 2) else 0)})


# --- lstm-time-series -----------------------------------------------------------------------------

class LastValue(torch.nn.Module):
    # a "forecaster" that repeats the last value of each window: its MSE is the naive one
    def forward(self, windows):
        return windows[:, -1, :]


class LeastSquares(torch.nn.Module):
    # the 30-lag linear model of the solution, fitted on the training windows
    def __init__(self):
        super().__init__()
        train = exercise_checks._time_series_windows()[:2970].double()
        design = torch.cat([train[:, :30], torch.ones(len(train), 1, dtype=torch.float64)], 1)
        self.coefficients = torch.linalg.lstsq(design, train[:, 30:]).solution

    def forward(self, windows):
        inputs = windows[:, :, 0].double()
        design = torch.cat([inputs, torch.ones(len(inputs), 1, dtype=torch.float64)], 1)
        return (design @ self.coefficients).float()


def test_time_series_checker_and_cell():
    naive, linear = exercise_checks.time_series_reference()
    # the page's solution measured naive 0.0389 and linear 0.0127 on this data
    assert 0.035 < naive < 0.043 and 0.011 < linear < 0.015
    exercise_checks.check_time_series(0.016, linear, naive)
    exercise_checks.check_forecaster(LastValue(), naive)
    with pytest.raises(AssertionError, match="forecaster's MSE"):   # a number never measured
        exercise_checks.check_forecaster(LastValue(), 0.016)
    # the check cell, with the least-squares model standing in for a trained LSTM
    right = dict(forecaster=LeastSquares(), lstm_mse=linear, linear_mse=linear, naive_mse=naive)
    run_check("lstm", "lstm-time-series", **right)
    with pytest.raises(AssertionError, match="forecaster's MSE"):  # typed in, not measured
        run_check("lstm", "lstm-time-series", **{**right, "lstm_mse": 0.016})
    with pytest.raises(AssertionError, match="lstm_mse"):          # no better than naive
        run_check("lstm", "lstm-time-series", **{**right, "forecaster": LastValue(),
                                                 "lstm_mse": naive})
    with pytest.raises(AssertionError, match="lstm_mse"):          # worse than the naive forecast
        exercise_checks.check_time_series(0.05, linear, naive)
    with pytest.raises(AssertionError, match="lstm_mse"):          # below the floor: leaked target
        exercise_checks.check_time_series(0.001, linear, naive)
    with pytest.raises(AssertionError, match="linear_mse"):        # the baseline not fitted
        exercise_checks.check_time_series(0.016, naive, naive)
    with pytest.raises(AssertionError, match="naive_mse"):
        run_check("lstm", "lstm-time-series", forecaster=LeastSquares(), lstm_mse=0.016,
                  linear_mse=linear, naive_mse=2 * naive)


# --- lstm-step-backward ---------------------------------------------------------------------------

def step_backward_right(dh_next, dc_next, cache):
    h_prev, c_prev, i, f, c_cand, o, tanh_c, weight_hh = cache
    d_o = dh_next * tanh_c
    dc = dc_next + dh_next * o * (1 - tanh_c ** 2)
    dA = torch.cat([dc * c_cand * i * (1 - i), dc * c_prev * f * (1 - f),
                    dc * i * (1 - c_cand ** 2), d_o * o * (1 - o)], dim=1)
    return dA, (dA @ weight_hh, dc * f)


def step_backward_without_lb2(dh_next, dc_next, cache):
    # (LB2)'s path through H_t = O_t tanh(C_t) left out: only the carried gradient reaches C_t
    h_prev, c_prev, i, f, c_cand, o, tanh_c, weight_hh = cache
    dc = dc_next
    dA = torch.cat([dc * c_cand * i * (1 - i), dc * c_prev * f * (1 - f),
                    dc * i * (1 - c_cand ** 2), dh_next * tanh_c * o * (1 - o)], dim=1)
    return dA, (dA @ weight_hh, dc * f)


def step_backward_by_autograd(dh_next, dc_next, cache):
    # recompute the step from the cache's inputs and ask autograd: the cache holds no graph
    grads = torch.autograd.grad((cache.h_prev * dh_next).sum(), [cache.h_prev])
    return grads[0], (grads[0], grads[0])


def test_step_backward_checker():
    exercise_checks.check_step_backward(step_backward_right)
    with pytest.raises(AssertionError, match="differs from lstm.step_backward"):
        exercise_checks.check_step_backward(step_backward_without_lb2)
    with pytest.raises(RuntimeError):                  # autograd off: nothing to differentiate
        exercise_checks.check_step_backward(step_backward_by_autograd)


def test_step_backward_check_cell():
    run_check("lstm", "lstm-step-backward", passed=True, gap=0.0,
              my_step_backward=step_backward_right)
    with pytest.raises(AssertionError, match="passed"):
        run_check("lstm", "lstm-step-backward", passed=False, gap=0.0,
                  my_step_backward=step_backward_right)
    with pytest.raises(AssertionError, match="gap"):
        run_check("lstm", "lstm-step-backward", passed=True, gap=0.3,
                  my_step_backward=step_backward_right)


# --- lstm-no-squash -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def no_squash():
    return exercise_checks.no_squash_reference()


def test_no_squash_reference_and_cell(no_squash):
    kept, plain, squashed = no_squash
    # the page's numbers: c <- tanh(c) from 0.9 gives 0.351 and 0.121; sqrt(3 / (2t)) for large t
    assert abs(kept[10] - 0.351) < 1e-3 and abs(kept[100] - 0.121) < 1e-3
    assert abs(kept[100] - math.sqrt(3 / 200)) < 0.01
    assert len(plain) == len(squashed) == 100 and squashed[-1] < plain[-1]
    run_check("lstm", "lstm-no-squash", kept=kept, plain_norms=plain, squashed_norms=squashed)
    with pytest.raises(AssertionError, match="squashed_norms"):    # the unsquashed curve twice
        exercise_checks.check_no_squash(kept, plain, plain)
    with pytest.raises(AssertionError, match="plain_norms"):       # distance 0 last
        exercise_checks.check_no_squash(kept, plain.flip(0), squashed)
    with pytest.raises(AssertionError, match="kept"):              # "a kept value stays 0.9"
        exercise_checks.check_no_squash(dict.fromkeys(range(1, 101), 0.9), plain, squashed)
    with pytest.raises(AssertionError, match="plain_norms"):       # C_0's entry left in: 101
        exercise_checks.check_no_squash(kept, torch.cat([plain, plain[-1:]]), squashed)


# --- questions-bound ------------------------------------------------------------------------------

def bound_cells(scale=10.0, same_weights=True, candidate="relu"):
    with torch.random.fork_rng():
        torch.manual_seed(1)
        tanh_cell = experiments.GRUVariant(3, 16)
        relu_cell = experiments.GRUVariant(3, 16, candidate=candidate)
    if same_weights:
        relu_cell.load_state_dict(tanh_cell.state_dict())
    with torch.no_grad():
        for cell in (tanh_cell, relu_cell):
            for parameter in cell.parameters():
                parameter.mul_(scale)
    return tanh_cell, relu_cell


def test_bound_checker():
    exercise_checks.check_bounded_candidate(*bound_cells())
    with pytest.raises(AssertionError, match="same weights|exactly tanh_cell's weights"):
        exercise_checks.check_bounded_candidate(*bound_cells(same_weights=False))
    with pytest.raises(AssertionError, match="multiplied by 10"):
        exercise_checks.check_bounded_candidate(*bound_cells(scale=1.0))
    with pytest.raises(AssertionError, match="ReLU cell stayed"):   # a "ReLU" twin that is tanh
        exercise_checks.check_bounded_candidate(*bound_cells(candidate="tanh"))


def test_bound_check_cell():
    tanh_cell, relu_cell = bound_cells()
    right = dict(tanh_cell=tanh_cell, relu_cell=relu_cell, tanh_largest=1.0,
                 relu_largest=3.2e28)
    run_check("questions", "questions-bound", **right)
    run_check("questions", "questions-bound", **{**right, "relu_largest": math.inf})  # overflow
    with pytest.raises(AssertionError, match="tanh_largest"):
        run_check("questions", "questions-bound", **{**right, "tanh_largest": 1.5})
    with pytest.raises(AssertionError, match="relu_largest"):
        run_check("questions", "questions-bound", **{**right, "relu_largest": 0.9})


# --- questions-alias ------------------------------------------------------------------------------

def test_alias_checker_and_cell():
    exercise_checks.check_alias(exercise_checks.reference_alias)
    # the reference is the FFT peak on fresh tones and rates, including the edges
    for f, rate in ((0, 200), (100, 200), (300, 200), (99, 199), (1234, 321), (77, 44)):
        t = np.arange(rate) / rate
        peak = int(np.argmax(np.abs(np.fft.rfft(np.sin(2 * np.pi * f * t + 0.3)))))
        assert exercise_checks.reference_alias(f, rate) == peak
    run_check("questions", "questions-alias", alias=exercise_checks.reference_alias)
    for wrong in (lambda f, rate: f % rate,                   # not folded into [0, rate / 2]
                  lambda f, rate: abs(f - rate),              # folded once, not modulo
                  lambda f, rate: min(f % rate, rate // 2)):  # clipped instead of mirrored
        with pytest.raises(AssertionError, match="alias"):
            exercise_checks.check_alias(wrong)
    with pytest.raises(AssertionError, match="FFT peak"):
        run_check("questions", "questions-alias", alias=lambda f, rate: f % rate)
    # a wrong answer that is right on the six tones only: caught by the hidden part
    lookup = {30: 30, 130: 70, 170: 30, 230: 30, 330: 70, 470: 70}
    with pytest.raises(AssertionError, match="alias"):
        run_check("questions", "questions-alias", alias=lambda f, rate: lookup.get(f, 0))


# --- the pages' layout ----------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_every_exercise_has_a_check_or_a_reason_and_four_points(page):
    notebook = nbformat.read(BOOK / f"{page}.ipynb", as_version=4)
    regions = solution_regions(notebook)
    assert regions
    after_end = {}
    label = None
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown" and SOLUTION_START.search(cell.source):
            label = SOLUTION_START.search(cell.source).group(2)
        elif cell.cell_type == "markdown" and SOLUTION_END.search(cell.source):
            after_end[label] = notebook.cells[index + 1]
    for label, cells in regions.items():
        code = [cell for cell in cells if cell.cell_type == "code"]
        if label not in DRAW_NOTHING:
            assert "torch.manual_seed(" in code[0].source.split("### BEGIN SOLUTION")[0], (
                f"{page}: {label} does not seed its draws before its solution")
        check = after_end[label]
        meta = check.metadata.get("nbgrader", {})
        points = sum(cell.metadata["nbgrader"].get("points", 0) for cell in cells
                     if cell.metadata["nbgrader"]["grade"])
        written = [cell for cell in cells if cell.cell_type == "markdown"]
        assert written and "**Rubric**" in written[0].source, f"{page}: {label} has no rubric"
        if meta.get("grade_id") == f"{label}-check":
            assert check.source.startswith("# Self-check:")
            statements = [line for line in check.source.splitlines() if line[:1].isalpha()]
            assert statements[-1].startswith("print("), f"{page}: {label}'s check ends unprinted"
            assert "self-check passed" in check.source
            assert meta["locked"] and meta["grade"] and not meta["solution"]
            points += meta["points"]
            assert all(not cell.metadata["nbgrader"]["grade"] for cell in code), (
                f"{page}: {label}'s code is graded by its check cell, not by hand")
        else:
            assert "**No self-check:**" in written[0].source, f"{page}: {label} has no check"
        assert points == 4, f"{page}: {label} is worth {points} points"
