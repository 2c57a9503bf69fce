"""Racing RNN, LSTM and GRU over many seeds: one run per (model, task, length, seed), run in
parallel processes, judged by one rule, summarised as k/n solved, median steps to solve and
survival curves (the fraction of seeds solved by each step); plus the references a race is
read against (counted n-gram language models, logistic regression on raw pixels).

A run is described by a plain dict (a "spec") so that it can be sent to a worker process:
`run_seed(spec)` trains one model and returns a plain dict of what happened.
"""
import math
import multiprocessing
import numbers
import statistics
import time
from collections import Counter, defaultdict

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import tasks
from .gru import GRU
from .init import set_forget_bias
from .lstm import LSTM
from .models import SequenceModel
from .rnn import RNN
from .training import evaluate, train

KINDS = ("RNN", "LSTM", "GRU")
GATE_BLOCKS = {"RNN": 1, "LSTM": 4, "GRU": 3}
_LAYERS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}

ADDING_SOLVED_MSE = 0.01   # held-out MSE below 6% of the baseline 1/6
COPYING_SOLVED_RECALL = 0.95
ADDING_LATER_VALUE_MSE = 1.0 / 12.0  # answer x2 + 1/2: Var(x1) = 1/12, half the baseline


def _check_kind(kind):
    if kind not in GATE_BLOCKS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind


def layer_parameters(kind, input_size, hidden_size):
    """Parameters of one recurrent layer: G (d h + h^2 + 2 h), G = 1, 4, 3 weight blocks."""
    return GATE_BLOCKS[_check_kind(kind)] * (input_size * hidden_size + hidden_size ** 2
                                             + 2 * hidden_size)


def width_for_parameters(kind, input_size, budget):
    """The largest hidden size whose one-layer `kind` has at most `budget` parameters."""
    _check_kind(kind)
    if not isinstance(budget, numbers.Integral) or budget < layer_parameters(kind, input_size, 1):
        raise ValueError(f"budget must be an int of at least one unit's parameters, got {budget!r}")
    hidden = 1
    while layer_parameters(kind, input_size, hidden + 1) <= budget:
        hidden += 1
    return hidden


# ----------------------------------------------------------------------------- one run

def _task_data(spec, count, seed):
    if spec["task"] == "adding":
        return tasks.adding_problem(count, spec["length"], seed=seed)
    if spec["task"] == "copying":
        return tasks.copying_task(count, spec["length"], num_symbols=spec.get("num_symbols", 4),
                                  copy_length=spec.get("copy_length", 3), seed=seed)
    raise ValueError(f"task must be 'adding' or 'copying', got {spec['task']!r}")


def build_model(spec):
    """The model a spec describes, initialised from torch.manual_seed(spec['seed'])."""
    kind = _check_kind(spec["kind"])
    torch.manual_seed(spec["seed"])
    if spec["task"] == "adding":
        layer = _LAYERS[kind](2, spec["hidden"], batch_first=True, bptt="manual")
        model = SequenceModel(layer, 1)
    else:
        symbols = spec.get("num_symbols", 4)
        layer = _LAYERS[kind](8, spec["hidden"], batch_first=True, bptt="manual")
        model = SequenceModel(layer, symbols + 2, vocab_size=symbols + 2, readout="every")
    if spec.get("forget_bias") is not None:
        if kind != "LSTM":
            raise ValueError("forget_bias applies to the LSTM only")
        set_forget_bias(model.rnn, spec["forget_bias"])
    return model


def recall_accuracy(logits, targets, copy_length=3):
    """Accuracy on the last copy_length steps (the recalled symbols) of the copying task."""
    return (logits[:, -copy_length:].argmax(-1) == targets[:, -copy_length:]).float().mean()


