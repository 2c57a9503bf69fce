"""Small, seeded experiments behind the "Questions students ask" page.

Each function trains or probes one small model for one seed and returns plain numbers, so a
page can run many seeds (in parallel processes with `map_seeds`) and report k/n and medians:

- `GRUVariant`: a GRU whose candidate activation can be ReLU and whose gates can be pinned
  to a constant (Z = 0, R = 1, ...): what the book's equations (G1)-(G4) become in the
  extreme cases. Same parameters as torch.nn.GRU; with no pins and tanh it is the GRU.
- `recall_run` and `longest_lag`: how long a lag a model learns to bridge within a fixed
  budget of steps (the bit seen first, recalled last, with random bits in between).
- `stream_run`: training on one long stream cut into chunks, with the state reset at every
  chunk (stateless) or carried over and detached (stateful).
"""
import multiprocessing
import numbers
import os
import time

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .gru import GRU
from .init import scaled_orthogonal
from .models import SequenceModel
from .race import run_parallel
from .rnn import RNN
from .tasks import IGNORE_INDEX, delayed_echo
from .training import clip_global_norm, train

CANDIDATE_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


class GRUVariant(nn.Module):
    """A one-layer, batch-first GRU (reset gate after the hidden matmul, as torch.nn.GRU) with
    two changes one can ask for:

    candidate: "tanh" (G3 as written) or "relu", the activation of the candidate H~_t.
    update_gate, reset_gate: None (computed by (G1), (G2)) or a number in [0, 1] that the gate
        is pinned to at every step and unit. Z = 0 makes H_t = H~_t; Z = 0 and R = 1 make the
        cell the plain RNN H_t = tanh(X_t W_xh + b_xh + H_{t-1} W_hh + b_hh).

    Parameters carry torch.nn.GRU's names and shapes (weight_ih_l0 (3h, d), ...), so a
    state_dict moves between this, gatedrnn.GRU and torch.nn.GRU. Autograd does the backward.
    forward(input (N, L, d), hx (1, N, h) or None) -> (output (N, L, h), h_n (1, N, h)).
    """

    batch_first = True
    bidirectional = False
    num_layers = 1

    def __init__(self, input_size, hidden_size, *, candidate="tanh", update_gate=None,
                 reset_gate=None):
        super().__init__()
        if candidate not in CANDIDATE_ACTIVATIONS:
            raise ValueError(f"candidate must be one of {tuple(CANDIDATE_ACTIVATIONS)}, "
                             f"got {candidate!r}")
        for name, value in (("update_gate", update_gate), ("reset_gate", reset_gate)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name} must be None or a number in [0, 1], "
                                f"got {type(value).__name__} ({value!r})")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be None or a number in [0, 1], got {value!r}")
        template = GRU(input_size, hidden_size)  # torch.nn.GRU's initialisation and layout
        self.input_size, self.hidden_size = template.input_size, template.hidden_size
        self.candidate, self.update_gate, self.reset_gate = candidate, update_gate, reset_gate
        for name, parameter in template.named_parameters():
            self.register_parameter(name, nn.Parameter(parameter.detach().clone()))

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, candidate={self.candidate!r}, "
                f"update_gate={self.update_gate}, reset_gate={self.reset_gate}")

    def forward(self, input, hx=None):
        if not isinstance(input, torch.Tensor) or input.dim() != 3 \
                or input.shape[2] != self.input_size:
            raise ValueError(f"GRUVariant expects input (N, L, {self.input_size}), got "
                             f"{getattr(input, 'shape', type(input).__name__)}")
        h = self.hidden_size
        activation = CANDIDATE_ACTIVATIONS[self.candidate]
        gates_x = F.linear(input, self.weight_ih_l0, self.bias_ih_l0)    # all steps at once
        state = input.new_zeros(input.shape[0], h) if hx is None else hx[0]
        outputs = []
        for gates_x_t in gates_x.unbind(1):
            gates_h = F.linear(state, self.weight_hh_l0, self.bias_hh_l0)
            reset, update = torch.sigmoid(gates_x_t[:, :2 * h] + gates_h[:, :2 * h]).chunk(2, 1)
            if self.reset_gate is not None:
                reset = torch.full_like(reset, self.reset_gate)
            if self.update_gate is not None:
                update = torch.full_like(update, self.update_gate)
            candidate = activation(gates_x_t[:, 2 * h:] + reset * gates_h[:, 2 * h:])   # (G3)
            state = update * state + (1 - update) * candidate                          # (G4)
            outputs.append(state)
        return torch.stack(outputs, dim=1), state.unsqueeze(0)


