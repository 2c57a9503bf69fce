"""gatedrnn.GRU against torch.nn.GRU: outputs, states and every gradient; gradcheck; bad input."""
import inspect
import io
import tokenize

import pytest
import torch

import gatedrnn
from gatedrnn import gru

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}

# (num_layers, bidirectional, batch_first, given hx, bias)
CONFIGS = [
    (1, False, False, False, True),
    (1, False, True, True, True),
    (2, False, False, True, True),
    (1, True, False, False, True),
    (2, True, True, True, True),
    (2, True, False, False, False),
]


def _pair(config, dtype, bptt, seed):
    num_layers, bidirectional, batch_first, given_hx, bias = config
    generator = torch.Generator().manual_seed(seed)
    sizes = torch.randint(1, 7, (4,), generator=generator).tolist()
    input_size, hidden_size, batch, steps = sizes[0], sizes[1] + 1, sizes[2], sizes[3] + 1
    torch.manual_seed(seed)
    reference = torch.nn.GRU(input_size, hidden_size, num_layers, bias=bias,
                             batch_first=batch_first, bidirectional=bidirectional, dtype=dtype)
    ours = gatedrnn.GRU(input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
                        bidirectional=bidirectional, bptt=bptt, dtype=dtype)
    ours.load_state_dict(reference.state_dict())
    shape = (batch, steps, input_size) if batch_first else (steps, batch, input_size)
    x = torch.randn(shape, dtype=dtype, generator=generator)
    directions = 2 if bidirectional else 1
    hx = (torch.randn(num_layers * directions, batch, hidden_size, dtype=dtype,
                      generator=generator) if given_hx else None)
    return reference, ours, x, hx


def _run(model, x, hx):
    """Outputs, final state and the gradient of every parameter, of x and of hx."""
    x = x.clone().requires_grad_(True)
    hx = None if hx is None else hx.clone().requires_grad_(True)
    output, h_n = model(x, hx)
    # Weights make the loss depend on every entry differently, so a swapped entry shows up.
    weights = torch.linspace(-1, 1, output.numel(), dtype=x.dtype).reshape(output.shape)
    loss = (output * weights).sum() + (h_n ** 2).sum()
    inputs = [x] + ([] if hx is None else [hx]) + list(model.parameters())
    return [output, h_n, *torch.autograd.grad(loss, inputs)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("bptt", ["autograd", "manual"])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "L{}-bi{:d}-bf{:d}-hx{:d}-bias{:d}".format(*c))
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_torch_gru(config, dtype, bptt, seed):
    reference, ours, x, hx = _pair(config, dtype, bptt, seed)
    expected, got = _run(reference, x, hx), _run(ours, x, hx)
    assert len(expected) == len(got)
    for e, g in zip(expected, got):
        assert e.shape == g.shape
        torch.testing.assert_close(g, e, atol=TOLERANCE[dtype], rtol=0)


@pytest.mark.parametrize("bptt", ["autograd", "manual"])
def test_unbatched_input_matches_torch(bptt):
    torch.manual_seed(0)
    reference = torch.nn.GRU(3, 5, num_layers=2)
    ours = gatedrnn.GRU(3, 5, num_layers=2, bptt=bptt)
    ours.load_state_dict(reference.state_dict())
    x, hx = torch.randn(7, 3), torch.randn(2, 5)
    for e, g in zip(reference(x, hx), ours(x, hx)):
        assert e.shape == g.shape
        torch.testing.assert_close(g, e, atol=1e-5, rtol=0)


def test_state_dict_moves_both_ways():
    ours = gatedrnn.GRU(4, 6, num_layers=2, bidirectional=True)
    reference = torch.nn.GRU(4, 6, num_layers=2, bidirectional=True)
    reference.load_state_dict(ours.state_dict())
    assert list(ours.state_dict()) == list(reference.state_dict())
    for (name, p), (_, q) in zip(ours.named_parameters(), reference.named_parameters()):
        assert p.shape == q.shape and torch.equal(p, q), name


def test_parameter_count_matches_formula():
    for d, h in [(100, 100), (32, 128)]:
        count = sum(p.numel() for p in gatedrnn.GRU(d, h).parameters())
        assert count == 3 * (d * h + h * h + 2 * h)
    assert sum(p.numel() for p in gatedrnn.GRU(100, 100).parameters()) == 60_600


def test_reset_before_is_a_different_cell():
    """reset_after=False must not agree with torch.nn.GRU: the placement of R_t matters."""
    torch.manual_seed(0)
    reference = torch.nn.GRU(3, 4)
    ours = gatedrnn.GRU(3, 4, reset_after=False)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(6, 2, 3)
    assert (ours(x)[0] - reference(x)[0]).abs().max() > 1e-3


