"""LSTM specifics: the carry path, gradcheck of the whole layer on both paths, the (h_0, c_0)
pair's checks, and proj_size."""
import pytest
import torch

import gatedrnn
from gatedrnn import lstm

DOUBLE = torch.float64


def test_carry_path_is_the_forget_gate():
    """With dL/dH_t = 0, dL/dC_{t-1} = F_t * dL/dC_t exactly: (L5)'s carry path."""
    torch.manual_seed(0)
    n, h = 2, 3
    (_, _), cache = lstm.step_forward(torch.randn(n, 4 * h), (torch.randn(n, h), torch.randn(n, h)),
                                      torch.randn(4 * h, h), torch.randn(4 * h))
    dc_next = torch.randn(n, h)
    _, (_, dc_prev), _, _ = lstm.step_backward((torch.zeros(n, h), dc_next), cache)
    torch.testing.assert_close(dc_prev, cache.forget_gate * dc_next)


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
    reference = torch.nn.LSTM(3, 4, 1, True, False, 0.0, False, 0)
    assert list(gatedrnn.LSTM(3, 4, 1, True, False, 0.0, False, 0).state_dict()) == list(
        reference.state_dict())
    with pytest.raises(ValueError, match="proj_size must be 0, got 2"):
        gatedrnn.LSTM(3, 4, proj_size=2)
    with pytest.raises(TypeError, match="proj_size must be an int, got float"):
        gatedrnn.LSTM(3, 4, proj_size=1.0)
