"""Initialisation helpers: a matrix of a chosen spectral norm, the LSTM's forget-gate bias."""
import pytest
import torch

import gatedrnn
from gatedrnn.init import scaled_orthogonal, set_forget_bias


def test_scaled_orthogonal_has_every_singular_value_at_the_asked_norm():
    generator = torch.Generator().manual_seed(0)
    matrix = scaled_orthogonal(6, 1.3, generator=generator)
    torch.testing.assert_close(torch.linalg.svdvals(matrix),
                               torch.full((6,), 1.3, dtype=torch.float64))
    with pytest.raises(ValueError, match="spectral_norm must be a number >= 0"):
        scaled_orthogonal(3, -1.0)


@pytest.mark.parametrize("layer_class", [gatedrnn.LSTM, torch.nn.LSTM])
def test_set_forget_bias(layer_class):
    torch.manual_seed(0)
    layer = layer_class(3, 4, num_layers=2, bidirectional=True)
    before = {name: p.detach().clone() for name, p in layer.named_parameters()}
    assert set_forget_bias(layer, 1.0) is layer
    for name, p in layer.named_parameters():
        if name.startswith("bias_ih"):
            partner = getattr(layer, name.replace("bias_ih", "bias_hh"))
            torch.testing.assert_close(p[4:8] + partner[4:8], torch.ones(4))  # b_f = 1
        untouched = torch.cat([p[:4], p[8:]]) if name.startswith("bias") else p
        before_part = (torch.cat([before[name][:4], before[name][8:]]) if name.startswith("bias")
                       else before[name])
        assert torch.equal(untouched, before_part), name
    # the forget gates of an LSTM with zero weights now sit at sigma(1)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.startswith("weight"):
                p.zero_()
    if isinstance(layer, gatedrnn.LSTM):
        _, _, caches = gatedrnn.bptt.run_sequence(gatedrnn.lstm.step_forward,
                                                  torch.randn(2, 1, 3),
                                                  (torch.zeros(1, 4), torch.zeros(1, 4)),
                                                  *layer.layer_weights(0))
        torch.testing.assert_close(caches[0].forget_gate, torch.sigmoid(torch.ones(1, 4)))


def test_set_forget_bias_rejects_other_layers():
    with pytest.raises(TypeError, match="4 gate blocks"):
        set_forget_bias(gatedrnn.GRU(3, 4))
    with pytest.raises(ValueError, match="bias=True"):
        set_forget_bias(gatedrnn.LSTM(3, 4, bias=False))
    with pytest.raises(TypeError, match="got Linear"):
        set_forget_bias(torch.nn.Linear(3, 4))
