"""Putting RNN, LSTM and GRU side by side: building them alike, sizing them fairly, scoring
per step, language-model bits per character and sampling, and the cost of a training step."""
import math
import numbers
import statistics
import time

import torch
import torch.nn.functional as F

from . import data as _data
from .gru import GRU
from .lstm import LSTM
from .rnn import RNN

MODEL_KINDS = ("RNN", "LSTM", "GRU")
GATE_BLOCKS = {"RNN": 1, "GRU": 3, "LSTM": 4}  # (hidden_size)-row blocks per weight matrix
_FROM_SCRATCH = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}


def _check_kind(kind):
    if kind not in GATE_BLOCKS:
        raise ValueError(f"kind must be one of {MODEL_KINDS}, got {kind!r}")
    return kind


def recurrent_layer(kind, input_size, hidden_size, *, implementation="gatedrnn", **options):
    """A batch_first recurrent layer of the given kind ("RNN", "LSTM" or "GRU").

    implementation="gatedrnn" builds the from-scratch model, "torch" its torch.nn twin; the
    two take the same options (num_layers, bidirectional, ...; bptt is gatedrnn's only).
    """
    _check_kind(kind)
    if implementation == "gatedrnn":
        cls = _FROM_SCRATCH[kind]
    elif implementation == "torch":
        cls = getattr(torch.nn, kind)
        options = {k: v for k, v in options.items() if k != "bptt"}
    else:
        raise ValueError(f"implementation must be 'gatedrnn' or 'torch', got {implementation!r}")
    return cls(input_size, hidden_size, batch_first=True, **options)


def recurrent_parameter_count(kind, input_size, hidden_size, *, num_layers=1,
                              bidirectional=False):
    """Parameters of a torch.nn-style layer: per layer and direction, G blocks of
    (inputs x h + h x h + 2 biases of h), with G = 1 (RNN), 3 (GRU) or 4 (LSTM)."""
    blocks = GATE_BLOCKS[_check_kind(kind)]
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
    if not isinstance(budget, numbers.Integral) or budget < recurrent_parameter_count(
            kind, input_size, 1):
        raise ValueError(f"budget must be an int of at least one unit's parameters, got {budget!r}")
    blocks = GATE_BLOCKS[kind]
    # Solve blocks * (h^2 + (input_size + 2) h) = budget for h, then step down to an integer.
    b = input_size + 2
    hidden = int((-b + math.sqrt(b * b + 4 * budget / blocks)) / 2) + 1
    while recurrent_parameter_count(kind, input_size, hidden) > budget:
        hidden -= 1
    return hidden


class StateClassifier(torch.nn.Module):
    """[Embedding ->] recurrent layer -> Linear on its final hidden state, for many-to-one
    tasks with any number of layers and directions.

    The readout sees the top layer's state of every direction: the forward direction's after
    the last step and, if bidirectional, the backward direction's after the *first* step, so
    both have read the whole sequence. (Reading output[:, -1] instead would give the backward
    direction a single step of input.) For an LSTM the hidden state h, not the cell c, is read.
    """

    def __init__(self, rnn, output_size, *, vocab_size=None):
        super().__init__()
        if not getattr(rnn, "batch_first", False):
            raise ValueError("StateClassifier expects a recurrent layer built with "
                             "batch_first=True")
        self.embedding = None if vocab_size is None else torch.nn.Embedding(vocab_size,
                                                                            rnn.input_size)
        self.rnn = rnn
        self.directions = 2 if rnn.bidirectional else 1
        self.readout = torch.nn.Linear(self.directions * rnn.hidden_size, output_size)

    def forward(self, inputs):
        x = inputs if self.embedding is None else self.embedding(inputs)
        _, state = self.rnn(x)
        hidden = state[0] if isinstance(state, tuple) else state   # (layers * dirs, N, h)
        top = hidden[-self.directions:]                            # the top layer's directions
        return self.readout(torch.cat(list(top), dim=-1))


