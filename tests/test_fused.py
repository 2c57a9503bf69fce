"""The fast twin (bptt.FusedBPTT with the RNN's and the GRU's fused step pairs, and the LSTM's
own lstm.FusedLSTM) against the teaching path (bptt.ManualBPTT with step_forward/step_backward)
and the book's equations: the same outputs and every gradient, to float rounding; and the layers
train with it where it exists."""
from functools import partial

import pytest
import torch

import book_equations as book
import gatedrnn
from gatedrnn import bptt, gru, lstm, rnn
from test_cells import CELLS, _cell_state, _problem


def _fused_bptt(step_forward, step_backward):
    return partial(bptt.FusedBPTT.apply, step_forward, step_backward)


# name: fused(x, *weights, *state) -> (output, *last), for the cells of test_cells that have one
FUSED = {
    "rnn-tanh": _fused_bptt(partial(rnn.fused_step_forward, nonlinearity="tanh"),
                            rnn.fused_step_backward),
    "rnn-relu": _fused_bptt(partial(rnn.fused_step_forward, nonlinearity="relu"),
                            rnn.fused_step_backward),
    "rnn-identity": _fused_bptt(partial(rnn.fused_step_forward, nonlinearity="identity"),
                                rnn.fused_step_backward),
    "gru": _fused_bptt(gru.fused_step_forward, gru.fused_step_backward),
    "lstm": lstm.FusedLSTM.apply,
}
TOLERANCE = {torch.float32: dict(atol=1e-5, rtol=1e-5), torch.float64: dict(atol=1e-12, rtol=0)}


def _loss(output, last):
    """Weights that differ per entry, so that a swapped or transposed gradient shows."""
    weight = torch.linspace(-1, 2, output.numel(), dtype=output.dtype).reshape(output.shape)
    return (weight * output).sum() + sum((k + 2) * part.sum() for k, part in enumerate(last))


def _run(function, x, state, weights):
    output, *last = function(x, *weights, *state)
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
    want = _run(partial(bptt.ManualBPTT.apply, step_forward, step_backward), x, state, weights)
    got = _run(FUSED[name], x, state, weights)
    assert len(got) == len(want) == 1 + len(state) + 1 + 4 + len(state)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, **TOLERANCE[dtype])


@pytest.mark.parametrize("name", FUSED)
def test_fused_path_matches_the_book(name):
    """The fused forward against the book's loop written independently of gatedrnn."""
    x, state, weights = _problem(name, seed=5)
    output, *last = FUSED[name](x, *weights, *state)
    want_output, want_last = book.run(CELLS[name][4], x, _cell_state(state), weights)
    torch.testing.assert_close(output, want_output, atol=1e-13, rtol=0)
    for g, w in zip(last, bptt._parts(want_last)):
        torch.testing.assert_close(g, w, atol=1e-13, rtol=0)


@pytest.mark.parametrize("name", FUSED)
def test_fused_path_passes_gradcheck(name):
    x, state, weights = _problem(name, steps=3, n=2, d=2, h=3, seed=6)

    assert torch.autograd.gradcheck(FUSED[name], (x, *weights, *state))


def test_fused_path_skips_the_input_gradient_when_nothing_needs_it():
    x, state, weights = _problem("lstm")
    x = x.detach()
    output, *_ = FUSED["lstm"](x, *weights, *state)
    output.sum().backward()
    assert x.grad is None and all(w.grad is not None for w in weights)


@pytest.mark.parametrize("layer, function", [
    (gatedrnn.RNN(2, 3, bptt="manual"), "FusedBPTT"),
    (gatedrnn.RNN(2, 3, nonlinearity="relu", bptt="manual"), "FusedBPTT"),
    (gatedrnn.GRU(2, 3, bptt="manual"), "FusedBPTT"),
    (gatedrnn.LSTM(2, 3, bptt="manual"), "FusedLSTM"),
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


@pytest.mark.parametrize("steps", [21, 40])
def test_fused_lstm_at_a_size_where_its_products_go_to_onednn(steps):
    """float32 at the benchmark's width, where `bptt.linear` sends the products to oneDNN (if
    this PyTorch has it), over more than one block of steps, against the teaching path."""
    x, state, weights = _problem("lstm", steps=steps, n=64, d=32, h=128, seed=7)
    x, *rest = (t.detach().float().mul(0.5).requires_grad_() for t in (x, *state, *weights))
    state, weights = rest[:2], rest[2:]
    assert x.shape[1] * weights[1].numel() >= bptt.ONEDNN_MIN_PRODUCTS
    want = _run(partial(bptt.ManualBPTT.apply, lstm.step_forward, lstm.step_backward), x, state,
                weights)
    got = _run(FUSED["lstm"], x, state, weights)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-4 * w.abs().max().item(), rtol=1e-4)


@pytest.mark.filterwarnings("ignore:TF32 acceleration")   # a GPU-only note from mkldnn.flags
@pytest.mark.parametrize("rows, dtype", [(3, torch.float32), (5000, torch.float32),
                                         (5000, torch.float64)])
def test_linear_is_the_matrix_product(rows, dtype):
    """bptt.linear, with and without its bias and added term, on both sides of the size at
    which it calls oneDNN; with oneDNN switched off it is torch.matmul's result exactly."""
    generator = torch.Generator().manual_seed(8)
    X, weight = (torch.randn(*shape, generator=generator, dtype=dtype)
                 for shape in ((rows, 64), (512, 64)))
    bias, add = torch.randn(512, dtype=dtype), torch.randn(rows, 512, dtype=dtype)
    want = X @ weight.t()
    tolerance = dict(atol=1e-4, rtol=1e-5) if dtype == torch.float32 else {}
    torch.testing.assert_close(bptt.linear(X, weight), want, **tolerance)
    torch.testing.assert_close(bptt.linear(X, weight, bias, add=add), want + bias + add,
                               **tolerance)
    torch.testing.assert_close(bptt.linear(X, weight.t().contiguous().t()), want, **tolerance)
    with torch.backends.mkldnn.flags(enabled=False):
        assert torch.equal(bptt.linear(X, weight), want)


def test_fused_lstm_backward_can_run_twice():
    """retain_graph: a second backward through the same graph gives the same gradients (the
    backward writes only into tensors of its own)."""
    x, state, weights = _problem("lstm", steps=25, n=3, d=2, h=4, seed=9)
    output, *last = FUSED["lstm"](x, *weights, *state)
    loss = _loss(output, last)
    first = torch.autograd.grad(loss, [x, *weights, *state], retain_graph=True)
    second = torch.autograd.grad(loss, [x, *weights, *state])
    assert all(torch.equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_gradients_outlive_the_next_backward_pass(kind):
    """The fast twin keeps its backward's large intermediates for the next call: the gradients
    it returned must be tensors of their own, untouched by the next backward pass."""
    torch.manual_seed(10)
    layers = [getattr(gatedrnn, kind)(3, 5, bptt="manual") for _ in range(2)]
    x = torch.randn(6, 2, 3, requires_grad=True)
    layers[0](x)[0].pow(2).sum().backward()
    first = [x.grad.clone()] + [p.grad.clone() for p in layers[0].parameters()]
    first_refs = [x.grad] + [p.grad for p in layers[0].parameters()]
    layers[1](x.detach().flip(0))[0].sum().backward()
    assert all(torch.equal(a, b) for a, b in zip(first, first_refs))
