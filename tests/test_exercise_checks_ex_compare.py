"""The compare pages' exercise checkers (gatedrnn.exercise_checks, compare section): each accepts
the official answer and fails on a wrong one (the stub's value, a wrong rate, a wrong row, a
hard-coded shape...). The race's runs are stood in for by plain dicts, so nothing trains here.
"""
import math
import statistics
from pathlib import Path

import nbformat
import pytest
import torch

import gatedrnn
from gatedrnn import compare, data, exercise_checks, race
from gatedrnn.diagnostics import gru_trace
from gatedrnn.metrics import bits_per_character

BOOK = Path(__file__).resolve().parents[1] / "book"
LABELS = {"compare_memory": ["cmp-fair-race", "cmp-equal-parameters", "cmp-forget-bias",
                             "cmp-copy-baseline"],
          "compare_real": ["cmp-beat-ngram", "cmp-temperature", "cmp-bidirectional-cheats"]}


# ----------------------------------------------------------------------------- the pages' cells

@pytest.mark.parametrize("page", LABELS)
def test_every_exercise_has_a_graded_locked_self_check_after_its_solution(page):
    notebook = nbformat.read(BOOK / f"{page}.ipynb", as_version=4)
    ids = [cell.get("id") for cell in notebook.cells]
    for label in LABELS[page]:
        check = notebook.cells[ids.index(f"{label}-check")]
        assert "{solution-end}" in notebook.cells[ids.index(f"{label}-check") - 1].source
        meta = check.metadata["nbgrader"]
        assert meta["grade"] and meta["locked"] and not meta["solution"]
        assert meta["grade_id"] == f"{label}-check" and meta["points"] == 2
        lines = check.source.splitlines()
        assert lines[0].startswith("# Self-check:") and "self-check passed" in check.source
        written = [c for c in notebook.cells
                   if c.metadata.get("nbgrader", {}).get("grade_id") == f"{label}-written"]
        assert len(written) == 1 and "**Rubric**" in written[0].source
        assert "printout shows" not in written[0].source


# ----------------------------------------------------------------------------- cmp-fair-race

RECIPE = dict(task="copying", kind="LSTM", hidden=27, length=10, steps=300, batch=32,
              clip=1.0, eval_every=25)


def _run(seed, lr, valid, test, solved=None, **fields):
    return dict(RECIPE, **fields, seed=seed, lr=lr, eval_metric=[0.25, valid], test_metric=test,
                solved_step=solved)


def _fair_race():
    low = [_run(s, 1e-2, v, t) for s, v, t in zip(range(5), [.40, .45, .50, .42, .47],
                                                   [.41, .46, .52, .40, .49])]
    high = [_run(s, 3e-2, v, t) for s, v, t in zip(range(5), [.50, .55, .52, .48, .60],
                                                    [.47, .51, .53, .58, .61])]
    lstm_by_lr = {1e-2: low, 3e-2: high}
    validation = {lr: statistics.median(r["eval_metric"][-1] for r in runs)
                  for lr, runs in lstm_by_lr.items()}
    chosen = max(validation, key=validation.get)
    test = statistics.median(r["test_metric"] for r in lstm_by_lr[chosen])
    return lstm_by_lr, validation, chosen, test, low


def test_fair_race_accepts_the_official_answer():
    exercise_checks.check_fair_race(*_fair_race())
    assert _fair_race()[2] == 3e-2


