"""Every cell against the book's equations (tests/book_equations.py): one step forward, one step
backward, and the BPTT loop of gatedrnn.bptt on both paths, with autograd and gradcheck."""
from functools import partial

import pytest
import torch

import book_equations as book
from gatedrnn import bptt, gru, lstm, rnn

DOUBLE = torch.float64

# name: (step_forward, step_backward, gate blocks, state tensors, the book's step)
CELLS = {
    "rnn-tanh": (partial(rnn.step_forward, nonlinearity="tanh"), rnn.step_backward, 1, 1,
                 partial(book.rnn_step, phi=torch.tanh)),
    "rnn-relu": (partial(rnn.step_forward, nonlinearity="relu"), rnn.step_backward, 1, 1,
                 partial(book.rnn_step, phi=torch.relu)),
    "rnn-identity": (partial(rnn.step_forward, nonlinearity="identity"), rnn.step_backward, 1, 1,
                     partial(book.rnn_step, phi=lambda a: a)),
    "gru": (gru.step_forward, gru.step_backward, 3, 1, book.gru_step),
    "gru-reset-before": (gru.step_forward_reset_before, gru.step_backward_reset_before, 3, 1,
                         partial(book.gru_step, reset_after=False)),
    "lstm": (lstm.step_forward, lstm.step_backward, 4, 2, book.lstm_step),
}


def _problem(name, steps=5, n=3, d=2, h=4, seed=0):
    """Random x (T, n, d), a state (a tensor or the LSTM's pair) and torch-layout weights."""
    _, _, blocks, state_count, _ = CELLS[name]
    generator = torch.Generator().manual_seed(seed)

    def draw(*shape, scale=1.0):
        return (scale * torch.randn(*shape, generator=generator, dtype=DOUBLE)).requires_grad_()

    x = draw(steps, n, d)
    state = tuple(draw(n, h) for _ in range(state_count))
    weights = [draw(blocks * h, d, scale=0.6), draw(blocks * h, h, scale=0.6),
               draw(blocks * h), draw(blocks * h)]
    return x, state, weights


def _cell_state(state):
    return state if len(state) > 1 else state[0]


@pytest.mark.parametrize("name", CELLS)
def test_step_forward_is_the_book_step(name):
    step_forward, _, _, _, book_step = CELLS[name]
    x, state, (weight_ih, weight_hh, bias_ih, bias_hh) = _problem(name)
    gates_x = x[0] @ weight_ih.t() + bias_ih
    got, _ = step_forward(gates_x, _cell_state(state), weight_hh, bias_hh)
    want = book_step(x[0], _cell_state(state), (weight_ih, weight_hh, bias_ih, bias_hh))
    for g, w in zip(bptt._parts(got), bptt._parts(want)):
        torch.testing.assert_close(g, w, atol=1e-14, rtol=0)


@pytest.mark.parametrize("name", CELLS)
def test_step_backward_matches_autograd(name):
    """Every output of step_backward: dgates_x, the state's gradient, dweight_hh, dbias_hh."""
    step_forward, step_backward, _, _, _ = CELLS[name]
    x, state, (weight_ih, weight_hh, bias_ih, bias_hh) = _problem(name, seed=1)
    gates_x = (x[0] @ weight_ih.t() + bias_ih).detach().requires_grad_()
    new_state, cache = step_forward(gates_x, _cell_state(state), weight_hh, bias_hh)
    upstream = [torch.randn_like(part) for part in bptt._parts(new_state)]
    want = torch.autograd.grad(bptt._parts(new_state), [gates_x, *state, weight_hh, bias_hh],
                               upstream)
    dgates_x, dstate, dweight_hh, dbias_hh = step_backward(_cell_state(tuple(upstream)), cache)
    got = [dgates_x, *bptt._parts(dstate), dweight_hh, dbias_hh]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-12, rtol=0)


@pytest.mark.parametrize("path", ["autograd", "manual"])
@pytest.mark.parametrize("name", CELLS)
def test_bptt_loop_matches_the_book(name, path):
    """run_sequence (autograd) and ManualBPTT (sequence_backward) against autograd through the
    book's loop: outputs, every final state tensor, and the gradient of every input, with a
    loss on every output and on every final state tensor."""
    step_forward, step_backward, _, _, book_step = CELLS[name]
    x, state, weights = _problem(name, seed=2)
    if path == "manual":
        output, *last = bptt.ManualBPTT.apply(step_forward, step_backward, x, *weights, *state)
    else:
        output, last, _ = bptt.run_sequence(step_forward, x, _cell_state(state), *weights)
        last = bptt._parts(last)
    want_output, want_last = book.run(book_step, x, _cell_state(state), weights)
    want_last = bptt._parts(want_last)
    torch.testing.assert_close(output, want_output, atol=1e-13, rtol=0)
    for g, w in zip(last, want_last):
        torch.testing.assert_close(g, w, atol=1e-13, rtol=0)

    def loss(output, last):
        # weights that differ per entry, so that a swapped or transposed gradient shows
        weight = torch.linspace(-1, 2, output.numel(), dtype=DOUBLE).reshape(output.shape)
        return (weight * output).sum() + sum((k + 2) * part.sum() for k, part in enumerate(last))

    inputs = [x, *weights, *state]
    got = torch.autograd.grad(loss(output, last), inputs)
    want = torch.autograd.grad(loss(want_output, want_last), inputs)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", CELLS)
def test_manual_path_passes_gradcheck(name):
    step_forward, step_backward, _, _, _ = CELLS[name]
    x, state, weights = _problem(name, steps=3, n=2, d=2, h=3, seed=3)

    def manual(*tensors):
        return bptt.ManualBPTT.apply(step_forward, step_backward, *tensors)

    assert torch.autograd.gradcheck(manual, (x, *weights, *state))


def test_manual_path_skips_the_input_gradient_when_nothing_needs_it():
    step_forward, step_backward, _, _, _ = CELLS["gru"]
    x, state, weights = _problem("gru")
    x = x.detach()
    output, _ = bptt.ManualBPTT.apply(step_forward, step_backward, x, *weights, *state)
    output.sum().backward()
    assert x.grad is None and all(w.grad is not None for w in weights)
