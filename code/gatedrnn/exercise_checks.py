"""Checkers that the chapter exercises' self-check cells call, one section per page.

A self-check cell (see the instructor guide) asserts what a student can check on their own answer:
a value in an accepted range, or, where a student could pass by copying autograd, the student's
function rerun on fresh data against a reference. Each checker raises AssertionError with a message
that says what was expected and what came in, and returns nothing on success.
"""


# --- rnn_bptt ------------------------------------------------------------------------------------



# --- rnn_training --------------------------------------------------------------------------------



# --- lstm ----------------------------------------------------------------------------------------



# --- gru_quickstart, gru, gru_gates, gru_wild ----------------------------------------------------



# --- compare_memory, compare_real ----------------------------------------------------------------
# The race's runs are plain dicts (`race.run_seed`, `race.run_language_model`), so these checkers
# recompute the student's summaries from the runs they stored instead of training again.

def _close(name, got, expected, tolerance=1e-9):
    try:
        got = float(got)
    except (TypeError, ValueError):
        raise AssertionError(f"{name}: expected a number near {expected:.6g}, "
                             f"got {got!r}") from None
    if not abs(got - expected) <= tolerance * max(1.0, abs(expected)):
        raise AssertionError(f"{name}: expected {expected:.6g} (within {tolerance:g}), "
                             f"got {got:.6g}")


def _same_keys(name, got, expected):
    if not isinstance(got, dict) or set(got) != set(expected):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        raise AssertionError(f"{name}: expected a dict with keys {sorted(expected)}, got {keys}")


def _check_runs(name, runs, seeds, **fields):
    """runs: one result per seed, in the order of `seeds`, each with the given spec fields."""
    got_seeds = [r.get("seed") for r in runs] if isinstance(runs, list) else None
    if got_seeds != list(seeds):
        raise AssertionError(f"{name}: expected a list of one run per seed {list(seeds)}, "
                             f"got seeds {got_seeds}")
    for key, value in fields.items():
        got = [r.get(key) for r in runs]
        if any(g != value for g in got):
            raise AssertionError(f"{name}: expected every run with {key} = {value!r}, got {got}")


def check_fair_race(lstm_by_lr, validation, chosen, chosen_test_recall, race_runs):
    """cmp-fair-race: the LSTM's copying runs at 1e-2 (the race's own, `race_runs`) and 3e-2
    on the same seeds and recipe, each rate's median final validation recall, the rate chosen
    on it (a tie keeps 1e-2) and the median test recall at the chosen rate."""
    import statistics

    rates = (1e-2, 3e-2)
    _same_keys("lstm_by_lr", lstm_by_lr, rates)
    seeds = [r["seed"] for r in race_runs]
    recipe = {key: race_runs[0][key] for key in ("task", "kind", "hidden", "length", "steps",
                                                 "batch", "clip", "eval_every")}
    _check_runs("lstm_by_lr[1e-2]", lstm_by_lr[1e-2], seeds, lr=1e-2, **recipe)
    _check_runs("lstm_by_lr[3e-2]", lstm_by_lr[3e-2], seeds, lr=3e-2, **recipe)
    _same_keys("validation", validation, rates)
    medians = {lr: statistics.median(r["eval_metric"][-1] for r in lstm_by_lr[lr]) for lr in rates}
    for lr in rates:
        _close(f"validation[{lr:g}] (median of the last validation recall)", validation[lr],
               medians[lr])
    best = 3e-2 if medians[3e-2] > medians[1e-2] else 1e-2
    if chosen != best:
        raise AssertionError(f"chosen: expected {best:g}, the rate with the higher median "
                             f"validation recall ({medians}), got {chosen!r}")
    _close("chosen_test_recall (median test recall at the chosen rate)", chosen_test_recall,
           statistics.median(r["test_metric"] for r in lstm_by_lr[best]))


