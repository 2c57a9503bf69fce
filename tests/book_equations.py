"""The book's equations, written independently of gatedrnn: the one reference the cell tests use.

Each step takes the input X_t itself and torch.nn's stacked parameters, cuts them into the
book's matrices (W_x. is d x h, W_h. is h x h: transposed slices), and writes the equations of
the notation page line by line. Autograd through these loops is the reference for every
gradient.
"""
import torch


def _blocks(weight_ih, weight_hh, bias_ih, bias_hh):
    h = weight_hh.shape[1]
    return (weight_ih.t().split(h, dim=1), weight_hh.t().split(h, dim=1), bias_ih.split(h),
            bias_hh.split(h))


def rnn_step(X, H, weights, phi):
    """(R1)."""
    (W_xh,), (W_hh,), (b_xh,), (b_hh,) = _blocks(*weights)
    return phi(X @ W_xh + b_xh + H @ W_hh + b_hh)


def gru_gates(X, H, weights, reset_after=True):
    """(R_t, Z_t, H~_t, H_t) from (G1)-(G4), or (G1), (G2), (G3'), (G4)."""
    (W_xr, W_xz, W_xh), (W_hr, W_hz, W_hh), (b_xr, b_xz, b_xh), (b_hr, b_hz, b_hh) = \
        _blocks(*weights)
    R = torch.sigmoid(X @ W_xr + b_xr + H @ W_hr + b_hr)
    Z = torch.sigmoid(X @ W_xz + b_xz + H @ W_hz + b_hz)
    if reset_after:
        H_tilde = torch.tanh(X @ W_xh + b_xh + R * (H @ W_hh + b_hh))
    else:
        H_tilde = torch.tanh(X @ W_xh + b_xh + (R * H) @ W_hh + b_hh)
    return R, Z, H_tilde, Z * H + (1 - Z) * H_tilde


def gru_step(X, H, weights, reset_after=True):
    return gru_gates(X, H, weights, reset_after)[-1]


def lstm_step(X, state, weights):
    """(L1)-(L6), with b = b_x + b_h."""
    H, C = state
    (W_xi, W_xf, W_xc, W_xo), (W_hi, W_hf, W_hc, W_ho), bias_x, bias_h = _blocks(*weights)
    b_i, b_f, b_c, b_o = (x + h for x, h in zip(bias_x, bias_h))
    I = torch.sigmoid(X @ W_xi + H @ W_hi + b_i)  # noqa: E741 (the book's symbol)
    F = torch.sigmoid(X @ W_xf + H @ W_hf + b_f)
    C_tilde = torch.tanh(X @ W_xc + H @ W_hc + b_c)
    O = torch.sigmoid(X @ W_xo + H @ W_ho + b_o)  # noqa: E741
    C = F * C + I * C_tilde
    return O * torch.tanh(C), C


def run(step, x, state0, weights):
    """step over x (T, n, d) from state0: (outputs (T, n, h), last state)."""
    state, outputs = state0, []
    for X in x:
        state = step(X, state, weights)
        outputs.append(state[0] if isinstance(state, tuple) else state)
    return torch.stack(outputs), state
