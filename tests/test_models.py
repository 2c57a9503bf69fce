"""Every gatedrnn model against its torch.nn twin: outputs, states and every gradient, both
backward paths; state_dict both ways; the same positional signature; clear errors on bad input."""
import io
import inspect
import tokenize

import pytest
import torch

import gatedrnn
from gatedrnn import _recurrent, gru, lstm, rnn

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}

# name: (torch class, our class, extra constructor keywords)
MODELS = {
    "GRU": (torch.nn.GRU, gatedrnn.GRU, {}),
    "LSTM": (torch.nn.LSTM, gatedrnn.LSTM, {}),
    "RNN-tanh": (torch.nn.RNN, gatedrnn.RNN, {"nonlinearity": "tanh"}),
    "RNN-relu": (torch.nn.RNN, gatedrnn.RNN, {"nonlinearity": "relu"}),
}


# (num_layers, bidirectional, batch_first, given hx, bias)
CONFIGS = [
    (1, False, False, False, True),
    (1, False, True, True, True),
    (2, False, False, True, True),
    (1, True, False, False, True),
    (2, True, True, True, True),
    (2, True, False, False, False),
]


def _state(kind, make):
    """An initial state: one tensor, or the pair (h_0, c_0) for an LSTM, each from make()."""
    return (make(), make()) if kind == "LSTM" else make()


def _parts(state):
    return list(state) if isinstance(state, tuple) else [state]


def _pair(kind, config, dtype, bptt, seed):
    torch_class, our_class, extra = MODELS[kind]
    num_layers, bidirectional, batch_first, given_hx, bias = config
    generator = torch.Generator().manual_seed(seed)
    sizes = torch.randint(1, 7, (4,), generator=generator).tolist()
    input_size, hidden_size, batch, steps = sizes[0], sizes[1] + 1, sizes[2], sizes[3] + 1
    torch.manual_seed(seed)
    options = dict(bias=bias, batch_first=batch_first, bidirectional=bidirectional, dtype=dtype,
                   **extra)
    reference = torch_class(input_size, hidden_size, num_layers, **options)
    ours = our_class(input_size, hidden_size, num_layers, bptt=bptt, **options)
    ours.load_state_dict(reference.state_dict())
    shape = (batch, steps, input_size) if batch_first else (steps, batch, input_size)
    x = torch.randn(shape, dtype=dtype, generator=generator)
    directions = 2 if bidirectional else 1
    hx = (_state(kind, lambda: torch.randn(num_layers * directions, batch, hidden_size,
                                           dtype=dtype, generator=generator))
          if given_hx else None)
    return reference, ours, x, hx


def _run(model, x, hx):
    """Outputs, final state and the gradient of every parameter, of x and of hx."""
    x = x.clone().requires_grad_(True)
    hx = None if hx is None else _recurrent.map_state(lambda s: s.clone().requires_grad_(True),
                                                      hx)
    output, h_n = model(x, hx)
    # Weights make the loss depend on every entry differently, so a swapped entry shows up.
    weights = torch.linspace(-1, 1, output.numel(), dtype=x.dtype).reshape(output.shape)
    # The LSTM's c_n gets another weight than h_n, so swapping the two shows up too.
    loss = (output * weights).sum() + sum((k + 1) * (part ** 2).sum()
                                          for k, part in enumerate(_parts(h_n)))
    inputs = [x] + ([] if hx is None else _parts(hx)) + list(model.parameters())
    return [output, *_parts(h_n), *torch.autograd.grad(loss, inputs)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("bptt", ["autograd", "manual"])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "L{}-bi{:d}-bf{:d}-hx{:d}-bias{:d}".format(*c))
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", list(MODELS))
def test_matches_torch(kind, config, dtype, bptt, seed):
    reference, ours, x, hx = _pair(kind, config, dtype, bptt, seed)
    expected, got = _run(reference, x, hx), _run(ours, x, hx)
    assert len(expected) == len(got)
    for e, g in zip(expected, got):
        assert e.shape == g.shape
        torch.testing.assert_close(g, e, atol=TOLERANCE[dtype], rtol=0)


