"""Scoring a model: cross-entropies, accuracies, and a language model's bits per character."""
import math

import torch
import torch.nn.functional as F

from . import _checks
from .tasks import IGNORE_INDEX  # -100: torch.nn.functional.cross_entropy skips such targets


def sequence_cross_entropy(logits, targets):
    """Mean cross-entropy over every step that has a target: logits (N, L, classes), targets
    (N, L) class ids, IGNORE_INDEX (-100) where a step has no target (padding)."""
    _checks.check_logits(logits, targets)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=IGNORE_INDEX)


def per_step_accuracy(logits, targets):
    """Fraction of sequences whose most likely class is the target, at each step: (L,)."""
    _checks.check_logits(logits, targets)
    return (logits.argmax(dim=-1) == targets).float().mean(dim=0)


def copying_accuracy(logits, targets, copy_length=10):
    """Accuracy on the last copy_length steps of the copying task, where the symbols must be
    recalled: 1/num_symbols by guessing, 1 when solved. The blanks before are not counted."""
    _checks.check_int("copy_length", copy_length, maximum=targets.shape[-1])
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
                                      ignore_index=IGNORE_INDEX, reduction="sum").item()
        count += int((target != IGNORE_INDEX).sum())
    model.train(was_training)
    return total_nats / count / math.log(2)


def unigram_bits_per_character(train_data, valid_data):
    """Bits per character of the best model that ignores context: every next character is
    drawn from the training targets' frequencies (add-one smoothed over the tokens seen
    anywhere), scored on valid_data's targets. What a language model must beat to show it
    has learned anything about order. Padding (IGNORE_INDEX) is skipped."""
    train_targets, valid_targets = train_data[1], valid_data[1]
    train_targets = train_targets[train_targets != IGNORE_INDEX]
    valid_targets = valid_targets[valid_targets != IGNORE_INDEX]
    _checks.check_targets_left(train_targets, valid_targets)
    size = int(max(train_targets.max(), valid_targets.max())) + 1
    counts = torch.bincount(train_targets, minlength=size).double() + 1.0
    log2_probability = torch.log2(counts / counts.sum())
    return float(-log2_probability[valid_targets].mean())
