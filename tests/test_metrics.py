"""Scoring: cross-entropies, accuracies, bits per character."""
import math

import pytest
import torch

import gatedrnn
from gatedrnn import data, metrics


def test_per_step_and_copying_accuracy():
    targets = torch.tensor([[0, 0, 1, 2], [0, 0, 2, 2]])
    logits = torch.nn.functional.one_hot(torch.tensor([[0, 1, 1, 2], [0, 0, 1, 2]]), 3).float()
    torch.testing.assert_close(metrics.per_step_accuracy(logits, targets),
                               torch.tensor([1.0, 0.5, 0.5, 1.0]))
    assert float(metrics.copying_accuracy(logits, targets, copy_length=2)) == 0.75
    with pytest.raises(ValueError, match="copy_length"):
        metrics.copying_accuracy(logits, targets, copy_length=5)
    with pytest.raises(ValueError, match="expected logits"):
        metrics.per_step_accuracy(logits[0], targets)


def test_sequence_cross_entropy_skips_padding():
    logits = torch.randn(2, 3, 4)
    targets = torch.tensor([[1, 2, data.IGNORE_INDEX], [3, data.IGNORE_INDEX, data.IGNORE_INDEX]])
    kept = [(0, 0), (0, 1), (1, 0)]
    expected = torch.stack([torch.nn.functional.cross_entropy(logits[i, t], targets[i, t])
                            for i, t in kept]).mean()
    torch.testing.assert_close(metrics.sequence_cross_entropy(logits, targets), expected)


def test_classification_accuracy_with_classes_and_with_one_logit():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 5.0], [1.0, 0.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 0])
    assert float(metrics.classification_accuracy(logits, labels)) == 0.75
    one_logit = torch.tensor([[2.0], [-1.0], [0.5], [-3.0]])        # > 0 means class 1
    assert float(metrics.classification_accuracy(one_logit, torch.tensor([1, 0, 0, 1]))) == 0.5


def test_binary_cross_entropy_is_the_mean_negative_log_likelihood():
    logits, labels = torch.tensor([[0.0], [2.0], [-1.0]]), torch.tensor([1, 1, 0])
    p = torch.sigmoid(logits[:, 0])
    want = -(torch.log(p[0]) + torch.log(p[1]) + torch.log(1 - p[2])) / 3
    torch.testing.assert_close(metrics.binary_cross_entropy(logits, labels), want)


class Uniform(torch.nn.Module):
    """A 'language model' that gives every token the same logit."""

    def __init__(self, vocab_size):
        super().__init__()
        self.vocab_size = vocab_size

    def forward(self, inputs):
        return torch.zeros(*inputs.shape, self.vocab_size)


def test_bits_per_character_of_uniform_guessing_is_log2_v():
    vocab = data.CharVocab("abcde")
    pairs = data.encode_words(["abc", "de", "a"], vocab)
    bits = metrics.bits_per_character(Uniform(len(vocab)), pairs, batch_size=2)
    assert math.isclose(bits, math.log2(len(vocab)), rel_tol=1e-6)


def test_char_lm_trains_below_uniform_bits():
    corpus = data.char_corpus(max_words=400, seed=0, max_length=6)
    train_pairs = data.encode_words(corpus.train_words, corpus.vocab)
    valid_pairs = data.encode_words(corpus.valid_words, corpus.vocab)
    model = gatedrnn.SequenceModel(gatedrnn.GRU(8, 16, batch_first=True), len(corpus.vocab),
                                   vocab_size=len(corpus.vocab), readout="every")
    before = metrics.bits_per_character(model, valid_pairs)
    gatedrnn.train(model, metrics.sequence_cross_entropy, train_pairs, steps=80, lr=1e-2,
                   progress=False)
    after = metrics.bits_per_character(model, valid_pairs)
    assert after < before - 0.5 and after < math.log2(len(corpus.vocab))


def test_unigram_bits_per_character_by_hand():
    vocab = data.CharVocab("ab")
    train_pairs = data.encode_words(["aa", "ab"], vocab)   # targets a a EOS a b EOS
    valid_pairs = data.encode_words(["b"], vocab)          # targets b EOS
    # add-one counts over ids 0..4 (pad, bos, eos, a, b): 1, 1, 3, 4, 2 -> total 11
    expected = -(math.log2(2 / 11) + math.log2(3 / 11)) / 2
    assert math.isclose(metrics.unigram_bits_per_character(train_pairs, valid_pairs), expected)
    empty = (valid_pairs[0], torch.full_like(valid_pairs[1], data.IGNORE_INDEX))
    with pytest.raises(ValueError, match="at least one target"):
        metrics.unigram_bits_per_character(train_pairs, empty)
