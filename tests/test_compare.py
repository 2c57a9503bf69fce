"""Helpers that put RNN, LSTM and GRU side by side, and train()'s early stop."""
import math

import pytest
import torch

import gatedrnn
from gatedrnn import compare, data

@pytest.mark.parametrize("kind", compare.MODEL_KINDS)
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True)])
def test_parameter_formula_matches_both_implementations(kind, layers, bidirectional):
    ours = compare.recurrent_layer(kind, 5, 7, num_layers=layers, bidirectional=bidirectional)
    twin = compare.recurrent_layer(kind, 5, 7, num_layers=layers, bidirectional=bidirectional,
                                   implementation="torch")
    assert isinstance(twin, getattr(torch.nn, kind)) and isinstance(ours, getattr(gatedrnn, kind))
    expected = compare.recurrent_parameter_count(kind, 5, 7, num_layers=layers,
                                                 bidirectional=bidirectional)
    assert compare.parameter_count(ours) == compare.parameter_count(twin) == expected


def test_recurrent_layer_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        compare.recurrent_layer("Transformer", 2, 4)
    with pytest.raises(ValueError, match="implementation"):
        compare.recurrent_layer("GRU", 2, 4, implementation="keras")


@pytest.mark.parametrize("kind", compare.MODEL_KINDS)
@pytest.mark.parametrize("budget", [500, 12_345, 100_000])
def test_hidden_size_for_budget_is_the_largest_that_fits(kind, budget):
    hidden = compare.hidden_size_for_budget(kind, 3, budget)
    assert compare.recurrent_parameter_count(kind, 3, hidden) <= budget
    assert compare.recurrent_parameter_count(kind, 3, hidden + 1) > budget


def test_per_step_and_copying_accuracy():
    targets = torch.tensor([[0, 0, 1, 2], [0, 0, 2, 2]])
    logits = torch.nn.functional.one_hot(torch.tensor([[0, 1, 1, 2], [0, 0, 1, 2]]), 3).float()
    torch.testing.assert_close(compare.per_step_accuracy(logits, targets),
                               torch.tensor([1.0, 0.5, 0.5, 1.0]))
    assert float(compare.copying_accuracy(logits, targets, copy_length=2)) == 0.75
    with pytest.raises(ValueError, match="copy_length"):
        compare.copying_accuracy(logits, targets, copy_length=5)
    with pytest.raises(ValueError, match="expected logits"):
        compare.per_step_accuracy(logits[0], targets)


def test_sequence_cross_entropy_skips_padding():
    logits = torch.randn(2, 3, 4)
    targets = torch.tensor([[1, 2, data.IGNORE_INDEX], [3, data.IGNORE_INDEX, data.IGNORE_INDEX]])
    kept = [(0, 0), (0, 1), (1, 0)]
    expected = torch.stack([torch.nn.functional.cross_entropy(logits[i, t], targets[i, t])
                            for i, t in kept]).mean()
    torch.testing.assert_close(compare.sequence_cross_entropy(logits, targets), expected)


class _Uniform(torch.nn.Module):
    """A 'language model' that gives every token the same logit."""

    def __init__(self, vocab_size):
        super().__init__()
        self.vocab_size = vocab_size

    def forward(self, inputs):
        return torch.zeros(*inputs.shape, self.vocab_size)


def test_bits_per_character_of_uniform_guessing_is_log2_v():
    vocab = data.CharVocab("abcde")
    pairs = data.encode_words(["abc", "de", "a"], vocab)
    bits = compare.bits_per_character(_Uniform(len(vocab)), pairs, batch_size=2)
    assert math.isclose(bits, math.log2(len(vocab)), rel_tol=1e-6)


class _Spells(torch.nn.Module):
    """Always predicts the next letter of one fixed word, whatever came before."""

    def __init__(self, vocab, word):
        super().__init__()
        self.vocab, self.ids = vocab, vocab.encode(word)[1:]

    def forward(self, inputs):
        logits = torch.full((*inputs.shape, len(self.vocab)), -20.0)
        for t in range(inputs.shape[1]):
            logits[:, t, self.ids[min(t, len(self.ids) - 1)]] = 20.0
        return logits


