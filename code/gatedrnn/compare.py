"""Putting RNN, LSTM and GRU side by side: building them alike, sizing them fairly, sampling
from a character model, and the cost of a training step."""
import math
import statistics
import time

import torch

from . import _checks
from . import data as _data
from .gru import GRU
from .lstm import LSTM
from .rnn import RNN

MODEL_KINDS = ("RNN", "LSTM", "GRU")
_FROM_SCRATCH = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
# (hidden_size)-row blocks per weight matrix, as each model class states it
GATE_BLOCKS = {kind: model_class.gate_count for kind, model_class in _FROM_SCRATCH.items()}


def recurrent_layer(kind, input_size, hidden_size, *, implementation="gatedrnn", **options):
    """A batch_first recurrent layer of the given kind ("RNN", "LSTM" or "GRU").

    implementation="gatedrnn" builds the from-scratch model, "torch" its torch.nn twin; the
    two take the same options (num_layers, bidirectional, ...; bptt is gatedrnn's only).
    """
    _checks.check_choice("kind", kind, MODEL_KINDS)
    _checks.check_choice("implementation", implementation, ("gatedrnn", "torch"))
    if implementation == "gatedrnn":
        return _FROM_SCRATCH[kind](input_size, hidden_size, batch_first=True, **options)
    options = {k: v for k, v in options.items() if k != "bptt"}
    return getattr(torch.nn, kind)(input_size, hidden_size, batch_first=True, **options)


def recurrent_parameter_count(kind, input_size, hidden_size, *, num_layers=1,
                              bidirectional=False):
    """Parameters of a torch.nn-style layer: per layer and direction, G blocks of
    (inputs x h + h x h + 2 biases of h), with G = 1 (RNN), 3 (GRU) or 4 (LSTM)."""
    blocks = GATE_BLOCKS[_checks.check_choice("kind", kind, MODEL_KINDS)]
    directions = 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        layer_input = input_size if layer == 0 else directions * hidden_size
        total += directions * blocks * (layer_input * hidden_size + hidden_size ** 2
                                        + 2 * hidden_size)
    return total


def hidden_size_for_budget(kind, input_size, budget):
    """The largest hidden size whose one-layer recurrent layer has at most `budget`
    parameters: how wide each model may be in an equal-parameter comparison."""
    _checks.check_int("budget", budget, minimum=recurrent_parameter_count(kind, input_size, 1))
    blocks = GATE_BLOCKS[kind]
    # Solve blocks * (h^2 + (input_size + 2) h) = budget for h, then step down to an integer.
    b = input_size + 2
    hidden = int((-b + math.sqrt(b * b + 4 * budget / blocks)) / 2) + 1
    while recurrent_parameter_count(kind, input_size, hidden) > budget:
        hidden -= 1
    return hidden


def parameter_count(module):
    """Trainable parameters of a module."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@torch.no_grad()
def sample_words(model, vocab, num_samples, *, temperature=1.0, max_length=20, seed=0):
    """Draw words from a character language model one character at a time.

    Starting from BOS, the model's next-character distribution softmax(logits / temperature)
    is sampled (temperature < 1 sharpens it, > 1 flattens it) until EOS or max_length
    characters. The whole prefix is re-read at every step: simple and exact for any recurrent
    layer, and cheap for words this short. Returns a list of strings.
    """
    _checks.check_number("temperature", temperature, low=0, low_open=True)
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    prefix = torch.full((num_samples, 1), _data.BOS_ID, dtype=torch.long)
    finished = torch.zeros(num_samples, dtype=torch.bool)
    for _ in range(max_length):
        logits = model(prefix)[:, -1] / temperature
        logits[:, [_data.PAD_ID, _data.BOS_ID]] = -math.inf  # never valid next characters
        following = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)
        following[finished] = _data.EOS_ID
        finished |= following[:, 0] == _data.EOS_ID
        prefix = torch.cat([prefix, following], dim=1)
        if finished.all():
            break
    model.train(was_training)
    return [vocab.decode(row[1:]) for row in prefix]


# ----------------------------------------------------------------------------- cost

def training_step_time(model, inputs, targets, loss_fn, *, repeats=5, warmup=2):
    """Median wall time, in seconds, of one forward + loss + backward pass (no optimiser)."""
    times = []
    for index in range(warmup + repeats):
        start = time.perf_counter()
        loss_fn(model(inputs), targets).backward()
        elapsed = time.perf_counter() - start
        model.zero_grad(set_to_none=True)
        if index >= warmup:
            times.append(elapsed)
    return statistics.median(times)
