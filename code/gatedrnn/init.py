"""Initialising recurrent weights: a matrix of a chosen spectral norm, and the LSTM's forget-gate
bias, for gatedrnn's and torch.nn's layers alike (they share parameter names)."""
import torch

from . import _checks
from .lstm import LSTM


def scaled_orthogonal(size, spectral_norm, *, generator=None, dtype=torch.float64):
    """A random orthogonal (size, size) matrix times spectral_norm: every singular value, the
    largest included, equals spectral_norm, so sigma_max is exactly what was asked for."""
    _checks.check_number("spectral_norm", spectral_norm, low=0)
    gaussian = torch.randn(size, size, generator=generator, dtype=dtype)
    q, r = torch.linalg.qr(gaussian)
    # The sign fix makes Q Haar-distributed (uniform over orthogonal matrices).
    return spectral_norm * q * torch.sign(torch.diagonal(r))


def set_forget_bias(layer, value=1.0):
    """Set every forget-gate bias b_f of an LSTM layer to `value` (Gers et al. 2000).

    layer: a gatedrnn.LSTM or a torch.nn.LSTM, built with bias=True. torch.nn.LSTM has no
    option for this and keeps two biases that add up, b_f = b_xf + b_hf; so the forget rows
    [h:2h] of ``bias_ih_l*`` are set to `value` and those of ``bias_hh_l*`` to 0, in every
    layer and direction. The other gates' biases are left as they are. Returns the layer.
    """
    _checks.check_layer_kind(layer, LSTM, "set_forget_bias")
    _checks.check_has_bias(layer, "set_forget_bias")
    h = layer.hidden_size
    with torch.no_grad():
        for name, parameter in layer.named_parameters():
            if name.startswith("bias_ih_l"):
                parameter[h:2 * h] = value      # the forget gate's rows, in (i, f, g, o) order
            elif name.startswith("bias_hh_l"):
                parameter[h:2 * h] = 0.0
    return layer