def test_fair_race_fails_on_wrong_answers():
    lstm_by_lr, validation, chosen, test, race_runs = _fair_race()
    rerun = {1e-2: race_runs, 3e-2: [dict(r) for r in race_runs]}      # the rate not changed
    with pytest.raises(AssertionError, match="lr = 0.03"):
        exercise_checks.check_fair_race(rerun, validation, chosen, test, race_runs)
    wider = {1e-2: race_runs, 3e-2: [dict(r, hidden=32) for r in lstm_by_lr[3e-2]]}
    with pytest.raises(AssertionError, match="hidden = 27"):
        exercise_checks.check_fair_race(wider, validation, chosen, test, race_runs)
    on_test = {lr: statistics.median(r["test_metric"] for r in runs)   # chose on the test split
               for lr, runs in lstm_by_lr.items()}
    with pytest.raises(AssertionError, match="validation"):
        exercise_checks.check_fair_race(lstm_by_lr, on_test, chosen, test, race_runs)
    with pytest.raises(AssertionError, match="chosen: expected 0.03"):
        exercise_checks.check_fair_race(lstm_by_lr, validation, 1e-2, test, race_runs)
    mean = statistics.mean(r["test_metric"] for r in lstm_by_lr[3e-2])
    with pytest.raises(AssertionError, match="chosen_test_recall"):
        exercise_checks.check_fair_race(lstm_by_lr, validation, chosen, mean, race_runs)
    with pytest.raises(AssertionError, match="expected a number"):
        exercise_checks.check_fair_race(lstm_by_lr, validation, chosen, None, race_runs)
    with pytest.raises(AssertionError, match="one run per seed"):
        exercise_checks.check_fair_race({1e-2: race_runs, 3e-2: lstm_by_lr[3e-2][:3]},
                                        validation, chosen, test, race_runs)


# ----------------------------------------------------------------------------- cmp-equal-parameters

BASELINE = gatedrnn.ADDING_BASELINE_MSE


def _equal_width(seeds=(0, 1, 2), hidden=32):
    losses = {"RNN": [1.06, 1.02, 1.10], "LSTM": [1.05, 1.07, 0.99], "GRU": [0.03, 0.05, 0.04]}
    runs = {kind: [dict(task="adding", kind=kind, hidden=hidden, seed=seed,
                        parameters=race.layer_parameters(kind, 2, hidden),
                        test_loss=loss * BASELINE) for seed, loss in zip(seeds, losses[kind])]
            for kind in race.KINDS}
    counts = {kind: race.layer_parameters(kind, 2, 32) for kind in race.KINDS}
    ratio = {kind: statistics.median(r["test_loss"] / BASELINE for r in runs[kind])
             for kind in race.KINDS}
    return counts, runs, ratio


BANDS = {"RNN": (0.8, 1.25), "LSTM": (0.8, 1.25), "GRU": (0.0, 0.1)}


def test_equal_width_accepts_the_official_answer():
    counts, runs, ratio = _equal_width()
    exercise_checks.check_equal_width(counts, runs, ratio, [0, 1, 2], baseline=BASELINE,
                                      bands=BANDS)
    assert counts == {"RNN": 1152, "LSTM": 4608, "GRU": 3456}


def test_equal_width_fails_on_wrong_answers():
    counts, runs, ratio = _equal_width()
    with_readout = {kind: count + 33 for kind, count in counts.items()}
    with pytest.raises(AssertionError, match="counts_at_32"):
        exercise_checks.check_equal_width(with_readout, runs, ratio, [0, 1, 2], baseline=BASELINE)
    _, page_widths, _ = _equal_width(hidden=27)                       # the page's widths kept
    with pytest.raises(AssertionError, match="hidden = 32"):
        exercise_checks.check_equal_width(counts, page_widths, ratio, [0, 1, 2], baseline=BASELINE)
    with pytest.raises(AssertionError, match="one run per seed"):
        exercise_checks.check_equal_width(counts, runs, ratio, [0, 1, 2, 3, 4], baseline=BASELINE)
    means = {kind: statistics.mean(r["test_loss"] / BASELINE for r in runs[kind]) for kind in runs}
    with pytest.raises(AssertionError, match="median test MSE"):
        exercise_checks.check_equal_width(counts, runs, means, [0, 1, 2], baseline=BASELINE)
    raw = {kind: statistics.median(r["test_loss"] for r in runs[kind]) for kind in runs}
    with pytest.raises(AssertionError, match="equal_width_ratio"):      # not over the baseline
        exercise_checks.check_equal_width(counts, runs, raw, [0, 1, 2], baseline=BASELINE)
    # an LSTM far below the baseline is outside the default budget's band
    solved = dict(runs, LSTM=[dict(r, test_loss=0.02 * BASELINE) for r in runs["LSTM"]])
    with pytest.raises(AssertionError, match="between 0.8 and 1.25"):
        exercise_checks.check_equal_width(counts, solved, dict(ratio, LSTM=0.02), [0, 1, 2],
                                          baseline=BASELINE, bands=BANDS)
    exercise_checks.check_equal_width(counts, solved, dict(ratio, LSTM=0.02), [0, 1, 2],
                                      baseline=BASELINE)   # FULL_RUN: no band


