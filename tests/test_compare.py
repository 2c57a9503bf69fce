"""Putting RNN, LSTM and GRU side by side: building, sizing, sampling and timing them alike."""
import time

import pytest
import torch

import gatedrnn
from gatedrnn import compare, data
from test_metrics import Uniform  # the same stand-in language model


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


def test_parameter_formula_known_values():
    """GRU(100, 100) has 60,600 parameters (two biases per block, as torch and Keras'
    reset_after=True keep), LSTM(100, 100) 80,800, RNN(100, 100) 20,200."""
    counts = {kind: compare.recurrent_parameter_count(kind, 100, 100)
              for kind in compare.MODEL_KINDS}
    assert counts == {"RNN": 20_200, "GRU": 60_600, "LSTM": 80_800}
    assert compare.GATE_BLOCKS == {"RNN": 1, "GRU": 3, "LSTM": 4}


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


def test_hidden_size_for_budget_rejects_what_cannot_fit():
    with pytest.raises(ValueError, match="budget must be >= "):
        compare.hidden_size_for_budget("GRU", 3, 10)
    with pytest.raises(TypeError, match="budget must be an int"):
        compare.hidden_size_for_budget("GRU", 3, 1e4)


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
    uniform = compare.sample_words(Uniform(len(vocab)), vocab, 50, temperature=1.0,
                                   max_length=6, seed=1)
    assert len(set(uniform)) > 5 and all(len(w) <= 6 for w in uniform)
    assert uniform == compare.sample_words(Uniform(len(vocab)), vocab, 50, max_length=6, seed=1)
    with pytest.raises(ValueError, match="temperature"):
        compare.sample_words(Uniform(len(vocab)), vocab, 1, temperature=0)


class _Sleeps(torch.nn.Module):
    """A model whose forward pass takes at least `seconds`: a known cost to measure."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.weight = seconds, torch.nn.Parameter(torch.ones(1))

    def forward(self, inputs):
        time.sleep(self.seconds)
        return inputs * self.weight


def test_training_step_time_measures_forward_and_backward():
    x, y = torch.randn(4, 1), torch.randn(4, 1)
    model = _Sleeps(0.02)
    seconds = compare.training_step_time(model, x, y, torch.nn.functional.mse_loss, repeats=3,
                                         warmup=1)
    assert 0.02 <= seconds < 0.5
    assert model.weight.grad is None       # gradients are cleared after every repeat
