"""Long-range tasks generated on the fly: seeded, reproducible, no download.

Both return batch-first tensors, (num_sequences, length, ...), so that rows are examples.
"""
import math

import torch

from ._checks import check_int, generator_from


def adding_problem(num_sequences, seq_len, *, seed=0, dtype=torch.float32):
    """The adding problem in the form of Le, Jaitly & Hinton (2015) and Arjovsky et al. (2016).

    Each step carries two features: a value drawn from U[0, 1] and a marker in {0, 1}. Exactly
    two steps are marked, one in each half of the sequence; the target is the sum of the two
    marked values. Predicting the mean target, 1, scores MSE 1/6 (`ADDING_BASELINE_MSE`).

    Returns inputs (num_sequences, seq_len, 2) and targets (num_sequences, 1).
    """
    num_sequences = check_int("num_sequences", num_sequences, 1)
    seq_len = check_int("seq_len", seq_len, 2)  # one marker in each half needs two steps
    generator = generator_from(seed)
    values = torch.rand(num_sequences, seq_len, generator=generator, dtype=torch.float64)
    half = seq_len // 2
    first = torch.randint(0, half, (num_sequences,), generator=generator)
    second = torch.randint(half, seq_len, (num_sequences,), generator=generator)
    markers = torch.zeros(num_sequences, seq_len, dtype=torch.float64)
    rows = torch.arange(num_sequences)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = (values * markers).sum(dim=1, keepdim=True)
    inputs = torch.stack([values, markers], dim=2)
    return inputs.to(dtype), targets.to(dtype)


# Var(U1 + U2) for two independent U[0, 1] values: 2 * 1/12. The error of always answering 1
# (tests/test_tasks.py measures it on generated data).
ADDING_BASELINE_MSE = 1.0 / 6.0

BLANK = 0  # the copying task's blank token; the delimiter is num_symbols + 1


def copying_task(num_sequences, delay, *, num_symbols=8, copy_length=10, seed=0):
    """The copying-memory task of Arjovsky, Shah & Bengio (2016).

    Token 0 is the blank, tokens 1..num_symbols are the symbols, token num_symbols + 1 the
    delimiter. The input is `copy_length` random symbols, delay - 1 blanks, the delimiter and
    `copy_length` blanks (length delay + 2 * copy_length). The target is delay + copy_length
    blanks followed by the symbols: the network must hold them for `delay` steps.

    Returns token ids inputs and targets, both int64 of shape
    (num_sequences, delay + 2 * copy_length).
    A network that outputs blank until the delimiter and then guesses uniformly scores
    cross-entropy `copying_baseline(delay)` per step.
    """
    num_sequences = check_int("num_sequences", num_sequences, 1)
    delay = check_int("delay", delay, 1)
    num_symbols = check_int("num_symbols", num_symbols, 1)
    copy_length = check_int("copy_length", copy_length, 1)
    generator = generator_from(seed)
    delimiter = num_symbols + 1
    length = delay + 2 * copy_length
    symbols = torch.randint(1, num_symbols + 1, (num_sequences, copy_length), generator=generator)
    inputs = torch.full((num_sequences, length), BLANK, dtype=torch.long)
    inputs[:, :copy_length] = symbols
    inputs[:, copy_length + delay - 1] = delimiter
    targets = torch.full((num_sequences, length), BLANK, dtype=torch.long)
    targets[:, -copy_length:] = symbols
    return inputs, targets


def copying_baseline(delay, *, num_symbols=8, copy_length=10):
    """Memoryless cross-entropy per step:
    copy_length * ln(num_symbols) / (delay + 2 copy_length)."""
    delay = check_int("delay", delay, 1)
    return copy_length * math.log(num_symbols) / (delay + 2 * copy_length)


IGNORE_INDEX = -100  # torch.nn.functional.cross_entropy's default ignore_index


def delayed_echo(num_sequences, seq_len, delay, *, seed=0, dtype=torch.float32):
    """Echo a stream of random bits `delay` steps late: a dependency of exactly `delay` steps.

    Each step's input is one random sign, -1 or +1; the target at step t is the bit that came
    in at step t - delay (class 1 for +1, class 0 for -1), and IGNORE_INDEX for the first
    `delay` steps, which have nothing to echo. Guessing scores accuracy 1/2 and cross-entropy
    ln 2 per step.

    Returns inputs (num_sequences, seq_len, 1) and int64 targets (num_sequences, seq_len).
    """
    num_sequences = check_int("num_sequences", num_sequences, 1)
    delay = check_int("delay", delay, 1)
    seq_len = check_int("seq_len", seq_len, delay + 1)
    generator = generator_from(seed)
    bits = torch.randint(0, 2, (num_sequences, seq_len), generator=generator)
    targets = torch.full((num_sequences, seq_len), IGNORE_INDEX, dtype=torch.long)
    targets[:, delay:] = bits[:, :-delay]
    inputs = (2 * bits - 1).to(dtype).unsqueeze(2)
    return inputs, targets