def copying_loss(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def input_gradient_profile(model, inputs):
    """Mean over sequences of || d y / d x_{T-k} || for k = 0..T-1: how strongly the model's
    answer y (its only output, read after the last step) depends on the input k steps back."""
    x = inputs.clone().requires_grad_(True)
    model.zero_grad(set_to_none=True)
    model(x).sum().backward()   # sequences are independent: the sum keeps each one's gradient
    model.zero_grad(set_to_none=True)
    return x.grad.norm(dim=2).mean(dim=0).flip(0).tolist()


def run_seed(spec):
    """Train one model on one task with one seed; return a dict of plain numbers.

    spec keys: task ("adding" or "copying"), kind, length (T, or the copying delay), seed,
    hidden, steps (the cap), batch, lr, clip, eval_every; optional forget_bias (LSTM),
    num_train (10,000), num_valid (256), num_test (1,000), profile (False).
    Training, validation and test sequences are drawn with different seeds. Every
    eval_every steps the validation split judges the run with the one rule of its task
    (adding: MSE < ADDING_SOLVED_MSE; copying: recall >= COPYING_SOLVED_RECALL) and the run
    stops at the first step that passes ("steps to solve"). The test split is scored once,
    at the end. The seed sets the initial weights and the order of the minibatches.
    """
    torch.set_num_threads(1)
    start = time.process_time()
    seed = spec["seed"]
    train_data = _task_data(spec, spec.get("num_train", 10_000), 1000 + seed)
    valid_data = _task_data(spec, spec.get("num_valid", 256), 2000 + seed)
    test_data = _task_data(spec, spec.get("num_test", 1000), 3000 + seed)
    model = build_model(spec)
    if spec["task"] == "adding":
        loss_fn, metric_fn = F.mse_loss, None
        stop_when = lambda loss, _: loss < ADDING_SOLVED_MSE  # noqa: E731
    else:
        loss_fn = copying_loss
        copy_length = spec.get("copy_length", 3)
        metric_fn = lambda logits, y: recall_accuracy(logits, y, copy_length)  # noqa: E731
        stop_when = lambda _, recall: recall >= COPYING_SOLVED_RECALL  # noqa: E731
    profile = spec.get("profile", False) and spec["task"] == "adding"
    result = {key: spec[key] for key in spec}
    if profile:
        result["profile_init"] = input_gradient_profile(model, test_data[0][:256])
    history = train(model, loss_fn, train_data, steps=spec["steps"], batch_size=spec["batch"],
                    lr=spec["lr"], clip=spec["clip"], eval_data=valid_data,
                    eval_every=spec["eval_every"], metric_fn=metric_fn, stop_when=stop_when,
                    seed=seed, progress=False)
    test_loss, test_metric = evaluate(model, loss_fn, test_data, metric_fn=metric_fn)
    if spec["kind"] == "LSTM":   # where training moved the forget gate's bias b_f
        h = model.rnn.hidden_size
        biases = (model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0).detach()
        result["forget_bias_after"] = float(biases[h:2 * h].mean())
    if profile:
        result["profile_trained"] = input_gradient_profile(model, test_data[0][:256])
    result.update(solved_step=history.solved_step, eval_step=history.eval_step,
                  eval_loss=history.eval_loss, eval_metric=history.eval_metric,
                  test_loss=test_loss, test_metric=test_metric,
                  parameters=sum(p.numel() for p in model.rnn.parameters()),
                  cpu_seconds=time.process_time() - start)
    return result


# ----------------------------------------------------------------------------- many runs

def _one_thread():
    torch.set_num_threads(1)


def worker_pool(processes=2, *, start_method="spawn"):
    """A pool of `processes` worker processes, one torch thread each, to pass to
    `run_parallel` several times (close() it when done).

    Workers are spawned by default: each is a fresh interpreter that imports torch (about two
    CPU seconds each, once per pool). Forking would be cheaper, but a notebook's kernel runs
    several threads (its messaging and output threads, tqdm's monitor, torch's pool), and a
    forked child inherits any lock one of them held at that instant, held for ever: the
    worker, and the cell waiting for it, can hang. start_method="fork" (or "forkserver")
    chooses another of multiprocessing's start methods. A fork server is a clean process that
    imports torch once and forks each worker from itself: as safe as spawn and cheaper, but its
    workers' CPU time is not counted as this process's children's."""
    if not isinstance(processes, numbers.Integral) or processes < 1:
        raise ValueError(f"processes must be a positive int, got {processes!r}")
    if start_method not in multiprocessing.get_all_start_methods():
        raise ValueError(f"start_method must be one of {multiprocessing.get_all_start_methods()}, "
                         f"got {start_method!r}")
    context = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        context.set_forkserver_preload(["torch"])   # no effect once the server runs: harmless
    return context.Pool(processes, initializer=_one_thread)


def run_parallel(function, specs, *, pool=None, processes=2, desc="runs", progress=True,
                 start_method="spawn"):
    """[function(spec) for spec in specs], computed in worker processes, in order, with a
    progress bar: in `pool` (from `worker_pool`) if given, else in a pool of `processes`
    started for this call with `start_method` (processes=1: here, one after the other).
    `function` must be importable (defined at the top level of a module) so that the workers
    can find it."""
    specs = list(specs)
    if pool is None and (not isinstance(processes, numbers.Integral) or processes < 1):
        raise ValueError(f"processes must be a positive int, got {processes!r}")
    if pool is None and (processes == 1 or len(specs) <= 1):
        return [function(spec) for spec in tqdm(specs, desc=desc, disable=not progress)]
    own_pool = pool is None
    pool = worker_pool(min(processes, len(specs)), start_method=start_method) if own_pool else pool
    try:
        return list(tqdm(pool.imap(function, specs, chunksize=1), total=len(specs),
                         desc=desc, disable=not progress))
    finally:
        if own_pool:
            pool.close()
            pool.join()


def race_specs(kinds, lengths, seeds, **common):
    """One spec per (kind, length, seed): the grid of a race, longest runs first."""
    return [dict(common, kind=kind, length=length, seed=seed)
            for length in sorted(lengths, reverse=True) for kind in kinds for seed in seeds]


# ----------------------------------------------------------------------------- summaries

def solved_by(solved_steps, step):
    """Fraction of runs whose steps-to-solve (None: never solved) is at most `step`."""
    solved_steps = list(solved_steps)
    if not solved_steps:
        raise ValueError("solved_by needs at least one run")
    return sum(s is not None and s <= step for s in solved_steps) / len(solved_steps)


def survival_curve(solved_steps, cap, *, every=1):
    """(steps, fraction solved by each step) for steps 0, every, 2 every, ..., cap: the
    fraction of seeds that have solved the task, a step function rising from 0."""
    if not isinstance(cap, numbers.Integral) or cap < 1:
        raise ValueError(f"cap must be a positive int, got {cap!r}")
    steps = list(range(0, cap + 1, every))
    if steps[-1] != cap:
        steps.append(cap)
    solved_steps = list(solved_steps)
    return steps, [solved_by(solved_steps, s) for s in steps]


def summarize(solved_steps):
    """k (solved), n (runs), the median and range of steps-to-solve over the solved runs
    (None when none solved)."""
    solved_steps = list(solved_steps)
    done = sorted(s for s in solved_steps if s is not None)
    return {"k": len(done), "n": len(solved_steps),
            "median_steps": statistics.median(done) if done else None,
            "min_steps": done[0] if done else None, "max_steps": done[-1] if done else None}


def group(results, *keys):
    """{(r[key] for key in keys): [r, ...]} in the order first seen."""
    groups = {}
    for r in results:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    return groups


# ----------------------------------------------------------------------------- references

def _targets_with_contexts(pairs, order):
    """(context, target) for every target of language-model pairs (inputs, targets) from
    data.encode_words: the context is the order - 1 tokens before the target, padded on the
    left with the first input token (BOS)."""
    inputs, targets = pairs
    for row_in, row_out in zip(inputs.tolist(), targets.tolist()):
        history = [row_in[0]] * (order - 1)
        for token_in, target in zip(row_in, row_out):
            if target == tasks.IGNORE_INDEX:
                break
            history.append(token_in)
            yield tuple(history[len(history) - (order - 1):]) if order > 1 else (), target


def ngram_bits_per_character(train_pairs, valid_pairs, order, *, strength="witten-bell"):
    """Bits per character of a counted n-gram model: no training, only counting.

    p_n(c | last n-1 tokens) = (N(context, c) + w * p_{n-1}(c | last n-2 tokens))
                               / (N(context) + w),
    down to p_0 uniform over the targets seen in training: an interpolated model in which a
    context seen often trusts its own counts and a rare one its shorter context. The weight w
    is the number of distinct characters seen after the context (strength="witten-bell",
    Witten-Bell smoothing) or a fixed positive number `strength`. Scored like
    `metrics.bits_per_character` on valid_pairs (EOS included, padding skipped); order 1 is
    the letter-frequency model.
    """
    if not isinstance(order, numbers.Integral) or order < 1:
        raise ValueError(f"order must be a positive int, got {order!r}")
    if strength != "witten-bell" and (not isinstance(strength, numbers.Real) or strength <= 0):
        raise ValueError(f"strength must be a positive number or 'witten-bell', "
                         f"got {strength!r}")
    counts = [defaultdict(Counter) for _ in range(order)]   # counts[n][context of n tokens]
    for context, target in _targets_with_contexts(train_pairs, order):
        for n in range(order):
            counts[n][context[len(context) - n:] if n else ()][target] += 1
    alphabet = set(counts[0][()])
    totals = [{ctx: sum(c.values()) for ctx, c in table.items()} for table in counts]
    total_bits, count = 0.0, 0
    for context, target in _targets_with_contexts(valid_pairs, order):
        probability = 1.0 / len(alphabet)
        for n in range(order):
            ctx = context[len(context) - n:] if n else ()
            seen = counts[n].get(ctx)
            if seen is None:
                break      # a longer context that was never seen has nothing to add
            weight = len(seen) if strength == "witten-bell" else strength
            probability = (seen[target] + weight * probability) / (totals[n][ctx] + weight)
        total_bits -= math.log2(probability)
        count += 1
    return total_bits / count


def logistic_regression_accuracy(train_set, test_set, *, max_iter=2000):
    """Test accuracy of multinomial logistic regression on the raw flattened inputs (no
    recurrence, no order): what a sequence classifier must beat to show that reading the
    image step by step bought anything."""
    from sklearn.linear_model import LogisticRegression  # ships with the digits

    (x_train, y_train), (x_test, y_test) = train_set, test_set
    classifier = LogisticRegression(max_iter=max_iter)
    classifier.fit(x_train.reshape(len(x_train), -1).numpy(), y_train.numpy())
    return float(classifier.score(x_test.reshape(len(x_test), -1).numpy(), y_test.numpy()))


# ----------------------------------------------------------------------------- real data

def _layer(kind, input_size, hidden, **options):
    return _LAYERS[_check_kind(kind)](input_size, hidden, batch_first=True, **options)


def build_language_model(kind, vocab_size, hidden, *, embedding=16, seed=0, **options):
    """Embedding(vocab, embedding) -> `kind` layer -> Linear at every step, seeded."""
    torch.manual_seed(seed)
    return SequenceModel(_layer(kind, embedding, hidden, **options), vocab_size,
                         vocab_size=vocab_size, readout="every")


def run_language_model(spec):
    """Train one character language model; spec: kind, seed, hidden, steps, batch, lr, clip,
    train (pairs), valid (pairs), vocab_size, optional bidirectional and bptt ("autograd", or
    "manual" for the hand-derived backward pass). Returns validation bits per character and
    the trained weights (state_dict), so that the caller can sample from it."""
    torch.set_num_threads(1)
    start = time.process_time()
    model = build_language_model(spec["kind"], spec["vocab_size"], spec["hidden"],
                                 seed=spec["seed"],
                                 bidirectional=spec.get("bidirectional", False),
                                 bptt=spec.get("bptt", "autograd"))
    loss_fn = lambda logits, y: F.cross_entropy(  # noqa: E731
        logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=tasks.IGNORE_INDEX)
    train(model, loss_fn, spec["train"], steps=spec["steps"], batch_size=spec["batch"],
          lr=spec["lr"], clip=spec["clip"], seed=spec["seed"], progress=False)
    model.eval()   # bits per character: total over every character, not a mean of means
    with torch.no_grad():
        inputs, targets = spec["valid"]
        logits = model(inputs)
        nats = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               ignore_index=tasks.IGNORE_INDEX, reduction="sum").item()
        characters = int((targets != tasks.IGNORE_INDEX).sum())
    return {"kind": spec["kind"], "seed": spec["seed"],
            "bits": nats / characters / math.log(2),
            "state_dict": {k: v.clone() for k, v in model.state_dict().items()},
            "parameters": sum(p.numel() for p in model.parameters()),
            "cpu_seconds": time.process_time() - start}


