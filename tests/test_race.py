"""The seed race: one rule, k/n summaries, survival curves, counted n-gram references."""
import math

import pytest
import torch

from gatedrnn import data, race


def test_survival_curve_counts_solved_seeds_by_each_step():
    steps, fraction = race.survival_curve([100, None, 250, 100, None], 300, every=50)
    assert steps == [0, 50, 100, 150, 200, 250, 300]
    assert fraction == [0.0, 0.0, 0.4, 0.4, 0.4, 0.6, 0.6]
    steps, fraction = race.survival_curve([7], 10, every=4)
    assert steps == [0, 4, 8, 10] and fraction == [0.0, 0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="cap"):
        race.survival_curve([1], 0)


def test_summarize_gives_k_of_n_and_the_median_of_solved_runs_only():
    summary = race.summarize([300, None, 100, 200, None])
    assert (summary["k"], summary["n"], summary["median_steps"]) == (3, 5, 200)
    assert (summary["min_steps"], summary["max_steps"]) == (100, 300)
    assert race.summarize([None, None])["median_steps"] is None


def test_width_for_parameters_is_the_largest_width_within_budget():
    budget = race.layer_parameters("GRU", 2, 32)
    assert budget == 3 * (2 * 32 + 32 ** 2 + 2 * 32)
    for kind in race.KINDS:
        width = race.width_for_parameters(kind, 2, budget)
        assert race.layer_parameters(kind, 2, width) <= budget
        assert race.layer_parameters(kind, 2, width + 1) > budget
        layer = race._layer(kind, 2, width)
        assert sum(p.numel() for p in layer.parameters()) == race.layer_parameters(kind, 2, width)
    with pytest.raises(ValueError, match="kind"):
        race.width_for_parameters("CNN", 2, 1000)


def test_set_forget_bias_sets_only_the_forget_block():
    spec = dict(task="adding", kind="LSTM", hidden=5, seed=0, forget_bias=2.5)
    lstm = race.build_model(spec).rnn
    total = lstm.bias_ih_l0 + lstm.bias_hh_l0
    assert torch.allclose(total[5:10], torch.full((5,), 2.5))
    default = race.build_model(dict(spec, forget_bias=None)).rnn
    assert torch.equal(lstm.bias_ih_l0[:5], default.bias_ih_l0[:5])
    with pytest.raises(ValueError, match="LSTM"):
        race.build_model(dict(spec, kind="GRU"))


SMALL = dict(task="adding", length=6, hidden=8, steps=40, batch=16, lr=3e-2, clip=1.0,
             eval_every=10, num_train=200, num_valid=64, num_test=64)


def test_run_seed_is_reproducible_and_stops_at_the_first_solved_evaluation():
    first = race.run_seed(dict(SMALL, kind="GRU", seed=3, profile=True))
    again = race.run_seed(dict(SMALL, kind="GRU", seed=3, profile=True))
    assert first["eval_loss"] == again["eval_loss"] and first["test_loss"] == again["test_loss"]
    assert len(first["profile_init"]) == 6 and len(first["profile_trained"]) == 6
    other = race.run_seed(dict(SMALL, kind="GRU", seed=4))
    assert other["eval_loss"] != first["eval_loss"]
    # a rule every run passes at once stops at the first evaluation
    easy = race.run_seed(dict(SMALL, kind="RNN", seed=0, task="copying", length=2,
                              steps=400, lr=3e-2))
    if easy["solved_step"] is not None:
        assert easy["eval_metric"][-1] >= race.COPYING_SOLVED_RECALL
        assert easy["eval_step"][-1] == easy["solved_step"] < 400
        assert all(m < race.COPYING_SOLVED_RECALL for m in easy["eval_metric"][:-1])
    else:
        assert easy["eval_step"][-1] == 400


def test_run_parallel_matches_serial_and_keeps_order():
    specs = [dict(SMALL, kind=kind, seed=seed, steps=20)
             for kind in ("RNN", "GRU") for seed in (0, 1)]
    serial = race.run_parallel(race.run_seed, specs, processes=1, progress=False)
    parallel = race.run_parallel(race.run_seed, specs, processes=2, progress=False)
    assert [(r["kind"], r["seed"]) for r in parallel] == [(s["kind"], s["seed"]) for s in specs]
    assert [r["test_loss"] for r in parallel] == [r["test_loss"] for r in serial]
    pool = race.worker_pool(2)
    try:
        pooled = race.run_parallel(race.run_seed, specs[::-1], pool=pool, progress=False)
    finally:
        pool.close()
        pool.join()
    assert [r["test_loss"] for r in pooled] == [r["test_loss"] for r in serial][::-1]