# ----------------------------------------------------------------------------- cmp-forget-bias

BIASES = [0.0, 1.0, 3.0, math.log(50)]


def _forget_bias(rows="update", ih=3.0, hh=0.0, exact=False):
    keep = {b: 1 / (1 + math.exp(-b)) for b in BIASES}
    time_constant = {b: -1 / math.log(keep[b]) if exact else 1 / (1 - keep[b]) for b in BIASES}
    kept = {b: keep[b] ** 49 for b in BIASES}
    torch.manual_seed(0)
    gru = gatedrnn.GRU(2, 8, batch_first=True)
    inputs = torch.rand(4, 10, 2)
    block = {"reset": slice(0, 8), "update": slice(8, 16)}[rows]
    with torch.no_grad():
        gru.bias_ih_l0[block] = ih
        gru.bias_hh_l0[block] = hh
    gate = float(gru_trace(gru, inputs).update_gate[:, 0].mean())
    return BIASES, time_constant, kept, gru, inputs, gate


def test_forget_bias_accepts_the_official_answer_and_its_alternatives():
    exercise_checks.check_forget_bias(*_forget_bias())
    exercise_checks.check_forget_bias(*_forget_bias(exact=True))      # -1 / ln sigma(b)
    exercise_checks.check_forget_bias(*_forget_bias(ih=1.5, hh=1.5))  # split between the sides
    state = torch.get_rng_state()
    exercise_checks.check_forget_bias(*_forget_bias())
    assert torch.equal(state, torch.get_rng_state()), "the checker moved the caller's seed"


def test_forget_bias_fails_on_wrong_answers():
    biases, tau, kept, gru, inputs, gate = _forget_bias()
    with pytest.raises(AssertionError, match="time_constant"):
        wrong = {b: 1 / (1 + math.exp(-b)) for b in biases}           # sigma(b), not the constant
        exercise_checks.check_forget_bias(biases, wrong, kept, gru, inputs, gate)
    with pytest.raises(AssertionError, match="kept_after_49"):
        exercise_checks.check_forget_bias(biases, tau, {b: v ** 2 for b, v in kept.items()},
                                          gru, inputs, gate)
    with pytest.raises(AssertionError, match="update gate's total bias"):
        exercise_checks.check_forget_bias(*_forget_bias(rows="reset"))  # the reset gate's rows
    with pytest.raises(AssertionError, match="update gate's total bias"):
        exercise_checks.check_forget_bias(*_forget_bias(ih=3.0, hh=3.0))  # a total of 6
    with pytest.raises(AssertionError, match="update_gate_start"):
        exercise_checks.check_forget_bias(biases, tau, kept, gru, inputs, 1 / (1 + math.exp(-3)))
    torch.manual_seed(0)
    untouched = gatedrnn.GRU(2, 8, batch_first=True)                  # the stub: nothing set
    with pytest.raises(AssertionError, match="update gate's total bias"):
        exercise_checks.check_forget_bias(biases, tau, kept, untouched, inputs, gate)


# ----------------------------------------------------------------------------- cmp-copy-baseline

def memoryless_logits(num_sequences, delay, num_symbols, copy_length):
    logits = torch.full((num_sequences, delay + 2 * copy_length, num_symbols + 2), -1e4)
    logits[:, :-copy_length, gatedrnn.tasks.BLANK] = 0.0
    logits[:, -copy_length:, 1:num_symbols + 1] = 0.0
    return logits


