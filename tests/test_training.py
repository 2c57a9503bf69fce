"""The shared training loop and global-norm clipping."""
import pytest
import torch

import gatedrnn
from gatedrnn import adding_problem, clip_global_norm, global_grad_norm, train


def _grads(seed):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2))
    model(torch.randn(16, 5)).pow(2).sum().mul(10).backward()
    return model


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e6])
def test_clipping_matches_torch(max_norm):
    ours, reference = _grads(0), _grads(0)
    norm = clip_global_norm(ours.parameters(), max_norm)
    expected = torch.nn.utils.clip_grad_norm_(reference.parameters(), max_norm)
    assert abs(norm - float(expected)) < 1e-4 * float(expected)
    for p, q in zip(ours.parameters(), reference.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-6, rtol=1e-5)
    assert global_grad_norm(ours.parameters()) <= max(max_norm, norm) * (1 + 1e-5)


def test_clipping_rejects_bad_threshold():
    with pytest.raises(ValueError, match="max_norm must be a number > 0, got 0"):
        clip_global_norm(_grads(0).parameters(), 0)


def _adding_run(seed):
    torch.manual_seed(seed)
    model = gatedrnn.SequenceModel(gatedrnn.GRU(2, 16, batch_first=True), 1)
    data = adding_problem(512, 10, seed=0)
    held_out = adding_problem(256, 10, seed=1)
    return train(model, torch.nn.functional.mse_loss, data, steps=150, batch_size=32, lr=1e-2,
                 clip=1.0, eval_data=held_out, eval_every=50, seed=seed, progress=False)


def test_training_learns_short_adding_problem_and_records_history():
    history = _adding_run(0)
    assert history.step == list(range(1, 151))
    assert len(history.loss) == len(history.grad_norm) == 150
    assert history.eval_step == [50, 100, 150]
    # Well below the 1/6 of answering 1 every time.
    assert history.eval_loss[-1] < 0.5 * gatedrnn.ADDING_BASELINE_MSE


def test_training_is_reproducible():
    first, second = _adding_run(0), _adding_run(0)
    assert first.loss == second.loss and first.eval_loss == second.eval_loss


def test_training_checks_its_data():
    model = gatedrnn.SequenceModel(gatedrnn.GRU(2, 4, batch_first=True), 1)
    inputs, targets = adding_problem(8, 4)
    with pytest.raises(TypeError, match="pair of tensors"):
        train(model, torch.nn.functional.mse_loss, inputs, steps=1, progress=False)
    with pytest.raises(ValueError, match="as many rows"):
        train(model, torch.nn.functional.mse_loss, (inputs, targets[:4]), steps=1, progress=False)


def test_evaluate_weights_every_batch_by_its_size_and_scores_the_metric():
    """evaluate in batches of 3 over 7 rows equals the loss and metric over all rows at once."""
    model = torch.nn.Linear(2, 1)
    inputs, targets = torch.randn(7, 2), torch.randn(7, 1)

    def mean_error(output, target):
        return (output - target).abs().mean()

    loss, metric = gatedrnn.evaluate(model, torch.nn.functional.mse_loss, (inputs, targets),
                                     metric_fn=mean_error, batch_size=3)
    with torch.no_grad():
        output = model(inputs)
    assert loss == pytest.approx(torch.nn.functional.mse_loss(output, targets).item())
    assert metric == pytest.approx(mean_error(output, targets).item())
    assert gatedrnn.evaluate(model, torch.nn.functional.mse_loss, (inputs, targets))[1] is None
    assert model.training                  # evaluate puts the model back in training mode


# ------------------------------------------------------------------ train(stop_when=...)

def _adding(stop_when, steps=300):
    torch.manual_seed(0)
    model = gatedrnn.SequenceModel(gatedrnn.GRU(2, 16, batch_first=True), 1)
    return gatedrnn.train(model, torch.nn.functional.mse_loss,
                          gatedrnn.adding_problem(512, 8, seed=0), steps=steps, batch_size=32,
                          lr=1e-2, eval_data=gatedrnn.adding_problem(256, 8, seed=1),
                          eval_every=10, progress=False, stop_when=stop_when)


def test_stop_when_ends_training_at_the_first_solved_evaluation():
    threshold = 0.5 * gatedrnn.ADDING_BASELINE_MSE
    history = _adding(lambda loss, metric: loss < threshold)
    assert history.solved_step is not None and history.solved_step < 300
    assert history.step[-1] == history.solved_step == history.eval_step[-1]
    assert history.eval_loss[-1] < threshold
    assert all(loss >= threshold for loss in history.eval_loss[:-1])


def test_unsolved_run_trains_every_step():
    history = _adding(lambda loss, metric: False, steps=30)
    assert history.solved_step is None and history.step[-1] == 30


def test_stop_when_needs_a_callable_and_eval_data():
    model = gatedrnn.SequenceModel(gatedrnn.GRU(2, 4, batch_first=True), 1)
    with pytest.raises(ValueError, match="stop_when needs eval_data"):
        gatedrnn.train(model, torch.nn.functional.mse_loss, gatedrnn.adding_problem(8, 4),
                       steps=1, progress=False, stop_when=lambda loss, metric: True)
    with pytest.raises(TypeError, match="stop_when must be a callable"):
        gatedrnn.train(model, torch.nn.functional.mse_loss, gatedrnn.adding_problem(8, 4),
                       steps=1, progress=False, eval_data=gatedrnn.adding_problem(8, 4),
                       stop_when=0.1)
