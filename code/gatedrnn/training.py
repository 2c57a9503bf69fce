"""One small, model-agnostic training loop that every chapter trains through."""
import math
import time
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from . import _checks


def global_grad_norm(parameters):
    """sqrt of the sum of squares of every gradient entry: the norm of the whole gradient."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    return math.sqrt(sum(float(g.pow(2).sum()) for g in grads))


def clip_global_norm(parameters, max_norm):
    """Global-norm clipping, Algorithm 1 of Pascanu, Mikolov & Bengio (2013).

    If ||g|| >= max_norm, rescale g <- max_norm * g / ||g||, so the step keeps its direction.
    Returns the norm before clipping (what to log).
    """
    _checks.check_number("max_norm", max_norm, low=0, low_open=True)
    parameters = [p for p in parameters if p.grad is not None]
    norm = global_grad_norm(parameters)
    if norm >= max_norm:
        scale = max_norm / norm
        for p in parameters:
            p.grad.mul_(scale)
    return norm


@dataclass
class History:
    """What a run recorded: the training loss and gradient norm (before clipping) at every
    step, and the held-out loss (and metric, if one was given) at every evaluation."""
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    eval_metric: list[float | None] = field(default_factory=list)
    seconds: float = 0.0
    solved_step: int | None = None  # first evaluation at which stop_when said "solved"


@torch.no_grad()
def evaluate(model, loss_fn, data, *, metric_fn=None, batch_size=1024):
    """Mean loss (and metric) of `model` over all of `data`, in eval mode."""
    inputs, targets = _checks.check_data("data", data)
    was_training = model.training
    model.eval()
    total_loss, total_metric = 0.0, 0.0
    for start in range(0, inputs.shape[0], batch_size):
        x, y = inputs[start:start + batch_size], targets[start:start + batch_size]
        output = model(x)
        total_loss += loss_fn(output, y).item() * x.shape[0]
        if metric_fn is not None:
            total_metric += float(metric_fn(output, y)) * x.shape[0]
    model.train(was_training)
    count = inputs.shape[0]
    return total_loss / count, (total_metric / count if metric_fn is not None else None)


def train(model, loss_fn, train_data, *, steps, batch_size=64, lr=1e-3, optimizer=None,
          clip=None, eval_data=None, eval_every=None, metric_fn=None, seed=0, progress=True,
          desc="training", stop_when=None):
    """Train `model` for `steps` minibatch steps and return a `History`.

    loss_fn(model(inputs), targets) -> scalar. train_data and eval_data are pairs of tensors
    (inputs, targets) with examples along the first axis; minibatches are drawn at random
    with a generator seeded by `seed`, so a run is reproducible. optimizer defaults to Adam
    with learning rate `lr`. clip: None, or the max_norm of global-norm clipping. eval_every
    defaults to steps // 10 when eval_data is given. progress=False silences the bar.

    stop_when(eval_loss, eval_metric) -> bool is asked after every evaluation (it needs
    eval_data); the first time it returns True, training stops there and that step is
    recorded as `history.solved_step` ("steps to solve"). A run that never satisfies it keeps
    solved_step None and trains all `steps`.
    """
    _checks.check_int("steps", steps)
    inputs, targets = _checks.check_data("train_data", train_data)
    if eval_data is not None:
        _checks.check_data("eval_data", eval_data)
        eval_every = eval_every or max(1, steps // 10)
    _checks.check_stop_when(stop_when, eval_data)
    torch.manual_seed(seed)  # dropout and anything else drawing from torch's global generator
    generator = torch.Generator().manual_seed(seed)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = optimizer or torch.optim.Adam(parameters, lr=lr)
    history = History()
    model.train()
    bar = tqdm(range(1, steps + 1), desc=desc, disable=not progress, leave=False)
    start = time.perf_counter()
    for step in bar:
        rows = torch.randint(0, inputs.shape[0], (batch_size,), generator=generator)
        loss = loss_fn(model(inputs[rows]), targets[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = (clip_global_norm(parameters, clip) if clip is not None
                else global_grad_norm(parameters))
        optimizer.step()
        history.step.append(step)
        history.loss.append(loss.item())
        history.grad_norm.append(norm)
        if eval_data is not None and (step % eval_every == 0 or step == steps):
            eval_loss, eval_metric = evaluate(model, loss_fn, eval_data, metric_fn=metric_fn)
            history.eval_step.append(step)
            history.eval_loss.append(eval_loss)
            history.eval_metric.append(eval_metric)
            bar.set_postfix(loss=f"{history.loss[-1]:.4f}", eval=f"{eval_loss:.4f}")
            if stop_when is not None and stop_when(eval_loss, eval_metric):
                history.solved_step = step
                break
        elif step % 10 == 0:
            bar.set_postfix(loss=f"{history.loss[-1]:.4f}")
    bar.close()  # also when stop_when ended the loop early
    history.seconds = time.perf_counter() - start
    return history