def test_copy_baseline_accepts_the_official_answer_at_every_size():
    formula = gatedrnn.copying_baseline(10, num_symbols=4, copy_length=3)
    exercise_checks.check_copy_baseline(memoryless_logits, delay=10, num_symbols=4,
                                        copy_length=3, memoryless=formula)
    for delay, symbols, copy in [(25, 8, 10), (1, 2, 1), (7, 3, 5)]:   # the hidden tests' sizes
        exercise_checks.check_copy_baseline(memoryless_logits, delay=delay, num_symbols=symbols,
                                            copy_length=copy, seed=7)


def test_copy_baseline_fails_on_wrong_answers():
    def uniform_over_every_token(n, delay, symbols, copy):
        logits = memoryless_logits(n, delay, symbols, copy)
        logits[:, -copy:] = 0.0                      # bets on blank and delimiter too
        return logits

    with pytest.raises(AssertionError, match="cross-entropy"):
        exercise_checks.check_copy_baseline(uniform_over_every_token, delay=10, num_symbols=4,
                                            copy_length=3)

    def hard_coded(n, delay, symbols, copy):        # right on the page, ignores its arguments
        return memoryless_logits(n, 10, 4, 3)

    exercise_checks.check_copy_baseline(hard_coded, delay=10, num_symbols=4, copy_length=3)
    with pytest.raises(AssertionError, match="shape"):
        exercise_checks.check_copy_baseline(hard_coded, delay=25, num_symbols=8, copy_length=10)
    with pytest.raises(AssertionError, match="memoryless"):
        exercise_checks.check_copy_baseline(memoryless_logits, delay=10, num_symbols=4,
                                            copy_length=3, memoryless=math.log(4))


# ----------------------------------------------------------------------------- cmp-beat-ngram

PAGE_ORDERS = {1: 4.270, 2: 3.749, 3: 3.432, 4: 3.322, 5: 3.353}


def test_ngram_orders_accepts_the_official_answer():
    exercise_checks.check_ngram_orders(PAGE_ORDERS | {6: 3.464, 7: 3.607}, PAGE_ORDERS)


def test_ngram_orders_fails_on_wrong_answers():
    with pytest.raises(AssertionError, match="keys"):
        exercise_checks.check_ngram_orders(PAGE_ORDERS | {6: 3.464}, PAGE_ORDERS)
    with pytest.raises(AssertionError, match=r"many_orders\[4\]"):
        exercise_checks.check_ngram_orders(PAGE_ORDERS | {4: 3.3, 6: 3.464, 7: 3.607},
                                           PAGE_ORDERS)
    with pytest.raises(AssertionError, match="fall to a best middle order"):
        exercise_checks.check_ngram_orders(PAGE_ORDERS | {6: 3.30, 7: 3.29}, PAGE_ORDERS)


def test_ngram_orders_on_counted_words_is_u_shaped():
    # a real count on a small corpus: the check's shape is what counting gives
    words = data.load_words()[::20]
    corpus = data.char_corpus(words, seed=0)
    train = data.encode_words(corpus.train_words, corpus.vocab)
    valid = data.encode_words(corpus.valid_words, corpus.vocab)
    orders = {order: race.ngram_bits_per_character(train, valid, order) for order in range(1, 8)}
    exercise_checks.check_ngram_orders(orders, {order: orders[order] for order in (1, 2)})


# ----------------------------------------------------------------------------- cmp-temperature

TEMPERATURES = (0.3, 0.7, 1.0, 1.5, 2.5)