def check_equal_width(counts_at_32, equal_width, equal_width_ratio, seeds, *, baseline,
                      bands=None):
    """cmp-equal-parameters: the layers' parameter counts at h = 32, one adding-problem run per
    seed and model at h = 32 (the GRU's may be the race's own), each model's median test MSE
    over the baseline, and, if `bands` ({model: (low, high)}) is given, that median inside the
    band."""
    import statistics

    from .race import KINDS, layer_parameters

    _same_keys("counts_at_32", counts_at_32, KINDS)
    for kind in KINDS:
        if counts_at_32[kind] != layer_parameters(kind, 2, 32):
            raise AssertionError(f"counts_at_32[{kind!r}]: expected {layer_parameters(kind, 2, 32)}"
                                 f" (d = 2, h = 32), got {counts_at_32[kind]!r}")
    _same_keys("equal_width", equal_width, KINDS)
    _same_keys("equal_width_ratio", equal_width_ratio, KINDS)
    for kind in KINDS:
        _check_runs(f"equal_width[{kind!r}]", equal_width[kind], seeds, task="adding",
                    kind=kind, hidden=32, parameters=layer_parameters(kind, 2, 32))
        median = statistics.median(r["test_loss"] / baseline for r in equal_width[kind])
        _close(f"equal_width_ratio[{kind!r}] (median test MSE / baseline)",
               equal_width_ratio[kind], median)
        if bands and kind in bands and not bands[kind][0] <= median <= bands[kind][1]:
            raise AssertionError(f"equal_width_ratio[{kind!r}] = {median:.3f}: expected between "
                                 f"{bands[kind][0]} and {bands[kind][1]} at this budget")


def check_forget_bias(biases, time_constant, kept_after_49, gru, inputs, update_gate_start,
                      *, seed=0, total_bias=3.0):
    """cmp-forget-bias: (a) time constants (1/(1 - sigma(b)), or exactly -1/ln sigma(b)) and
    sigma(b)^49 for each bias; (b) a GRU drawn from `seed` whose update gate alone got the
    total bias `total_bias` (input side plus hidden side) and the mean update gate at its
    first step on `inputs`."""
    import math

    import torch

    from .diagnostics import gru_trace
    from .gru import GRU

    _same_keys("time_constant", time_constant, biases)
    _same_keys("kept_after_49", kept_after_49, biases)
    for b in biases:
        keep = 1 / (1 + math.exp(-b))
        approximate, exact = 1 / (1 - keep), -1 / math.log(keep)
        got = time_constant[b]
        if not any(abs(got - want) <= 1e-6 * want for want in (approximate, exact)):
            raise AssertionError(f"time_constant[{b:.3g}]: expected 1/(1 - sigma(b)) = "
                                 f"{approximate:.4g} (or exactly -1/ln sigma(b) = {exact:.4g}), "
                                 f"got {got!r}")
        _close(f"kept_after_49[{b:.3g}] (sigma(b)^49)", kept_after_49[b], keep ** 49, 1e-6)
    with torch.random.fork_rng():             # the drawn GRU, without moving the caller's seed
        torch.manual_seed(seed)
        drawn = GRU(gru.input_size, gru.hidden_size, batch_first=gru.batch_first)
    h = gru.hidden_size
    with torch.no_grad():
        for name, value in drawn.named_parameters():
            mine = getattr(gru, name)
            if name.startswith("weight") and not torch.equal(mine, value):
                raise AssertionError(f"{name}: expected the weights as drawn from seed {seed}; "
                                     "only the update gate's biases should change")
        total = gru.bias_ih_l0 + gru.bias_hh_l0
        drawn_total = drawn.bias_ih_l0 + drawn.bias_hh_l0
        update = total[h:2 * h]
        if not torch.allclose(update, torch.full_like(update, total_bias), atol=1e-6):
            raise AssertionError(f"the update gate's total bias (input side plus hidden side): "
                                 f"expected {total_bias} on every unit, got {update.tolist()}")
        others = torch.cat([total[:h], total[2 * h:]])
        if not torch.allclose(others, torch.cat([drawn_total[:h], drawn_total[2 * h:]])):
            raise AssertionError("the reset gate's and the candidate's biases changed: expected "
                                 "only the update gate's rows to change")
        measured = float(gru_trace(gru, inputs).update_gate[:, 0].mean())
    _close("update_gate_start (mean update gate at the first step)", update_gate_start,
           measured, 1e-6)