def recurrent_layer(kind, input_size, hidden_size, *, init=None, generator=None):
    """A batch-first layer: "RNN" (tanh), "GRU", "GRU-relu" (ReLU candidate), "GRU-Z0"
    (Z pinned at 0) or "GRU-Z0R1" (Z at 0 and R at 1).

    init: None keeps torch.nn's U(-1/sqrt(h), 1/sqrt(h)); "small" draws every weight as
    randn * 0.01 (biases 0); "orthogonal" makes each (h, h) block of W_hh a random orthogonal
    matrix (the rest as torch.nn). generator: a torch.Generator for the draws of `init`.
    """
    if kind == "RNN":
        layer = RNN(input_size, hidden_size, batch_first=True)
    elif kind == "GRU":
        layer = GRU(input_size, hidden_size, batch_first=True)
    elif kind == "GRU-relu":
        layer = GRUVariant(input_size, hidden_size, candidate="relu")
    elif kind == "GRU-Z0":
        layer = GRUVariant(input_size, hidden_size, update_gate=0.0)
    elif kind == "GRU-Z0R1":
        layer = GRUVariant(input_size, hidden_size, update_gate=0.0, reset_gate=1.0)
    else:
        raise ValueError(f"kind must be one of RNN, GRU, GRU-relu, GRU-Z0, GRU-Z0R1, got {kind!r}")
    if init is not None:
        initialise(layer, init, generator=generator)
    return layer


INITS = ("default", "small", "orthogonal")