def _reset_before_reference(x, h0, weight_ih, weight_hh, bias_ih, bias_hh):
    """(G1), (G2), (G3'), (G4) written independently of gru.py, with the book's matrices."""
    h = h0.shape[1]
    W_xr, W_xz, W_xh = weight_ih.t().split(h, dim=1)
    W_hr, W_hz, W_hh = weight_hh.t().split(h, dim=1)
    b_xr, b_xz, b_xh = bias_ih.split(h)
    b_hr, b_hz, b_hh = bias_hh.split(h)
    H, outputs = h0, []
    for X in x:
        R = torch.sigmoid(X @ W_xr + b_xr + H @ W_hr + b_hr)
        Z = torch.sigmoid(X @ W_xz + b_xz + H @ W_hz + b_hz)
        candidate = torch.tanh(X @ W_xh + b_xh + (R * H) @ W_hh + b_hh)
        H = Z * H + (1 - Z) * candidate
        outputs.append(H)
    return torch.stack(outputs)


@pytest.mark.parametrize("bptt", ["autograd", "manual"])
def test_reset_before_matches_its_equations(bptt):
    torch.manual_seed(1)
    ours = gatedrnn.GRU(3, 4, reset_after=False, bptt=bptt, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64)
    output, _ = ours(x, h0)
    expected = _reset_before_reference(x, h0[0], *ours.layer_weights(0))
    torch.testing.assert_close(output, expected, atol=1e-12, rtol=0)
    got = torch.autograd.grad(output.sum(), [x, *ours.parameters()])
    want = torch.autograd.grad(expected.sum(), [x, *ours.parameters()])
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-12, rtol=0)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gradcheck_manual_path(reset_after):
    torch.manual_seed(0)
    steps, batch, d, h = 4, 2, 3, 3
    x = torch.randn(steps, batch, d, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(batch, h, dtype=torch.float64, requires_grad=True)
    weights = [torch.randn(3 * h, d, dtype=torch.float64, requires_grad=True) * 0.5,
               torch.randn(3 * h, h, dtype=torch.float64, requires_grad=True) * 0.5,
               torch.randn(3 * h, dtype=torch.float64, requires_grad=True),
               torch.randn(3 * h, dtype=torch.float64, requires_grad=True)]
    weights = [w.detach().requires_grad_(True) for w in weights]

    def manual(*args):
        return gru.GRUFunction.apply(*args, reset_after)

    assert torch.autograd.gradcheck(manual, (x, h0, *weights))


@pytest.mark.parametrize("reset_after", [True, False])
def test_step_backward_matches_autograd(reset_after):
    torch.manual_seed(0)
    n, h = 3, 4
    gates_x = torch.randn(n, 3 * h, dtype=torch.float64, requires_grad=True)
    h_prev = torch.randn(n, h, dtype=torch.float64, requires_grad=True)
    weight_hh = torch.randn(3 * h, h, dtype=torch.float64, requires_grad=True)
    bias_hh = torch.randn(3 * h, dtype=torch.float64, requires_grad=True)
    h_next, cache = gru.step_forward(gates_x, h_prev, weight_hh, bias_hh, reset_after)
    dh_next = torch.randn(n, h, dtype=torch.float64)
    want_gx, want_h, want_w, want_b = torch.autograd.grad(h_next, [gates_x, h_prev, weight_hh, bias_hh],
                                                          dh_next)
    dgates_x, dh_prev, dgates_h = gru.step_backward(dh_next, cache)
    torch.testing.assert_close(dgates_x, want_gx)
    torch.testing.assert_close(dh_prev, want_h)
    torch.testing.assert_close(dgates_h.sum(0), want_b)
    # dW_hh = dgates_h^T [H_{t-1} | H_{t-1} | candidate_input] block by block
    dweight_hh = torch.cat([dgates_h[:, :2 * h].t() @ h_prev,
                            dgates_h[:, 2 * h:].t() @ cache.candidate_input])
    torch.testing.assert_close(dweight_hh, want_w)


def test_manual_path_trains_like_autograd():
    """Two Adam steps with each path from the same start land on the same weights."""
    results = []
    for bptt in ("autograd", "manual"):
        torch.manual_seed(0)
        model = gatedrnn.GRU(2, 5, num_layers=2, batch_first=True, bptt=bptt)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
        x = torch.randn(4, 6, 2)
        for _ in range(2):
            optimizer.zero_grad()
            model(x)[0].pow(2).mean().backward()
            optimizer.step()
        results.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    torch.testing.assert_close(results[0], results[1], atol=1e-5, rtol=0)


def _code_without_text(module):
    """The module's source with its strings and comments removed: only what runs."""
    tokens = tokenize.generate_tokens(io.StringIO(inspect.getsource(module)).readline)
    return " ".join(t.string for t in tokens if t.type not in (tokenize.STRING, tokenize.COMMENT))


def test_no_torch_rnn_kernels_inside():
    code = _code_without_text(gru) + _code_without_text(gatedrnn._recurrent)
    assert "addmm" in code  # the check sees the code
    # Tokens are joined by spaces, so torch.nn.GRU reads "torch . nn . GRU" here.
    for forbidden in ("nn . GRU", "GRUCell", "_VF", "gru_cell", "torch . gru", "rnn_tanh", "_thnn"):
        assert forbidden not in code, forbidden


# ---------------------------------------------------------------------------- bad input
def _error(excinfo_type, call, *fragments):
    with pytest.raises(excinfo_type) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_bad_input_gets_clear_errors():
    model = gatedrnn.GRU(3, 4, num_layers=2)
    _error(ValueError, lambda: model(torch.randn(5, 2, 7)), "3 features", "got 7", "(5, 2, 7)")
    _error(ValueError, lambda: model(torch.randn(5, 2, 3, 1)), "rank 4", "(5, 2, 3, 1)")
    _error(ValueError, lambda: model(torch.randn(3)), "rank 1")
    _error(ValueError, lambda: model(torch.randn(5, 2, 3), torch.randn(1, 2, 4)),
           "(2, 2, 4)", "(1, 2, 4)")
    _error(ValueError, lambda: model(torch.randn(5, 2, 3), torch.randn(2, 3, 4)), "(2, 2, 4)")
    _error(ValueError, lambda: model(torch.randn(0, 2, 3)), "length >= 1")
    _error(TypeError, lambda: model(torch.randint(0, 5, (5, 2, 3))), "floating-point", "torch.int64")
    _error(TypeError, lambda: model(torch.randn(5, 2, 3, dtype=torch.float64)),
           "torch.float64", "torch.float32")
    _error(TypeError, lambda: model(torch.randn(5, 2, 3), torch.randn(2, 2, 4, dtype=torch.float64)),
           "hx", "torch.float64")
    _error(TypeError, lambda: model([[1.0, 2.0, 3.0]]), "torch.Tensor", "list")
    batch_first = gatedrnn.GRU(3, 4, batch_first=True)
    _error(ValueError, lambda: batch_first(torch.randn(2, 5, 3), torch.randn(1, 5, 4)),
           "(1, 2, 4)", "(1, 5, 4)")


@pytest.mark.parametrize("bptt", ["autograd", "manual"])
def test_bad_input_errors_on_both_paths(bptt):
    with pytest.raises(ValueError, match="features"):
        gatedrnn.GRU(3, 4, bptt=bptt)(torch.randn(5, 2, 2))


@pytest.mark.parametrize("args, kwargs, error, fragment", [
    ((0, 4), {}, ValueError, "input_size must be >= 1, got 0"),
    ((3, -1), {}, ValueError, "hidden_size must be >= 1, got -1"),
    ((3, 4, 0), {}, ValueError, "num_layers must be >= 1, got 0"),
    ((3.0, 4), {}, TypeError, "input_size must be an int, got float"),
    ((True, 4), {}, TypeError, "input_size must be an int, got bool"),
    ((3, 4), {"bptt": "magic"}, ValueError, "bptt must be one of"),
    ((3, 4), {"dropout": 1.5}, ValueError, "dropout must be a number in [0, 1]"),
    ((3, 4), {"dtype": torch.int32}, TypeError, "floating-point dtype"),
])
def test_bad_constructor_arguments(args, kwargs, error, fragment):
    with pytest.raises(error) as info:
        gatedrnn.GRU(*args, **kwargs)
    assert fragment in str(info.value)


def test_same_positional_signature_as_torch():
    """Positional arguments mean the same as torch.nn.GRU's: dropout comes before bidirectional."""
    ours = gatedrnn.GRU(3, 4, 2, False, True, 0.0, True)
    reference = torch.nn.GRU(3, 4, 2, False, True, 0.0, True)
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert (ours.num_layers, ours.bias, ours.batch_first, ours.bidirectional) == (2, False, True, True)


def test_dropout_only_in_training_and_between_layers():
    torch.manual_seed(0)
    model = gatedrnn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = torch.randn(5, 2, 3)
    model.eval()
    first, second = model(x)[0], model(x)[0]
    assert torch.equal(first, second)
    model.train()
    assert not torch.equal(model(x)[0], model(x)[0])