def test_worker_pool_spawns_by_default_and_names_a_bad_start_method():
    pool = race.worker_pool(1)
    try:   # a spawned worker is a fresh interpreter: its parent is this process, not a fork of it
        assert pool.apply(_start_method) == "spawn"
    finally:
        pool.close()
        pool.join()
    with pytest.raises(ValueError, match="start_method"):
        race.worker_pool(2, start_method="telepathy")


def _start_method():
    import multiprocessing
    return multiprocessing.get_start_method(allow_none=True) or "spawn"


def test_real_data_runs_train_with_the_hand_derived_backward_pass_on_request():
    words = data.char_corpus(["abc", "abd", "bcd", "cab", "dab", "bad"] * 5, seed=0)
    train, valid = (data.encode_words(w, words.vocab)
                    for w in (words.train_words, words.valid_words))
    spec = dict(kind="GRU", seed=0, hidden=8, steps=3, batch=4, lr=1e-2, clip=1.0, train=train,
                valid=valid, vocab_size=len(words.vocab))
    autograd, manual = (race.run_language_model(dict(spec, bptt=b)) for b in ("autograd", "manual"))
    assert manual["bits"] == pytest.approx(autograd["bits"], abs=1e-5)
    with pytest.raises(ValueError, match="bptt"):     # the spec's bptt reaches the layer
        race.run_language_model(dict(spec, bptt="by hand"))
    digits = data.load_digits_sequences(mode="rows", seed=0)
    with pytest.raises(ValueError, match="bptt"):
        race.run_digits(dict(spec, kind="LSTM", train=digits[0], test=digits[1], bptt="by hand"))


def test_input_gradient_profile_matches_autograd_at_one_distance():
    model = race.build_model(dict(SMALL, kind="LSTM", seed=0))
    x = torch.rand(4, 6, 2)
    profile = race.input_gradient_profile(model, x)
    k = 2
    x2 = x.clone().requires_grad_(True)
    grad, = torch.autograd.grad(model(x2).sum(), x2)
    assert math.isclose(profile[k], float(grad[:, 6 - 1 - k].norm(dim=1).mean()), rel_tol=1e-6)


def _pairs(words, vocab):
    return data.encode_words(words, vocab)


def test_ngram_order_one_is_a_smoothed_letter_frequency_model():
    words = ["ab", "ab", "b"]
    vocab = data.CharVocab("ab")
    train = valid = _pairs(words, vocab)
    # targets: a b EOS, a b EOS, b EOS -> counts a 2, b 3, EOS 3 of 8; p0 uniform over 3
    bits = race.ngram_bits_per_character(train, valid, 1, strength=1.0)
    p = {t: (c + 1 / 3) / 9 for t, c in {"a": 2, "b": 3, "eos": 3}.items()}
    expected = -(2 * math.log2(p["a"]) + 3 * math.log2(p["b"]) + 3 * math.log2(p["eos"])) / 8
    assert math.isclose(bits, expected, rel_tol=1e-12)


def test_ngram_learns_a_deterministic_order_that_letter_counts_cannot():
    vocab = data.CharVocab("abc")
    train = _pairs(["abc"] * 50, vocab)
    unigram = race.ngram_bits_per_character(train, train, 1)
    trigram = race.ngram_bits_per_character(train, train, 3)
    assert unigram > 1.5 and trigram < 0.05
    with pytest.raises(ValueError, match="order"):
        race.ngram_bits_per_character(train, train, 0)


def test_logistic_regression_reference_separates_separable_classes():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(200, 4, 2, generator=generator)
    y = (x[:, 0, 0] > 0).long()
    accuracy = race.logistic_regression_accuracy((x[:150], y[:150]), (x[150:], y[150:]))
    assert accuracy > 0.9


def test_spread_reports_median_and_range():
    assert race.spread([0.3, 0.1, 0.2]) == "0.20 [0.10-0.30]"
    assert race.spread([1, 2, 3, 10], "{:.1f}") == "2.5 [1.0-10.0]"
    with pytest.raises(ValueError):
        race.spread([])