def test_sampling_follows_the_model_and_checks_temperature():
    vocab = data.CharVocab("cat")
    assert compare.sample_words(_Spells(vocab, "cat"), vocab, 4, temperature=0.5) == ["cat"] * 4
    uniform = compare.sample_words(_Uniform(len(vocab)), vocab, 50, temperature=1.0,
                                   max_length=6, seed=1)
    assert len(set(uniform)) > 5 and all(len(w) <= 6 for w in uniform)
    assert uniform == compare.sample_words(_Uniform(len(vocab)), vocab, 50, max_length=6, seed=1)
    with pytest.raises(ValueError, match="temperature"):
        compare.sample_words(_Uniform(len(vocab)), vocab, 1, temperature=0)


def test_char_lm_trains_below_uniform_bits():
    corpus = data.char_corpus(max_words=400, seed=0, max_length=6)
    train_pairs = data.encode_words(corpus.train_words, corpus.vocab)
    valid_pairs = data.encode_words(corpus.valid_words, corpus.vocab)
    model = gatedrnn.SequenceModel(gatedrnn.GRU(8, 16, batch_first=True), len(corpus.vocab),
                                   vocab_size=len(corpus.vocab), every_step=True)
    before = compare.bits_per_character(model, valid_pairs)
    gatedrnn.train(model, compare.sequence_cross_entropy, train_pairs, steps=80, lr=1e-2,
                   progress=False)
    after = compare.bits_per_character(model, valid_pairs)
    assert after < before - 0.5 and after < math.log2(len(corpus.vocab))


def test_training_step_time_is_positive():
    model = gatedrnn.SequenceModel(gatedrnn.RNN(2, 4, batch_first=True), 1)
    x, y = gatedrnn.adding_problem(8, 5)
    seconds = compare.training_step_time(model, x, y, torch.nn.functional.mse_loss, repeats=2)
    assert seconds > 0 and all(p.grad is None for p in model.parameters())


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


def test_stop_when_needs_eval_data():
    model = gatedrnn.SequenceModel(gatedrnn.GRU(2, 4, batch_first=True), 1)
    with pytest.raises(ValueError, match="stop_when"):
        gatedrnn.train(model, torch.nn.functional.mse_loss, gatedrnn.adding_problem(8, 4),
                       steps=1, progress=False, stop_when=lambda loss, metric: True)


def test_unigram_bits_per_character_by_hand():
    vocab = data.CharVocab("ab")
    train_pairs = data.encode_words(["aa", "ab"], vocab)   # targets a a EOS a b EOS
    valid_pairs = data.encode_words(["b"], vocab)          # targets b EOS
    # add-one counts over ids 0..4 (pad, bos, eos, a, b): 1, 1, 3, 4, 2 -> total 11
    expected = -(math.log2(2 / 11) + math.log2(3 / 11)) / 2
    assert math.isclose(compare.unigram_bits_per_character(train_pairs, valid_pairs), expected)
    empty = (valid_pairs[0], torch.full_like(valid_pairs[1], data.IGNORE_INDEX))
    with pytest.raises(ValueError, match="at least one target"):
        compare.unigram_bits_per_character(train_pairs, empty)


@pytest.mark.parametrize("kind", compare.MODEL_KINDS)
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, False), (2, True)])
def test_state_classifier_reads_each_direction_after_the_whole_sequence(kind, layers,
                                                                         bidirectional):
    torch.manual_seed(0)
    rnn = compare.recurrent_layer(kind, 3, 5, num_layers=layers, bidirectional=bidirectional)
    model = compare.StateClassifier(rnn, 4)
    x = torch.randn(2, 6, 3)
    output, _ = rnn(x)
    last = output[:, -1, :5]                     # forward direction after the last step
    if bidirectional:
        last = torch.cat([last, output[:, 0, 5:]], dim=-1)   # backward after the first step
    torch.testing.assert_close(model(x), model.readout(last))
    assert model(x).shape == (2, 4)


def test_state_classifier_embeds_token_ids_and_needs_batch_first():
    model = compare.StateClassifier(gatedrnn.GRU(4, 3, batch_first=True), 1, vocab_size=7)
    assert model(torch.tensor([[1, 2, 6]])).shape == (1, 1)
    with pytest.raises(ValueError, match="batch_first"):
        compare.StateClassifier(gatedrnn.GRU(4, 3), 1)