@pytest.fixture
def fake_sampler(monkeypatch):
    """sample_words stood in for: at temperature t, a share 1 / (1 + 4 t) of dictionary words,
    and fewer distinct words at low temperature; the seed shifts the draw."""
    def sample_words(model, vocab, num_samples, *, temperature, seed, max_length=20):
        real = round(num_samples / (1 + 4 * temperature))
        distinct = max(1, round(num_samples * min(1.0, temperature)))
        made = [f"made{i % distinct}" for i in range(num_samples - real + seed)]
        return ["real"] * (real - seed) + made

    monkeypatch.setattr(compare, "sample_words", sample_words)
    return sample_words


def _shares(sampler, seed=2):
    real, distinct = {}, {}
    for t in TEMPERATURES:
        words = sampler(None, None, 200, temperature=t, seed=seed)
        real[t] = sum(w == "real" for w in words) / len(words)
        distinct[t] = len(set(words)) / len(words)
    return real, distinct


def test_temperature_accepts_the_official_answer(fake_sampler):
    real, distinct = _shares(fake_sampler)
    exercise_checks.check_temperature(real, distinct, None, None, {"real"},
                                      temperatures=TEMPERATURES, num_samples=200, seed=2)


def test_temperature_fails_on_wrong_answers(fake_sampler):
    real, distinct = _shares(fake_sampler, seed=0)                    # another seed's draws
    with pytest.raises(AssertionError, match="real_share"):
        exercise_checks.check_temperature(real, distinct, None, None, {"real"},
                                          temperatures=TEMPERATURES, num_samples=200, seed=2)
    real, distinct = _shares(fake_sampler)
    swapped = {"real_share": distinct, "distinct_share": real}
    with pytest.raises(AssertionError, match="share"):
        exercise_checks.check_temperature(swapped["real_share"], swapped["distinct_share"], None,
                                          None, {"real"}, temperatures=TEMPERATURES,
                                          num_samples=200, seed=2)
    with pytest.raises(AssertionError, match="keys"):
        exercise_checks.check_temperature({0.3: real[0.3]}, distinct, None, None, {"real"},
                                          temperatures=TEMPERATURES, num_samples=200, seed=2)


def test_temperature_checks_the_trend(monkeypatch):
    # draws whose share of real words rises with the temperature fail the trend, however exact
    def rising(model, vocab, num_samples, *, temperature, seed, max_length=20):
        real = round(num_samples * temperature / 3)
        return ["real"] * real + ["made"] * (num_samples - real)

    monkeypatch.setattr(compare, "sample_words", rising)
    real, distinct = _shares(rising)
    with pytest.raises(AssertionError, match="fall"):
        exercise_checks.check_temperature(real, distinct, None, None, {"real"},
                                          temperatures=TEMPERATURES, num_samples=200, seed=2)


def test_temperature_recomputes_real_samples():
    vocab = data.CharVocab("abc")
    model = race.build_language_model("GRU", len(vocab), 8)
    words = {t: compare.sample_words(model, vocab, 50, temperature=t, seed=2)
             for t in (0.3, 1.0, 5.0)}
    known = set(words[0.3][:25])
    real = {t: sum(w in known for w in ws) / len(ws) for t, ws in words.items()}
    distinct = {t: len(set(ws)) / len(ws) for t, ws in words.items()}
    if real[0.3] > real[1.0] > real[5.0]:
        exercise_checks.check_temperature(real, distinct, model, vocab, known,
                                          temperatures=(0.3, 1.0, 5.0), num_samples=50, seed=2)
    with pytest.raises(AssertionError, match=r"distinct_share\[0.3\]"):
        exercise_checks.check_temperature(real, {t: 1.0 for t in real}, model, vocab, known,
                                          temperatures=(0.3, 1.0, 5.0), num_samples=50, seed=2)


# ------------------------------------------------------------------------ cmp-bidirectional-cheats

def _cheater(bidirectional=True, seed=0):
    vocab = data.CharVocab("abc")
    valid = data.encode_words(["abc", "cab", "ba"], vocab)
    model = race.build_language_model("GRU", len(vocab), 8, seed=seed, bidirectional=bidirectional)
    bits = bits_per_character(model, valid)
    return {"kind": "GRU", "seed": seed, "bits": bits, "state_dict": model.state_dict()}, bits, \
        valid, len(vocab)


