"""The adding and copying generators: layout, reproducibility, baselines, argument checks."""
import math

import pytest
import torch

from gatedrnn import ADDING_BASELINE_MSE, adding_problem, copying_baseline, copying_task


def test_adding_problem_layout():
    inputs, targets = adding_problem(500, 30, seed=3)
    assert inputs.shape == (500, 30, 2) and targets.shape == (500, 1)
    values, markers = inputs[..., 0], inputs[..., 1]
    assert ((values >= 0) & (values <= 1)).all()
    assert set(markers.unique().tolist()) == {0.0, 1.0}
    assert (markers[:, :15].sum(1) == 1).all() and (markers[:, 15:].sum(1) == 1).all()
    torch.testing.assert_close(targets[:, 0], (values * markers).sum(1))


def test_adding_problem_is_seeded():
    a, b = adding_problem(10, 8, seed=1), adding_problem(10, 8, seed=1)
    c = adding_problem(10, 8, seed=2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_adding_baseline_is_the_error_of_answering_one():
    _, targets = adding_problem(200_000, 10, seed=0, dtype=torch.float64)
    mse_of_one = float(((targets - 1.0) ** 2).mean())
    assert abs(mse_of_one - ADDING_BASELINE_MSE) < 0.003


def test_copying_task_layout():
    delay, copy_length, num_symbols = 15, 10, 8
    inputs, targets = copying_task(64, delay, seed=0)
    length = delay + 2 * copy_length
    assert inputs.shape == targets.shape == (64, length) and inputs.dtype == torch.long
    symbols = inputs[:, :copy_length]
    assert ((symbols >= 1) & (symbols <= num_symbols)).all()
    assert (inputs[:, copy_length:copy_length + delay - 1] == 0).all()
    assert (inputs[:, copy_length + delay - 1] == num_symbols + 1).all()
    assert (inputs[:, copy_length + delay:] == 0).all()
    assert (targets[:, :delay + copy_length] == 0).all()
    assert torch.equal(targets[:, -copy_length:], symbols)


def test_copying_baseline_is_the_memoryless_cross_entropy():
    delay = 50
    inputs, targets = copying_task(256, delay, seed=0)
    length = inputs.shape[1]
    # Blank with certainty before the symbols are due, uniform over the 8 symbols after.
    log_probs = torch.full((256, length, 10), -1e9)
    log_probs[:, :delay + 10, 0] = 0.0
    log_probs[:, delay + 10:, 1:9] = math.log(1 / 8)
    loss = torch.nn.functional.nll_loss(log_probs.reshape(-1, 10), targets.reshape(-1))
    assert abs(float(loss) - copying_baseline(delay)) < 1e-6
    assert abs(copying_baseline(100) - 10 * math.log(8) / 120) < 1e-12


@pytest.mark.parametrize("call, error, fragment", [
    (lambda: adding_problem(0, 10), ValueError, "num_sequences must be >= 1, got 0"),
    (lambda: adding_problem(5, 1), ValueError, "seq_len must be >= 2, got 1"),
    (lambda: adding_problem(5, 10.5), TypeError, "seq_len must be an int"),
    (lambda: adding_problem(5, 10, seed="a"), TypeError, "seed must be an int"),
    (lambda: copying_task(5, 0), ValueError, "delay must be >= 1, got 0"),
    (lambda: copying_task(5, 10, num_symbols=0), ValueError, "num_symbols must be >= 1"),
])
def test_impossible_arguments(call, error, fragment):
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value)


def test_delayed_echo_targets_are_the_inputs_delay_steps_back():
    from gatedrnn.tasks import IGNORE_INDEX, delayed_echo
    inputs, targets = delayed_echo(5, 12, 3, seed=1)
    assert inputs.shape == (5, 12, 1) and targets.shape == (5, 12)
    assert targets.dtype == torch.long
    assert torch.all(targets[:, :3] == IGNORE_INDEX)
    torch.testing.assert_close(targets[:, 3:], (inputs[:, :-3, 0] > 0).long())
    assert set(inputs.unique().tolist()) == {-1.0, 1.0}
    again, _ = delayed_echo(5, 12, 3, seed=1)
    assert torch.equal(inputs, again)
    with pytest.raises(ValueError, match="seq_len"):
        delayed_echo(5, 3, 3)