def check_copy_baseline(memoryless_logits, *, delay, num_symbols, copy_length,
                        memoryless=None, num_sequences=200, seed=0):
    """cmp-copy-baseline: the student's memoryless_logits(num_sequences, delay, num_symbols,
    copy_length) scores copying_baseline on fresh copying data (and `memoryless`, if given,
    is that score on the page's data)."""
    from .race import copying_loss
    from .tasks import copying_baseline, copying_task

    formula = copying_baseline(delay, num_symbols=num_symbols, copy_length=copy_length)
    _, targets = copying_task(num_sequences, delay, num_symbols=num_symbols,
                              copy_length=copy_length, seed=seed)
    logits = memoryless_logits(num_sequences, delay, num_symbols, copy_length)
    shape = (num_sequences, delay + 2 * copy_length, num_symbols + 2)
    if tuple(getattr(logits, "shape", ())) != shape:
        raise AssertionError(f"memoryless_logits{(num_sequences, delay, num_symbols, copy_length)}:"
                             f" expected logits of shape {shape}, got "
                             f"{tuple(getattr(logits, 'shape', ()))}")
    _close(f"the memoryless predictor's cross-entropy (delay {delay}, {num_symbols} symbols, "
           f"{copy_length} copied)", float(copying_loss(logits, targets)), formula, 1e-5)
    if memoryless is not None:
        _close("memoryless", memoryless, formula, 1e-5)


def check_ngram_orders(many_orders, page_orders, *, orders=range(1, 8)):
    """cmp-beat-ngram (a): bits per character of the counted n-grams of every order in
    `orders`, the page's own values where it counted them, falling to a best order and rising
    after it."""
    _same_keys("many_orders", many_orders, orders)
    for order, bits in page_orders.items():
        _close(f"many_orders[{order}]", many_orders[order], bits)
    scores = [many_orders[order] for order in orders]
    best = scores.index(min(scores))
    falls = all(a > b for a, b in zip(scores[:best], scores[1:best + 1]))
    rises = all(a < b for a, b in zip(scores[best:], scores[best + 1:]))
    if not (0 < best < len(scores) - 1 and falls and rises):
        raise AssertionError(f"many_orders: expected scores that fall to a best middle order and "
                             f"rise after it, got {[round(s, 3) for s in scores]}")


def check_temperature(real_share, distinct_share, model, vocab, known_words, *, temperatures,
                      num_samples, seed):
    """cmp-temperature: the shares of dictionary words and of distinct words among
    `num_samples` words drawn with compare.sample_words(..., seed=seed) at each temperature,
    recomputed; the share of real words falls from the lowest temperature through 1 to the
    highest."""
    from .compare import sample_words

    _same_keys("real_share", real_share, temperatures)
    _same_keys("distinct_share", distinct_share, temperatures)
    for temperature in temperatures:
        words = sample_words(model, vocab, num_samples, temperature=temperature, seed=seed)
        _close(f"real_share[{temperature}]", real_share[temperature],
               sum(word in known_words for word in words) / len(words))
        _close(f"distinct_share[{temperature}]", distinct_share[temperature],
               len(set(words)) / len(words))
    low, high = min(temperatures), max(temperatures)
    if not real_share[low] > real_share[1.0] > real_share[high]:
        raise AssertionError(f"real_share: expected it to fall from tau = {low} through 1 to "
                             f"{high}, got {real_share}")


def check_bidirectional_cheats(cheater, cheater_bits, valid, *, vocab_size, hidden,
                               one_way_bits):
    """cmp-bidirectional-cheats: `cheater` (a race.run_language_model result) is a seed-0
    bidirectional GRU whose weights score `cheater_bits` on `valid`, far below (less than half
    of) every one-directional GRU in `one_way_bits`."""
    import torch

    from .metrics import bits_per_character
    from .race import build_language_model

    if cheater.get("kind") != "GRU" or cheater.get("seed") != 0:
        raise AssertionError(f"cheater: expected the seed-0 GRU, got kind {cheater.get('kind')!r},"
                             f" seed {cheater.get('seed')!r}")
    with torch.random.fork_rng():             # it seeds the global generator: keep the caller's
        model = build_language_model("GRU", vocab_size, hidden, bidirectional=True)
    try:
        model.load_state_dict(cheater["state_dict"])
    except RuntimeError as error:
        raise AssertionError("cheater['state_dict']: expected the weights of a bidirectional GRU "
                             f"of width {hidden}: {str(error).splitlines()[0]}") from None
    _close("cheater_bits (the trained model's validation bits per character)", cheater_bits,
           bits_per_character(model, valid), 1e-4)
    if not cheater_bits < 0.5 * min(one_way_bits):
        raise AssertionError(f"cheater_bits = {cheater_bits:.3f}: expected far below the "
                             f"one-directional GRU's {min(one_way_bits):.3f} (less than half)")


# --- questions -----------------------------------------------------------------------------------