@pytest.mark.parametrize("bptt", ["autograd", "manual"])
@pytest.mark.parametrize("kind", list(MODELS))
def test_unbatched_input_matches_torch(kind, bptt):
    torch_class, our_class, extra = MODELS[kind]
    torch.manual_seed(0)
    reference = torch_class(3, 5, num_layers=2, **extra)
    ours = our_class(3, 5, num_layers=2, bptt=bptt, **extra)
    ours.load_state_dict(reference.state_dict())
    x, hx = torch.randn(7, 3), _state(kind, lambda: torch.randn(2, 5))
    (e_output, e_state), (g_output, g_state) = reference(x, hx), ours(x, hx)
    for e, g in zip([e_output, *_parts(e_state)], [g_output, *_parts(g_state)]):
        assert e.shape == g.shape
        torch.testing.assert_close(g, e, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", list(MODELS))
def test_state_dict_moves_both_ways(kind):
    torch_class, our_class, extra = MODELS[kind]
    ours = our_class(4, 6, num_layers=2, bidirectional=True, **extra)
    reference = torch_class(4, 6, num_layers=2, bidirectional=True, **extra)
    reference.load_state_dict(ours.state_dict())
    assert list(ours.state_dict()) == list(reference.state_dict())
    for (name, p), (_, q) in zip(ours.named_parameters(), reference.named_parameters()):
        assert p.shape == q.shape and torch.equal(p, q), name


@pytest.mark.parametrize("kind", list(MODELS))
def test_manual_path_trains_like_autograd(kind):
    """Two Adam steps with each path from the same start land on the same weights."""
    _, our_class, extra = MODELS[kind]
    results = []
    for bptt in ("autograd", "manual"):
        torch.manual_seed(0)
        model = our_class(2, 5, num_layers=2, batch_first=True, bptt=bptt, **extra)
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
    code = " ".join(_code_without_text(module) for module in (gru, lstm, rnn, _recurrent))
    assert "addmm" in code and "forget_gate" in code  # the check sees the code
    # Tokens are joined by spaces, so torch.nn.GRU reads "torch . nn . GRU" here.
    for forbidden in ("nn . GRU", "nn . RNN", "nn . LSTM", "GRUCell", "RNNCell", "LSTMCell",
                      "_VF", "gru_cell", "lstm_cell", "torch . gru", "torch . lstm", "rnn_tanh",
                      "rnn_relu", "_thnn"):
        assert forbidden not in code, forbidden


# ---------------------------------------------------------------------------- bad input
def _error(excinfo_type, call, *fragments):
    with pytest.raises(excinfo_type) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize("kind", list(MODELS))
def test_bad_input_gets_clear_errors(kind):
    _, our_class, extra = MODELS[kind]

    def state(shape, dtype=torch.float32):  # a tensor, or the pair (h_0, c_0) for an LSTM
        return _state(kind, lambda: torch.randn(shape, dtype=dtype))

    model = our_class(3, 4, num_layers=2, **extra)
    _error(ValueError, lambda: model(torch.randn(5, 2, 7)), "3 features", "got 7", "(5, 2, 7)")
    _error(ValueError, lambda: model(torch.randn(5, 2, 3, 1)), "rank 4", "(5, 2, 3, 1)")
    _error(ValueError, lambda: model(torch.randn(3)), "rank 1")
    _error(ValueError, lambda: model(torch.randn(5, 2, 3), state((1, 2, 4))),
           "(2, 2, 4)", "(1, 2, 4)")
    _error(ValueError, lambda: model(torch.randn(5, 2, 3), state((2, 3, 4))), "(2, 2, 4)")
    _error(ValueError, lambda: model(torch.randn(0, 2, 3)), "length >= 1")
    _error(TypeError, lambda: model(torch.randint(0, 5, (5, 2, 3))), "floating-point", "torch.int64")
    _error(TypeError, lambda: model(torch.randn(5, 2, 3, dtype=torch.float64)),
           "torch.float64", "torch.float32")
    _error(TypeError, lambda: model(torch.randn(5, 2, 3), state((2, 2, 4), torch.float64)),
           "hx", "torch.float64")
    _error(TypeError, lambda: model([[1.0, 2.0, 3.0]]), "torch.Tensor", "list")
    batch_first = our_class(3, 4, batch_first=True, **extra)
    _error(ValueError, lambda: batch_first(torch.randn(2, 5, 3), state((1, 5, 4))),
           "(1, 2, 4)", "(1, 5, 4)")


@pytest.mark.parametrize("bptt", ["autograd", "manual"])
@pytest.mark.parametrize("kind", list(MODELS))
def test_bad_input_errors_on_both_paths(kind, bptt):
    _, our_class, extra = MODELS[kind]
    with pytest.raises(ValueError, match="features"):
        our_class(3, 4, bptt=bptt, **extra)(torch.randn(5, 2, 2))


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
@pytest.mark.parametrize("our_class", [gatedrnn.GRU, gatedrnn.LSTM, gatedrnn.RNN],
                         ids=["GRU", "LSTM", "RNN"])
def test_bad_constructor_arguments(our_class, args, kwargs, error, fragment):
    with pytest.raises(error) as info:
        our_class(*args, **kwargs)
    assert fragment in str(info.value)


def test_rnn_rejects_unknown_nonlinearity():
    with pytest.raises(ValueError, match="nonlinearity must be one of .* got 'sigmoid'"):
        gatedrnn.RNN(3, 4, nonlinearity="sigmoid")


def test_same_positional_signature_as_torch():
    """Positional arguments mean the same as torch.nn's: dropout comes before bidirectional,
    and the RNN's nonlinearity comes fourth."""
    ours = gatedrnn.GRU(3, 4, 2, False, True, 0.0, True)
    reference = torch.nn.GRU(3, 4, 2, False, True, 0.0, True)
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert (ours.num_layers, ours.bias, ours.batch_first, ours.bidirectional) == (2, False, True, True)
    ours = gatedrnn.RNN(3, 4, 2, "relu", False, True, 0.0, True)
    reference = torch.nn.RNN(3, 4, 2, "relu", False, True, 0.0, True)
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert (ours.nonlinearity, ours.bias, ours.batch_first, ours.bidirectional) == ("relu", False, True, True)
    # The LSTM's eighth positional argument is proj_size; 0 (no projection) is all it takes.
    ours = gatedrnn.LSTM(3, 4, 2, False, True, 0.0, True, 0)
    reference = torch.nn.LSTM(3, 4, 2, False, True, 0.0, True, 0)
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
