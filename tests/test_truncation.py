"""Truncated BPTT: forward values untouched, regular cuts stop the gradient, randomized
truncation is unbiased (checked exactly, by enumerating every cut pattern)."""
import itertools

import pytest
import torch

import gatedrnn
from gatedrnn.truncation import TruncatedBPTT, run_truncated, scale_gradient, truncation_factors


def _layer(seed=0, cls=gatedrnn.RNN):
    torch.manual_seed(seed)
    return cls(2, 3, batch_first=True, dtype=torch.float64)


def _loss_and_grads(layer, x, factors):
    output, _ = run_truncated(layer, x, factors)
    loss = (output[:, -1] ** 2).sum()  # a loss on the last step only: it must reach back
    grads = torch.autograd.grad(loss, list(layer.parameters()))
    return loss, grads


def test_scale_gradient_scales_only_the_gradient():
    state = torch.tensor([1.0, -2.0], requires_grad=True)
    scaled = scale_gradient(state, 0.25)
    assert torch.equal(scaled, state)
    scaled.sum().backward()
    torch.testing.assert_close(state.grad, torch.full((2,), 0.25))
    assert not scale_gradient(state, 0).requires_grad
    h, c = scale_gradient((state, state * 2), 0)
    assert not h.requires_grad and not c.requires_grad


@pytest.mark.parametrize("cls", [gatedrnn.RNN, gatedrnn.GRU, gatedrnn.LSTM])
def test_forward_values_are_those_of_the_layer(cls):
    layer = _layer(cls=cls)
    x = torch.randn(2, 9, 2, dtype=torch.float64)
    factors = truncation_factors(9, cut_probability=0.4, generator=3)
    assert 0.0 in factors  # the check below must cross at least one cut
    output, state = run_truncated(layer, x, factors)
    want_output, want_state = layer(x)
    torch.testing.assert_close(output, want_output)
    for got, want in zip(state if isinstance(state, tuple) else (state,),
                         want_state if isinstance(want_state, tuple) else (want_state,)):
        torch.testing.assert_close(got, want)


def test_regular_truncation_stops_the_gradient_at_the_cut():
    layer = _layer()
    x = torch.randn(2, 8, 2, dtype=torch.float64, requires_grad=True)
    output, _ = run_truncated(layer, x, truncation_factors(8, every=4))
    output[:, -1].sum().backward()
    # The loss at step 8 sees steps 5..8 only; inputs 1..4 lie behind the cut after step 4.
    assert torch.all(x.grad[:, :4] == 0)
    assert torch.all(x.grad[:, 4:].abs().sum(dim=2) > 0)


def test_full_factors_give_the_full_gradient():
    layer = _layer(1)
    x = torch.randn(3, 6, 2, dtype=torch.float64)
    _, truncated = _loss_and_grads(layer, x, truncation_factors(6))
    full = torch.autograd.grad((layer(x)[0][:, -1] ** 2).sum(), list(layer.parameters()))
    for got, want in zip(truncated, full):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("cut_probability", [0.25, 0.6])
def test_randomized_truncation_is_unbiased(cut_probability):
    """E[gradient] over all 2^(T-1) cut patterns, weighted by their probabilities, is the full
    BPTT gradient (Tallec & Ollivier 2017). The factor after the last step never matters."""
    layer = _layer(2)
    steps = 5
    x = torch.randn(2, steps, 2, dtype=torch.float64)
    full = torch.autograd.grad((layer(x)[0][:, -1] ** 2).sum(), list(layer.parameters()))
    keep = 1 / (1 - cut_probability)
    expected = [torch.zeros_like(g) for g in full]
    for pattern in itertools.product([0.0, keep], repeat=steps - 1):
        probability = 1.0
        for factor in pattern:
            probability *= cut_probability if factor == 0 else 1 - cut_probability
        _, grads = _loss_and_grads(layer, x, list(pattern) + [1.0])
        for total, g in zip(expected, grads):
            total += probability * g
    for got, want in zip(expected, full):
        torch.testing.assert_close(got, want)
    # ...while a single draw is biased: the cut patterns differ from the full gradient.
    _, one = _loss_and_grads(layer, x, [0.0] * (steps - 1) + [1.0])
    assert not torch.allclose(one[1], full[1])


def test_randomized_factors_cut_at_the_asked_rate():
    factors = truncation_factors(20000, cut_probability=0.3, generator=0)
    cuts = sum(f == 0 for f in factors) / len(factors)
    assert abs(cuts - 0.3) < 0.02
    assert set(factors) == {0.0, 1 / 0.7}
    assert factors == truncation_factors(20000, cut_probability=0.3, generator=0)


def test_truncated_module_trains_like_a_layer_and_evaluates_as_one():
    layer = _layer(3)
    wrapped = TruncatedBPTT(layer, every=3)
    model = gatedrnn.SequenceModel(wrapped, 1).double()
    x = torch.randn(4, 7, 2, dtype=torch.float64)
    model.train()
    train_output = model(x)
    model.eval()
    torch.testing.assert_close(train_output, model(x))
    assert wrapped.hidden_size == 3 and wrapped.input_size == 2


def test_truncated_module_truncates_the_gradient_in_training_mode():
    """every=3 over 7 steps: a loss on the last step sends no gradient to the inputs of steps
    1..6 (cuts after steps 3 and 6), in training mode; in eval mode it reaches all of them."""
    wrapped = TruncatedBPTT(_layer(3), every=3)
    x = torch.randn(2, 7, 2, dtype=torch.float64, requires_grad=True)
    for training, reached in ((True, [6]), (False, list(range(7)))):
        wrapped.train(training)
        (grad,) = torch.autograd.grad(wrapped(x)[0][:, -1].sum(), x)
        assert [t for t in range(7) if grad[:, t].abs().sum() > 0] == reached


@pytest.mark.parametrize("call, error, fragment", [
    (lambda: truncation_factors(0), ValueError, "steps must be >= 1, got 0"),
    (lambda: truncation_factors(True), TypeError, "steps must be an int, got bool"),
    (lambda: truncation_factors(5, every=0), ValueError, "every must be >= 1"),
    (lambda: truncation_factors(5, every=2.0), TypeError, "every must be an int"),
    (lambda: truncation_factors(5, cut_probability=1.0), ValueError, r"in \(0, 1\)"),
    (lambda: truncation_factors(5, every=2, cut_probability=0.5), ValueError, "not both"),
    (lambda: run_truncated(_layer(), torch.zeros(1, 4, 2, dtype=torch.float64), [1.0] * 3),
     ValueError, "the input has 4 steps, got 3 factors"),
    (lambda: TruncatedBPTT(gatedrnn.RNN(2, 3), every=2), ValueError, "batch_first=True"),
])
def test_bad_options(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()
