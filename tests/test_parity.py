"""Every gatedrnn layer against its torch.nn twin: outputs, states and every gradient, both
backward paths; state_dict both ways; the same positional signature and initialisation; no
torch recurrent kernel inside; clear errors on bad input."""
import math

import pytest
import torch

import gatedrnn

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


def _state_like(state, parts):
    return tuple(parts) if isinstance(state, tuple) else parts[0]


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
    if hx is not None:
        hx = _state_like(hx, [part.clone().requires_grad_(True) for part in _parts(hx)])
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
@pytest.mark.parametrize("config", CONFIGS,
                         ids=lambda c: "L{}-bi{:d}-bf{:d}-hx{:d}-bias{:d}".format(*c))
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
    """torch -> gatedrnn and gatedrnn -> torch: each loaded model computes what the source does."""
    torch_class, our_class, extra = MODELS[kind]
    x = torch.randn(5, 2, 4)
    for source_class, target_class in ((torch_class, our_class), (our_class, torch_class)):
        torch.manual_seed(0)
        source = source_class(4, 6, num_layers=2, bidirectional=True, **extra)
        torch.manual_seed(1)   # another initialisation, so that loading has to change it
        target = target_class(4, 6, num_layers=2, bidirectional=True, **extra)
        assert not torch.allclose(source(x)[0], target(x)[0])
        target.load_state_dict(source.state_dict())
        assert list(target.state_dict()) == list(source.state_dict())
        torch.testing.assert_close(target(x)[0], source(x)[0], atol=1e-6, rtol=0)


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


@pytest.mark.parametrize("bptt", ["autograd", "manual"])
@pytest.mark.parametrize("kind", list(MODELS))
def test_no_torch_rnn_kernels_inside(kind, bptt):
    """The profiler lists every aten operator a training step runs: none is a recurrent kernel
    (aten::gru, aten::lstm, aten::rnn_tanh, aten::_thnn_fused_gru_cell, ...), while the
    torch.nn twin's step does run one (so the check can see them)."""
    torch_class, our_class, extra = MODELS[kind]

    def operators(model):
        x = torch.randn(4, 2, 3, requires_grad=True)
        with torch.autograd.profiler.profile() as profile:
            model(x)[0].sum().backward()
        return {event.name.lower() for event in profile.function_events}

    def recurrent(names):
        return {name for name in names if name.startswith("aten::")   # not our FusedLSTM
                and any(word in name for word in ("gru", "lstm", "rnn", "_thnn"))}

    assert recurrent(operators(torch_class(3, 4, **extra)))
    assert not recurrent(operators(our_class(3, 4, bptt=bptt, **extra)))


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
    _error(TypeError, lambda: model(torch.randint(0, 5, (5, 2, 3))), "floating-point",
           "torch.int64")
    _error(TypeError, lambda: model(torch.randn(5, 2, 3, dtype=torch.float64)),
           "torch.float64", "torch.float32")
    _error(TypeError, lambda: model(torch.randn(5, 2, 3), state((2, 2, 4), torch.float64)),
           "hx", "torch.float64")
    _error(TypeError, lambda: model([[1.0, 2.0, 3.0]]), "torch.Tensor", "list")
    batch_first = our_class(3, 4, batch_first=True, **extra)
    _error(ValueError, lambda: batch_first(torch.randn(2, 5, 3), state((1, 5, 4))),
           "(1, 2, 4)", "(1, 5, 4)")


@pytest.mark.parametrize("kind", list(MODELS))
def test_unbatched_state_errors_name_the_unbatched_shape(kind):
    _, our_class, extra = MODELS[kind]
    model = our_class(3, 4, num_layers=2, **extra)
    with pytest.raises(ValueError) as info:
        model(torch.randn(5, 3), _state(kind, lambda: torch.randn(2, 1, 4)))
    message = str(info.value)
    assert "(2, 4) = (num_layers * num_directions, hidden_size)" in message, message
    assert "batch" not in message, message


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
    assert (ours.num_layers, ours.bias, ours.batch_first, ours.bidirectional) == (
        2, False, True, True)
    ours = gatedrnn.RNN(3, 4, 2, "relu", False, True, 0.0, True)
    reference = torch.nn.RNN(3, 4, 2, "relu", False, True, 0.0, True)
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert (ours.nonlinearity, ours.bias, ours.batch_first, ours.bidirectional) == (
        "relu", False, True, True)
    # The LSTM's eighth positional argument is proj_size; 0 (no projection) is all it takes.
    ours = gatedrnn.LSTM(3, 4, 2, False, True, 0.0, True, 0)
    reference = torch.nn.LSTM(3, 4, 2, False, True, 0.0, True, 0)
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert (ours.num_layers, ours.bias, ours.batch_first, ours.bidirectional) == (
        2, False, True, True)


@pytest.mark.parametrize("kind", list(MODELS))
def test_reset_parameters_draws_like_torch(kind):
    """U(-1/sqrt(h), 1/sqrt(h)) for every parameter, in torch.nn's order: from the same seed,
    the same initial weights as the torch.nn twin, spread over the whole bound."""
    torch_class, our_class, extra = MODELS[kind]
    torch.manual_seed(0)
    ours = our_class(5, 16, num_layers=2, bidirectional=True, **extra)
    torch.manual_seed(0)
    reference = torch_class(5, 16, num_layers=2, bidirectional=True, **extra)
    for (name, p), q in zip(ours.named_parameters(), reference.parameters()):
        assert torch.equal(p, q), name
    values = torch.cat([p.detach().flatten() for p in ours.parameters()]).abs()
    bound = 1 / math.sqrt(16)
    assert values.max() <= bound and values.max() > 0.99 * bound
    assert abs(values.mean() - bound / 2) < 0.02 * bound     # |U(-b, b)| has mean b/2


def test_dropout_only_in_training_and_between_layers():
    """dropout=1 zeroes what goes between layers in training, and nothing after the last."""
    torch.manual_seed(0)
    model = gatedrnn.GRU(3, 4, num_layers=2, dropout=1.0)
    x = torch.randn(5, 2, 3)
    model.eval()
    first, second = model(x)[0], model(x)[0]
    assert torch.equal(first, second)
    model.train()
    output, h_n = model(x)
    # Layer 2 saw only zeros: the same as a one-layer GRU with layer 2's weights on zeros.
    top = gatedrnn.GRU(4, 4)
    top.load_state_dict({name.replace("_l1", "_l0"): p for name, p in model.state_dict().items()
                         if "_l1" in name})
    torch.testing.assert_close(output, top(torch.zeros(5, 2, 4))[0])
    assert output.abs().min() > 0          # the output itself is not dropped
    # Layer 1's final state is what it computed, not dropped either.
    torch.testing.assert_close(h_n[0], model.eval()(x)[1][0])