def test_bidirectional_accepts_the_official_answer():
    cheater, bits, valid, size = _cheater()
    state = torch.get_rng_state()
    exercise_checks.check_bidirectional_cheats(cheater, bits, valid, vocab_size=size, hidden=8,
                                               one_way_bits=[3 * bits, 4 * bits])
    assert torch.equal(state, torch.get_rng_state()), "the checker moved the caller's seed"


def test_bidirectional_fails_on_wrong_answers():
    one_way, bits, valid, size = _cheater(bidirectional=False)         # forgot bidirectional=True
    with pytest.raises(AssertionError, match="bidirectional GRU"):
        exercise_checks.check_bidirectional_cheats(one_way, bits, valid, vocab_size=size, hidden=8,
                                                   one_way_bits=[3 * bits])
    cheater, bits, valid, size = _cheater()
    with pytest.raises(AssertionError, match="cheater_bits"):          # a hard-coded number
        exercise_checks.check_bidirectional_cheats(cheater, 0.004, valid, vocab_size=size,
                                                   hidden=8, one_way_bits=[3 * bits])
    with pytest.raises(AssertionError, match="less than half"):        # not far below
        exercise_checks.check_bidirectional_cheats(cheater, bits, valid, vocab_size=size, hidden=8,
                                                   one_way_bits=[1.5 * bits])
    other_seed, bits, valid, size = _cheater(seed=1)
    with pytest.raises(AssertionError, match="seed-0"):
        exercise_checks.check_bidirectional_cheats(other_seed, bits, valid, vocab_size=size,
                                                   hidden=8, one_way_bits=[3 * bits])


# ----------------------------------------------------------------------------- the cells themselves

def _check_source(page, label):
    notebook = nbformat.read(BOOK / f"{page}.ipynb", as_version=4)
    return next(c.source for c in notebook.cells if c.get("id") == f"{label}-check")


@pytest.mark.parametrize("page, label", [(page, label) for page, labels in LABELS.items()
                                         for label in labels])
def test_check_cells_fail_on_the_unanswered_release(page, label):
    # the stub raises before assigning anything the check reads
    namespace = {"exercise_checks": exercise_checks, "race": race, "gatedrnn": gatedrnn,
                 "FULL_RUN": False}
    with pytest.raises(NameError):
        exec(_check_source(page, label), namespace)


class _Passing:
    """exercise_checks with every checker passing: only the cell's own assertions run."""
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def test_fair_race_hidden_test_fails_on_a_wrong_grid_count(capsys):
    source = _check_source("compare_memory", "cmp-fair-race")
    namespace = dict(exercise_checks=_Passing(), lstm_by_lr={}, validation={}, chosen=3e-2,
                     chosen_test_recall=0.5, copying={("LSTM",): []}, KINDS=race.KINDS,
                     SEEDS=list(range(5)))
    exec(source, dict(namespace, grid_runs=90))
    assert "self-check passed" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="grid_runs = 45"):   # counted for one task only
        exec(source, dict(namespace, grid_runs=45))


def test_beat_ngram_hidden_test_fails_on_typed_in_numbers(capsys):
    source = _check_source("compare_real", "cmp-beat-ngram")

    class Race:                                   # the recount, stood in for
        @staticmethod
        def ngram_bits_per_character(train, valid, order):
            return 3.4641

    namespace = dict(exercise_checks=_Passing(), race=Race, train_pairs=None, valid_pairs=None,
                     ngram_bits=PAGE_ORDERS)
    exec(source, dict(namespace, many_orders=PAGE_ORDERS | {6: 3.4641, 7: 3.607}))
    assert "self-check passed" in capsys.readouterr().out
    with pytest.raises(AssertionError, match=r"many_orders\[6\]"):  # the site's rounded 3.464
        exec(source, dict(namespace, many_orders=PAGE_ORDERS | {6: 3.464, 7: 3.607}))