def run_digits(spec):
    """Train one digit classifier that reads the final state; spec: kind, seed, hidden,
    steps, batch, lr, clip, train, test (from data.load_digits_sequences), optional
    num_layers, bidirectional and bptt ("autograd", or "manual" for the hand-derived backward
    pass). Returns the test accuracy after spec['steps'] steps."""
    torch.set_num_threads(1)
    start = time.process_time()
    train_set, test_set = spec["train"], spec["test"]
    torch.manual_seed(spec["seed"])
    layer = _layer(spec["kind"], train_set[0].shape[-1], spec["hidden"],
                   num_layers=spec.get("num_layers", 1),
                   bidirectional=spec.get("bidirectional", False),
                   bptt=spec.get("bptt", "autograd"))
    model = SequenceModel(layer, 10)   # reads every direction's final state
    train(model, F.cross_entropy, train_set, steps=spec["steps"], batch_size=spec["batch"],
          lr=spec["lr"], clip=spec["clip"], seed=spec["seed"], progress=False)
    model.eval()
    with torch.no_grad():
        accuracy = float((model(test_set[0]).argmax(-1) == test_set[1]).float().mean())
    return {key: spec[key] for key in spec if key not in ("train", "test")} | {
        "accuracy": accuracy, "parameters": sum(p.numel() for p in model.parameters()),
        "cpu_seconds": time.process_time() - start}


def spread(values, fmt="{:.2f}"):
    """'median [min-max]' of a list of numbers, as text: how a table reports several seeds."""
    values = sorted(values)
    if not values:
        raise ValueError("spread needs at least one value")
    low, mid, high = values[0], statistics.median(values), values[-1]
    return f"{fmt.format(mid)} [{fmt.format(low)}-{fmt.format(high)}]"
