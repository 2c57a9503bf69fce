"""The fast twin (bptt.FusedBPTT with each model's fused step pair) against the teaching path
(bptt.ManualBPTT with step_forward/step_backward) and the book's equations: the same outputs
and every gradient, to float rounding; and the layers train with it where it exists."""
from functools import partial

import pytest
import torch

import book_equations as book
import gatedrnn
from gatedrnn import bptt, gru, lstm, rnn
from test_cells import CELLS, _cell_state, _problem

# name: (fused_step_forward, fused_step_backward), for the cells of test_cells that have one
FUSED = {
    "rnn-tanh": (partial(rnn.fused_step_forward, nonlinearity="tanh"), rnn.fused_step_backward),
    "rnn-relu": (partial(rnn.fused_step_forward, nonlinearity="relu"), rnn.fused_step_backward),
    "rnn-identity": (partial(rnn.fused_step_forward, nonlinearity="identity"),
                     rnn.fused_step_backward),
    "gru": (gru.fused_step_forward, gru.fused_step_backward),
    "lstm": (lstm.fused_step_forward, lstm.fused_step_backward),
}
TOLERANCE = {torch.float32: dict(atol=1e-5, rtol=1e-5), torch.float64: dict(atol=1e-12, rtol=0)}


def _loss(output, last):
    """Weights that differ per entry, so that a swapped or transposed gradient shows."""
    weight = torch.linspace(-1, 2, output.numel(), dtype=output.dtype).reshape(output.shape)
    return (weight * output).sum() + sum((k + 2) * part.sum() for k, part in enumerate(last))


def _run(function, pair, x, state, weights):
    output, *last = function.apply(*pair, x, *weights, *state)
    inputs = [x, *weights, *state]
    return [output, *last, *torch.autograd.grad(_loss(output, last), inputs)]


@pytest.mark.parametrize("steps", [1, 7])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", FUSED)
def test_fused_path_gives_the_teaching_paths_numbers(name, dtype, steps):
    """Outputs, final states and the gradient of x, every weight and bias, and the initial
    state, with a loss on every output and every final state tensor."""
    x, state, weights = _problem(name, steps=steps, n=3, d=2, h=5, seed=4)
    x, *rest = (t.detach().to(dtype).requires_grad_() for t in (x, *state, *weights))
    state, weights = rest[:len(state)], rest[len(state):]
    step_forward, step_backward = CELLS[name][:2]
    want = _run(bptt.ManualBPTT, (step_forward, step_backward), x, state, weights)
    got = _run(bptt.FusedBPTT, FUSED[name], x, state, weights)
    assert len(got) == len(want) == 1 + len(state) + 1 + 4 + len(state)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, **TOLERANCE[dtype])


@pytest.mark.parametrize("name", FUSED)
def test_fused_path_matches_the_book(name):
    """The fused forward against the book's loop written independently of gatedrnn."""
    x, state, weights = _problem(name, seed=5)
    output, *last = bptt.FusedBPTT.apply(*FUSED[name], x, *weights, *state)
    want_output, want_last = book.run(CELLS[name][4], x, _cell_state(state), weights)
    torch.testing.assert_close(output, want_output, atol=1e-13, rtol=0)
    for g, w in zip(last, bptt._parts(want_last)):
        torch.testing.assert_close(g, w, atol=1e-13, rtol=0)


@pytest.mark.parametrize("name", FUSED)
def test_fused_path_passes_gradcheck(name):
    x, state, weights = _problem(name, steps=3, n=2, d=2, h=3, seed=6)

    def fused(*tensors):
        return bptt.FusedBPTT.apply(*FUSED[name], *tensors)

    assert torch.autograd.gradcheck(fused, (x, *weights, *state))


def test_fused_path_skips_the_input_gradient_when_nothing_needs_it():
    x, state, weights = _problem("lstm")
    x = x.detach()
    output, *_ = bptt.FusedBPTT.apply(*FUSED["lstm"], x, *weights, *state)
    output.sum().backward()
    assert x.grad is None and all(w.grad is not None for w in weights)


@pytest.mark.parametrize("layer, function", [
    (gatedrnn.RNN(2, 3, bptt="manual"), "FusedBPTT"),
    (gatedrnn.RNN(2, 3, nonlinearity="relu", bptt="manual"), "FusedBPTT"),
    (gatedrnn.GRU(2, 3, bptt="manual"), "FusedBPTT"),
    (gatedrnn.LSTM(2, 3, bptt="manual"), "FusedBPTT"),
    (gatedrnn.GRU(2, 3, reset_after=False, bptt="manual"), "ManualBPTT"),  # no fused twin
], ids=["rnn-tanh", "rnn-relu", "gru", "lstm", "gru-reset-before"])
def test_manual_layers_train_with_the_fused_twin_where_there_is_one(layer, function):
    output, _ = layer(torch.randn(4, 2, 2))
    assert type(output.grad_fn).__name__ == function + "Backward"


def test_changing_the_output_in_place_fails_loudly():
    """The fused backward reads H_t from the output it returned: changing that in place must
    raise an error in backward, never give silently wrong gradients."""
    layer = gatedrnn.GRU(2, 3, bptt="manual")
    output, _ = layer(torch.randn(4, 2, 2))
    loss = output.sum()
    output.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


@pytest.mark.parametrize("reset_after, function", [(True, "FusedBPTT"), (False, "ManualBPTT")])
def test_changing_a_weight_in_place_before_backward_fails_loudly(reset_after, function):
    """Both hand-derived backward passes use W_hh: an optimizer step (or any in-place edit)
    between forward and backward must raise, never give gradients of another matrix."""
    layer = gatedrnn.GRU(2, 3, reset_after=reset_after, bptt="manual")
    output, _ = layer(torch.randn(4, 2, 2))
    assert type(output.grad_fn).__name__ == function + "Backward"
    loss = output.sum()
    with torch.no_grad():
        layer.weight_hh_l0.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 3e-7), (torch.float64, 1e-15)])
def test_tanh_in_place_is_tanh(dtype, tolerance):
    a = torch.cat([torch.linspace(-30, 30, 10001, dtype=dtype),
                   torch.tensor([0.0, 1e-30, -1e-8, 500.0, -500.0], dtype=dtype)])
    want = torch.tanh(a)
    got = bptt.tanh_(a)
    assert got.data_ptr() == a.data_ptr()
    torch.testing.assert_close(got, want, atol=tolerance, rtol=0)
    assert got.abs().max() <= 1
