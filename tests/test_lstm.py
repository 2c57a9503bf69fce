"""LSTM specifics: the equations written independently, one step's backward, gradcheck of both
paths, the (h_0, c_0) pair's checks, proj_size, the forget-gate bias, SequenceModel."""
from functools import partial

import pytest
import torch

import gatedrnn
from gatedrnn import lstm
from gatedrnn._recurrent import ManualBPTT

DOUBLE = torch.float64


def test_parameter_count_matches_formula():
    for d, h in [(100, 100), (32, 128)]:
        count = sum(p.numel() for p in gatedrnn.LSTM(d, h).parameters())
        assert count == 4 * (d * h + h * h + 2 * h)
    assert sum(p.numel() for p in gatedrnn.LSTM(100, 100).parameters()) == 80_800


def _book_reference(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh):
    """(L1)-(L6) written independently of lstm.py, with the book's matrices and b = b_x + b_h."""
    h = h0.shape[1]
    W_xi, W_xf, W_xc, W_xo = weight_ih.t().split(h, dim=1)
    W_hi, W_hf, W_hc, W_ho = weight_hh.t().split(h, dim=1)
    b_i, b_f, b_c, b_o = (bias_ih + bias_hh).split(h)
    H, C, outputs = h0, c0, []
    for X in x:
        I = torch.sigmoid(X @ W_xi + H @ W_hi + b_i)
        F = torch.sigmoid(X @ W_xf + H @ W_hf + b_f)
        candidate = torch.tanh(X @ W_xc + H @ W_hc + b_c)
        O = torch.sigmoid(X @ W_xo + H @ W_ho + b_o)
        C = F * C + I * candidate
        H = O * torch.tanh(C)
        outputs.append(H)
    return torch.stack(outputs), H, C


@pytest.mark.parametrize("bptt", ["autograd", "manual"])
def test_matches_the_book_equations(bptt):
    torch.manual_seed(1)
    ours = gatedrnn.LSTM(3, 4, bptt=bptt, dtype=DOUBLE)
    x = torch.randn(5, 2, 3, dtype=DOUBLE, requires_grad=True)
    h0, c0 = torch.randn(1, 2, 4, dtype=DOUBLE), torch.randn(1, 2, 4, dtype=DOUBLE)
    output, (h_n, c_n) = ours(x, (h0, c0))
    expected, h_last, c_last = _book_reference(x, h0[0], c0[0], *ours.layer_weights(0))
    for got, want in [(output, expected), (h_n[0], h_last), (c_n[0], c_last)]:
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
    got = torch.autograd.grad(output.sum() + c_n.sum(), [x, *ours.parameters()])
    want = torch.autograd.grad(expected.sum() + c_last.sum(), [x, *ours.parameters()])
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-12, rtol=0)


def test_step_backward_matches_autograd():
    torch.manual_seed(0)
    n, h = 3, 4
    gates_x = torch.randn(n, 4 * h, dtype=DOUBLE, requires_grad=True)
    h_prev = torch.randn(n, h, dtype=DOUBLE, requires_grad=True)
    c_prev = torch.randn(n, h, dtype=DOUBLE, requires_grad=True)
    weight_hh = torch.randn(4 * h, h, dtype=DOUBLE, requires_grad=True)
    bias_hh = torch.randn(4 * h, dtype=DOUBLE, requires_grad=True)
    (h_next, c_next), cache = lstm.step_forward(gates_x, (h_prev, c_prev), weight_hh, bias_hh)
    dh_next, dc_next = torch.randn(n, h, dtype=DOUBLE), torch.randn(n, h, dtype=DOUBLE)
    want = torch.autograd.grad([h_next, c_next], [gates_x, h_prev, c_prev, weight_hh, bias_hh],
                               [dh_next, dc_next])
    dgates_x, (dh_prev, dc_prev), dgates_h = lstm.step_backward((dh_next, dc_next), cache)
    torch.testing.assert_close(dgates_x, want[0])
    torch.testing.assert_close(dh_prev, want[1])
    torch.testing.assert_close(dc_prev, want[2])
    torch.testing.assert_close(dgates_h.t() @ h_prev, want[3])  # dW_hh = dgates_h^T H_{t-1}
    torch.testing.assert_close(dgates_h.sum(0), want[4])


def test_carry_path_is_the_forget_gate():
    """With dL/dH_t = 0, dL/dC_{t-1} = F_t * dL/dC_t exactly: (L5)'s carry path."""
    torch.manual_seed(0)
    n, h = 2, 3
    (_, _), cache = lstm.step_forward(torch.randn(n, 4 * h), (torch.randn(n, h), torch.randn(n, h)),
                                      torch.randn(4 * h, h), torch.randn(4 * h))
    dc_next = torch.randn(n, h)
    _, (_, dc_prev), _ = lstm.step_backward((torch.zeros(n, h), dc_next), cache)
    torch.testing.assert_close(dc_prev, cache.forget_gate * dc_next)


def _random_weights(h, d):
    shapes = [(4 * h, d), (4 * h, h), (4 * h,), (4 * h,)]
    return [(0.5 * torch.randn(shape, dtype=DOUBLE)).requires_grad_(True) for shape in shapes]