def parameter_count(module):
    """Trainable parameters of a module."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# ----------------------------------------------------------------------------- scoring

def _check_logits(logits, targets):
    if logits.dim() != 3 or targets.dim() != 2 or logits.shape[:2] != targets.shape:
        raise ValueError(f"expected logits (N, L, classes) and targets (N, L), got "
                         f"{tuple(logits.shape)} and {tuple(targets.shape)}")


def sequence_cross_entropy(logits, targets):
    """Mean cross-entropy over every step that has a target: logits (N, L, classes), targets
    (N, L) class ids, IGNORE_INDEX (-100) where a step has no target (padding)."""
    _check_logits(logits, targets)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=_data.IGNORE_INDEX)


def per_step_accuracy(logits, targets):
    """Fraction of sequences whose most likely class is the target, at each step: (L,)."""
    _check_logits(logits, targets)
    return (logits.argmax(dim=-1) == targets).float().mean(dim=0)


def copying_accuracy(logits, targets, copy_length=10):
    """Accuracy on the last copy_length steps of the copying task, where the symbols must be
    recalled: 1/num_symbols by guessing, 1 when solved. The blanks before are not counted."""
    if not isinstance(copy_length, numbers.Integral) or not 1 <= copy_length <= targets.shape[-1]:
        raise ValueError(f"copy_length must be an int in 1..{targets.shape[-1]}, "
                         f"got {copy_length!r}")
    return per_step_accuracy(logits, targets)[-copy_length:].mean()


def classification_accuracy(logits, labels):
    """Accuracy of a many-to-one classifier: logits (N, classes) and labels (N,), or one
    logit per example (N, 1) against 0/1 labels (a sigmoid output)."""
    if logits.dim() == 2 and logits.shape[1] == 1:
        return ((logits[:, 0] > 0).float() == labels.float()).float().mean()
    return (logits.argmax(dim=-1) == labels).float().mean()


def binary_cross_entropy(logits, labels):
    """The sentiment model's loss: one logit per example (N, 1), labels (N,) in {0, 1}."""
    return F.binary_cross_entropy_with_logits(logits[:, 0], labels.float())


@torch.no_grad()
def bits_per_character(model, data, *, batch_size=1024):
    """Mean -log2 p(next character) over every character of `data` (inputs, targets) from
    `encode_words`, end-of-word included and padding skipped. Uniform guessing over V
    tokens scores log2(V)."""
    inputs, targets = data
    was_training = model.training
    model.eval()
    total_nats, count = 0.0, 0
    for start in range(0, inputs.shape[0], batch_size):
        logits = model(inputs[start:start + batch_size])
        target = targets[start:start + batch_size]
        total_nats += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                      ignore_index=_data.IGNORE_INDEX, reduction="sum").item()
        count += int((target != _data.IGNORE_INDEX).sum())
    model.train(was_training)
    return total_nats / count / math.log(2)


def unigram_bits_per_character(train_data, valid_data):
    """Bits per character of the best model that ignores context: every next character is
    drawn from the training targets' frequencies (add-one smoothed over the tokens seen
    anywhere), scored on valid_data's targets. What a language model must beat to show it
    has learned anything about order. Padding (IGNORE_INDEX) is skipped."""
    train_targets, valid_targets = train_data[1], valid_data[1]
    train_targets = train_targets[train_targets != _data.IGNORE_INDEX]
    valid_targets = valid_targets[valid_targets != _data.IGNORE_INDEX]
    if train_targets.numel() == 0 or valid_targets.numel() == 0:
        raise ValueError("unigram_bits_per_character needs at least one target in each set")
    size = int(max(train_targets.max(), valid_targets.max())) + 1
    counts = torch.bincount(train_targets, minlength=size).double() + 1.0
    log2_probability = torch.log2(counts / counts.sum())
    return float(-log2_probability[valid_targets].mean())


@torch.no_grad()
def sample_words(model, vocab, num_samples, *, temperature=1.0, max_length=20, seed=0):
    """Draw words from a character language model one character at a time.

    Starting from BOS, the model's next-character distribution softmax(logits / temperature)
    is sampled (temperature < 1 sharpens it, > 1 flattens it) until EOS or max_length
    characters. The whole prefix is re-read at every step: simple and exact for any recurrent
    layer, and cheap for words this short. Returns a list of strings.
    """
    if not isinstance(temperature, numbers.Real) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
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