@torch.no_grad()
def initialise(layer, init, *, generator=None):
    """Re-draw a layer's weights: "default" (torch.nn's uniform, left as it is), "small"
    (randn * 0.01 for every weight, zero biases) or "orthogonal" (each (h, h) block of the
    recurrent weights a random orthogonal matrix). Returns the layer."""
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if init == "default":
        return layer
    for name, parameter in layer.named_parameters():
        if init == "small":
            if name.startswith("weight"):
                parameter.copy_(0.01 * torch.randn(parameter.shape, generator=generator))
            else:
                parameter.zero_()
        elif name.startswith("weight_hh"):
            h = parameter.shape[1]
            for block in range(parameter.shape[0] // h):
                parameter[block * h:(block + 1) * h] = scaled_orthogonal(
                    h, 1.0, generator=generator, dtype=parameter.dtype)
    return layer


def _cross_entropy_every_step(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=IGNORE_INDEX)


def _accuracy_where_targeted(logits, targets):
    mask = targets != IGNORE_INDEX
    return (logits.argmax(-1)[mask] == targets[mask]).float().mean()


def recall_data(num_sequences, lag, *, seed=0, dtype=torch.float32):
    """One random bit per step for lag + 1 steps; the target, at the last step only, is the
    first bit (delayed_echo with seq_len = lag + 1). A pure lag: one bit to keep for `lag`
    steps while `lag` random bits go by. Guessing scores accuracy 1/2."""
    return delayed_echo(num_sequences, lag + 1, lag, seed=seed, dtype=dtype)


def recall_run(kind, hidden_size, lag, seed, *, steps=300, batch_size=32, lr=1e-2,
               init=None, clip=1.0, solved_accuracy=0.95, eval_every=25, eval_sequences=256,
               keep_model=False):
    """Train one model to recall a bit `lag` steps later; stop as soon as it is solved.

    Returns a dict: solved (held-out accuracy >= solved_accuracy within `steps`), steps (the
    step it was solved at, or `steps`), accuracy (the last held-out accuracy), seconds,
    max_state (the largest |H_t| on the held-out set after training), max_grad_norm (the
    largest global gradient norm before clipping) and, if keep_model, the trained model.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    layer = recurrent_layer(kind, 1, hidden_size, init=init, generator=generator)
    model = SequenceModel(layer, 2, readout="every")
    train_data = recall_data(2048, lag, seed=10_000 + seed)
    eval_data = recall_data(eval_sequences, lag, seed=20_000 + seed)
    history = train(model, _cross_entropy_every_step, train_data, steps=steps,
                    batch_size=batch_size, lr=lr, clip=clip, eval_data=eval_data,
                    eval_every=eval_every, metric_fn=_accuracy_where_targeted, seed=seed,
                    progress=False, stop_when=lambda loss, accuracy: accuracy >= solved_accuracy)
    with torch.no_grad():
        states, _ = layer(eval_data[0])
    return {"kind": kind, "hidden_size": hidden_size, "lag": lag, "seed": seed,
            "solved": history.solved_step is not None,
            "steps": history.solved_step or len(history.step),
            "accuracy": history.eval_metric[-1], "seconds": history.seconds,
            "max_state": float(states.abs().max()),
            "max_grad_norm": max(history.grad_norm), "model": model if keep_model else None}


def longest_lag(kind, hidden_size, seed, lags, **options):
    """The longest lag of the increasing list `lags` solved by `recall_run`, trying each in
    turn and stopping at the first failure (0 if even the first fails). Returns a dict with
    longest and the runs."""
    runs, longest = [], 0
    for lag in lags:
        run = recall_run(kind, hidden_size, lag, seed, **options)
        runs.append(run)
        if not run["solved"]:
            break
        longest = lag
    return {"kind": kind, "hidden_size": hidden_size, "seed": seed, "longest": longest,
            "runs": runs}


def stream_data(num_streams, length, delay, *, seed=0):
    """`num_streams` long streams of random bits, each target the bit `delay` steps earlier
    (delayed_echo): inputs (num_streams, length, 1), targets (num_streams, length)."""
    return delayed_echo(num_streams, length, delay, seed=seed)


def _chunks(data, chunk_length):
    inputs, targets = data
    for start in range(0, inputs.shape[1] - chunk_length + 1, chunk_length):
        yield inputs[:, start:start + chunk_length], targets[:, start:start + chunk_length]


def stream_run(stateful, seed, *, delay=6, chunk_length=8, hidden_size=16, epochs=3,
               num_streams=16, length=800, lr=1e-2, clip=1.0):
    """Train a GRU on streams cut into consecutive chunks of `chunk_length` steps.

    stateful=False: every chunk starts from H = 0 (the state is reset between batches).
    stateful=True: the last state of a chunk is carried into the next chunk of the same
    streams, detached, so the gradient stops at the chunk boundary (truncated BPTT) but the
    forward pass sees the whole stream. Evaluation reads held-out streams the same way.
    Returns a dict: accuracy over every targeted step, and split into the steps whose echo
    lies inside the same chunk (position >= delay) and those whose echo lies in an earlier
    chunk (position < delay), plus seconds of CPU.
    """
    start = time.process_time()
    torch.manual_seed(seed)
    layer = GRU(1, hidden_size, batch_first=True)
    model_readout = nn.Linear(hidden_size, 2)
    parameters = list(layer.parameters()) + list(model_readout.parameters())
    optimizer = torch.optim.Adam(parameters, lr=lr)
    train_streams = stream_data(num_streams, length, delay, seed=30_000 + seed)

    def read(data, learn):
        state, correct = None, []
        for x, y in _chunks(data, chunk_length):
            output, last = layer(x, state)
            logits = model_readout(output)
            if learn:
                loss = _cross_entropy_every_step(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                clip_global_norm(parameters, clip)
                optimizer.step()
            correct.append(logits.argmax(-1) == y)
            state = last.detach() if stateful else None
        return torch.cat(correct, dim=1)

    for _ in range(epochs):
        read(train_streams, learn=True)
    test = stream_data(64, 20 * chunk_length, delay, seed=40_000 + seed)
    with torch.no_grad():
        correct = read(test, learn=False).float()
    targeted = test[1][:, :correct.shape[1]] != IGNORE_INDEX
    position = torch.arange(correct.shape[1]) % chunk_length
    inside = targeted & (position >= delay)
    across = targeted & (position < delay)
    return {"stateful": stateful, "seed": seed, "accuracy": float(correct[targeted].mean()),
            "inside": float(correct[inside].mean()), "across": float(correct[across].mean()),
            "seconds": time.process_time() - start}


def state_gradient_norms(layer, inputs, readout, targets):
    """Run `layer` one step at a time over inputs (N, L, d) from a zero state, put the
    cross-entropy of readout(H_L) against targets (N,) on the last state, and backpropagate.

    Returns (max_state, norms): the largest |H_t| over every step, and the batch mean of
    ||dL/dH_t|| for t = L, L-1, ..., 1 (element k is k steps away from the loss).
    """
    states, state = [], None
    for x_t in inputs.unbind(1):            # one step at a time, keeping every H_t
        _, state = layer(x_t.unsqueeze(1), state)
        state.retain_grad()
        states.append(state)
    F.cross_entropy(readout(states[-1][0]), targets).backward()
    max_state = max(float(s.detach().abs().max()) for s in states)
    return max_state, [float(s.grad[0].norm(dim=1).mean()) for s in reversed(states)]


def init_gradient_norms(kind, init, seed, *, hidden_size=32, lag=40, batch=64):
    """||dL/dH_t|| at distance 0..lag from the loss for a fresh layer of `kind` (see
    `recurrent_layer`) with initialisation `init`, the loss being the recall loss at the
    last step of `recall_data`. Runs in float64, so that gradients far below float32's
    smallest number (about 1e-45) stay measurable. Returns a list of lag + 1 floats."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    layer = recurrent_layer(kind, 1, hidden_size, init=init, generator=generator).double()
    x, y = recall_data(batch, lag, seed=seed, dtype=torch.float64)
    readout = nn.Linear(hidden_size, 2).double()
    return state_gradient_norms(layer, x, readout, y[:, -1])[1]


def clipping_norms(kind, hidden_size, seed, *, seq_len=50, batch=64, steps=40, lr=1e-3):
    """Global gradient norms ||g|| of a one-layer `kind` ("RNN", "GRU" or "LSTM", torch.nn
    initialisation) with a linear readout of the last step, trained without clipping on the
    adding problem (MSE) for `steps` steps. Returns a dict: parameters, at_init (the first
    step's norm) and median (the median over all steps)."""
    from .lstm import LSTM
    from .tasks import adding_problem
    torch.manual_seed(seed)
    cls = {"RNN": RNN, "GRU": GRU, "LSTM": LSTM}[kind]
    model = SequenceModel(cls(2, hidden_size, batch_first=True), 1)
    history = train(model, F.mse_loss, adding_problem(1024, seq_len, seed=seed), steps=steps,
                    batch_size=batch, lr=lr, seed=seed, progress=False)
    return {"kind": kind, "hidden_size": hidden_size, "seed": seed,
            "parameters": sum(p.numel() for p in model.parameters()),
            "at_init": history.grad_norm[0], "median": median(history.grad_norm)}


def _call(job):
    function, args, kwargs = job
    torch.set_num_threads(1)
    return function(*args, **kwargs)


def map_seeds(function, jobs, *, processes=None, desc=None):
    """[function(*args, **kwargs) for (args, kwargs) in jobs], run in `processes` worker
    processes (default: the CPU count, at most 2; 1 runs in this process). Each worker uses
    one torch thread, so results do not depend on the number of processes. With more than one
    process, `function` and the arguments must be picklable by reference: defined at the top
    level of a module (a function defined in a notebook is not), because the workers start
    from a fork server (spawned where there is none), not as copies of this process.
    desc: if given, a progress bar with this label counts the finished jobs."""
    jobs = [(function, tuple(args), dict(kwargs)) for args, kwargs in jobs]
    processes = processes or min(2, os.cpu_count() or 1)
    if processes > 1 and len(jobs) > 1:
        # A fork server (spawn where there is none): a plain fork would copy a Jupyter kernel's
        # threads and any lock they held, which can leave a worker waiting for ever.
        start_method = ("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                        else "spawn")
        return run_parallel(_call, jobs, processes=processes, desc=desc,
                            progress=desc is not None, start_method=start_method)
    threads = torch.get_num_threads()
    try:
        return [_call(job) for job in tqdm(jobs, desc=desc, disable=desc is None, leave=False)]
    finally:
        torch.set_num_threads(threads)


def median(values):
    """The median of a non-empty list of numbers (the mean of the middle two if even)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of an empty list")
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