def test_gradcheck_manual_path():
    torch.manual_seed(0)
    steps, batch, d, h = 4, 2, 3, 3
    x = torch.randn(steps, batch, d, dtype=DOUBLE, requires_grad=True)
    h0 = torch.randn(batch, h, dtype=DOUBLE, requires_grad=True)
    c0 = torch.randn(batch, h, dtype=DOUBLE, requires_grad=True)

    def manual(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, c0):
        # The cell state C_0 comes after the weights: ManualBPTT's `more_state`.
        return ManualBPTT.apply(lstm.lstm_sequence, lstm.lstm_sequence_backward,
                                x, h0, weight_ih, weight_hh, bias_ih, bias_hh, c0)

    assert torch.autograd.gradcheck(manual, (x, h0, *_random_weights(h, d), c0))


@pytest.mark.parametrize("bptt", ["autograd", "manual"])
def test_gradcheck_layer(bptt):
    """The whole layer (two layers, both directions) against finite differences."""
    torch.manual_seed(0)
    layer = gatedrnn.LSTM(2, 3, num_layers=2, bidirectional=True, bptt=bptt, dtype=DOUBLE)
    x = torch.randn(3, 2, 2, dtype=DOUBLE, requires_grad=True)
    h0 = torch.randn(4, 2, 3, dtype=DOUBLE, requires_grad=True)
    c0 = torch.randn(4, 2, 3, dtype=DOUBLE, requires_grad=True)
    parameters = list(layer.parameters())

    def run(x, h0, c0, *weights):
        values = dict(zip([name for name, _ in layer.named_parameters()], weights))
        output, (h_n, c_n) = torch.func.functional_call(layer, values, (x, (h0, c0)))
        return output, h_n, c_n

    assert torch.autograd.gradcheck(run, (x, h0, c0, *parameters))


def test_state_must_be_a_pair():
    model = gatedrnn.LSTM(3, 4)
    x = torch.randn(5, 2, 3)
    with pytest.raises(TypeError, match=r"tuple \(h_0, c_0\) of two tensors, got Tensor"):
        model(x, torch.zeros(1, 2, 4))
    with pytest.raises(TypeError, match="got a tuple of length 3"):
        model(x, (torch.zeros(1, 2, 4),) * 3)
    with pytest.raises(TypeError, match=r"hx\[1\] \(c_0\) to be a torch.Tensor, got NoneType"):
        model(x, (torch.zeros(1, 2, 4), None))
    with pytest.raises(ValueError, match=r"hx\[1\] \(c_0\) of shape \(1, 2, 4\).*got \(1, 2, 5\)"):
        model(x, (torch.zeros(1, 2, 4), torch.zeros(1, 2, 5)))
    with pytest.raises(ValueError, match=r"hx\[0\] \(h_0\) of shape \(1, 4\).*got \(1, 2, 4\)"):
        model(torch.randn(5, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 4)))


def test_state_may_be_a_list_as_in_torch():
    torch.manual_seed(0)
    reference, ours = torch.nn.LSTM(3, 4), gatedrnn.LSTM(3, 4)
    ours.load_state_dict(reference.state_dict())
    x, state = torch.randn(5, 2, 3), [torch.randn(1, 2, 4), torch.randn(1, 2, 4)]
    torch.testing.assert_close(ours(x, state)[0], reference(x, state)[0])


def test_proj_size_is_refused_clearly():
    assert gatedrnn.LSTM(3, 4, proj_size=0).proj_size == 0
    with pytest.raises(ValueError, match="proj_size must be 0, got 2"):
        gatedrnn.LSTM(3, 4, proj_size=2)
    with pytest.raises(TypeError, match="proj_size must be an int, got float"):
        gatedrnn.LSTM(3, 4, proj_size=1.0)


@pytest.mark.parametrize("layer_class", [gatedrnn.LSTM, torch.nn.LSTM])
def test_set_forget_bias(layer_class):
    torch.manual_seed(0)
    layer = layer_class(3, 4, num_layers=2, bidirectional=True)
    before = {name: p.detach().clone() for name, p in layer.named_parameters()}
    assert lstm.set_forget_bias(layer, 1.0) is layer
    for name, p in layer.named_parameters():
        if name.startswith("bias_ih"):
            partner = getattr(layer, name.replace("bias_ih", "bias_hh"))
            torch.testing.assert_close(p[4:8] + partner[4:8], torch.ones(4))  # b_f = 1
        untouched = torch.cat([p[:4], p[8:]]) if name.startswith("bias") else p
        before_part = (torch.cat([before[name][:4], before[name][8:]]) if name.startswith("bias")
                       else before[name])
        assert torch.equal(untouched, before_part), name


def test_set_forget_bias_rejects_other_layers():
    with pytest.raises(ValueError, match="4 gate blocks"):
        lstm.set_forget_bias(gatedrnn.GRU(3, 4))
    with pytest.raises(ValueError, match="bias=True"):
        lstm.set_forget_bias(gatedrnn.LSTM(3, 4, bias=False))
    with pytest.raises(TypeError, match="got Linear"):
        lstm.set_forget_bias(torch.nn.Linear(3, 4))


@pytest.mark.parametrize("bptt", ["autograd", "manual"])
def test_sequence_model_takes_an_lstm(bptt):
    torch.manual_seed(0)
    model = gatedrnn.SequenceModel(gatedrnn.LSTM(2, 5, batch_first=True, bptt=bptt), 1)
    inputs = torch.randn(4, 6, 2)
    assert model(inputs).shape == (4, 1)
    model(inputs).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    every = gatedrnn.SequenceModel(gatedrnn.LSTM(2, 5, batch_first=True, bidirectional=True), 3,
                                   every_step=True)
    assert every(inputs).shape == (4, 6, 3)
