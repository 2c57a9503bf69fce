r"""The gated recurrent unit, written out equation by equation.

Row-vector notation of the book (see the notation page): X_t is (n, d), H_t is (n, h), ``*`` is
the elementwise product, sigma the logistic sigmoid. The reset gate acts after the hidden
matrix product, as in torch.nn.GRU, cuDNN and Keras' default::

    R_t  = sigma(X_t W_xr + b_xr + H_{t-1} W_hr + b_hr)                   (G1)
    Z_t  = sigma(X_t W_xz + b_xz + H_{t-1} W_hz + b_hz)                   (G2)
    H~_t = tanh(X_t W_xh + b_xh + R_t * U_t),  U_t = H_{t-1} W_hh + b_hh  (G3)
    H_t  = Z_t * H_{t-1} + (1 - Z_t) * H~_t                               (G4)

Backward through one step (the GRU chapter), with dH = dL/dH_t and A^r, A^z, A^h the
pre-activations inside (G1), (G2), (G3)::

    dZ = dH * (H_{t-1} - H~_t),   dH~ = dH * (1 - Z_t)                    (GB1)
    dA^h = dH~ * (1 - H~_t * H~_t)                                        (GB2)
    dR = dA^h * U_t,   dU = dA^h * R_t                                    (GB3)
    dA^r = dR * R_t * (1 - R_t),   dA^z = dZ * Z_t * (1 - Z_t)            (GB4)
    dL/dH_{t-1} = dH * Z_t + dA^r W_hr^T + dA^z W_hz^T + dU W_hh^T        (GB5)
    dL/dW_x. = X_t^T dA^.,  dL/dW_hr = H_{t-1}^T dA^r, dL/dW_hz = H_{t-1}^T dA^z,
    dL/dW_hh = H_{t-1}^T dU                                               (GB6)

torch.nn.GRU stores each W transposed and the three blocks stacked in the order (r, z, n):
``weight_ih_l0`` is [W_xr | W_xz | W_xh]^T, (3h, d); ``weight_hh_l0`` is [W_hr | W_hz | W_hh]^T,
(3h, h); ``bias_ih_l0`` = [b_xr, b_xz, b_xh] and ``bias_hh_l0`` = [b_hr, b_hz, b_hh].
The input's share of every pre-activation, ``gates_x = X_t W_x + b_x`` for the three blocks, is
formed for all time steps before the loop (`gatedrnn.bptt.run_sequence`).

Variant: the reset gate before the product (Cho et al. 2014 v3, d2l), a different cell::

    H~_t = tanh(X_t W_xh + b_xh + P_t W_hh + b_hh),  P_t = R_t * H_{t-1}  (G3')
"""
from functools import partial
from typing import NamedTuple

import torch

from .bptt import FusedBPTT, linear, tanh_
from .layer import RecurrentLayer


class GRUCache(NamedTuple):
    """What one forward step keeps for its backward step."""
    h_prev: torch.Tensor       # H_{t-1}
    reset_gate: torch.Tensor   # R_t
    update_gate: torch.Tensor  # Z_t
    candidate: torch.Tensor    # H~_t
    hidden_share: torch.Tensor  # U_t = H_{t-1} W_hh + b_hh, what R_t multiplies in (G3)
    weight_hh: torch.Tensor    # torch's layout: [W_hr | W_hz | W_hh]^T


def step_forward(gates_x, H_prev, weight_hh, bias_hh):
    """One GRU step, equations (G1)-(G4).

    gates_x:   (n, 3h) X_t W_x + b_x for r, z and the candidate, in that order
    H_prev:    (n, h)  H_{t-1}
    weight_hh: (3h, h) and bias_hh: (3h,), in torch.nn.GRU's layout
    Returns (H_t, cache); the cache (a GRUCache) is what step_backward needs.
    """
    # Each block's input share, and its hidden share from one product, split at once.
    x_r, x_z, x_h = gates_x.chunk(3, dim=1)
    h_r, h_z, U = (H_prev @ weight_hh.T + bias_hh).chunk(3, dim=1)
    R = torch.sigmoid(x_r + h_r)                                               # (G1)
    Z = torch.sigmoid(x_z + h_z)                                               # (G2)
    H_tilde = torch.tanh(x_h + R * U)                                          # (G3)
    H = Z * H_prev + (1 - Z) * H_tilde                                         # (G4)
    return H, GRUCache(H_prev, R, Z, H_tilde, U, weight_hh)


def step_backward(dH, cache):
    """Backward through one GRU step: (GB1)-(GB6), the chain rule through (G4), (G3), (G1)-(G2).

    dH: (n, h) dL/dH_t, the total derivative (from the output at t and from step t+1).
    Returns (dgates_x, dH_prev, dweight_hh, dbias_hh):
      dgates_x   (n, 3h) [dA^r, dA^z, dA^h], the gradient of the input's share X_t W_x + b_x;
                 the loop forms X_t^T dgates_x, (GB6) for W_x, for all steps in one product
      dH_prev    (n, h)  dL/dH_{t-1} through this step, (GB5)
      dweight_hh (3h, h) and dbias_hh (3h,): this step's share of (GB6), in torch's layout
    """
    H_prev, R, Z, H_tilde, U, weight_hh = cache
    dZ, dH_tilde = dH * (H_prev - H_tilde), dH * (1 - Z)                       # (GB1)
    dA_h = dH_tilde * (1 - H_tilde * H_tilde)                                  # (GB2)
    dR, dU = dA_h * U, dA_h * R                                                # (GB3)
    dA_r, dA_z = dR * R * (1 - R), dZ * Z * (1 - Z)                            # (GB4)
    dhidden_share = torch.cat([dA_r, dA_z, dU], dim=1)   # d of H_{t-1} W_h + b_h, all blocks
    dH_prev = dH * Z + dhidden_share @ weight_hh                               # (GB5)
    dweight_hh, dbias_hh = dhidden_share.T @ H_prev, dhidden_share.sum(dim=0)  # (GB6)
    return torch.cat([dA_r, dA_z, dA_h], dim=1), dH_prev, dweight_hh, dbias_hh


# ----------------------------------------------------------------------------- Variant
# The reset gate before the hidden product, (G3'): reset_after=False. Only the candidate's
# lines differ from the pair above.

class GRUResetBeforeCache(NamedTuple):
    """What one forward step of the (G3') variant keeps for its backward step."""
    h_prev: torch.Tensor       # H_{t-1}
    reset_gate: torch.Tensor   # R_t
    update_gate: torch.Tensor  # Z_t
    candidate: torch.Tensor    # H~_t
    reset_state: torch.Tensor  # P_t = R_t * H_{t-1}, what W_hh multiplies in (G3')
    weight_hh: torch.Tensor    # torch's layout: [W_hr | W_hz | W_hh]^T


def step_forward_reset_before(gates_x, H_prev, weight_hh, bias_hh):
    """One step of the variant: (G1), (G2), (G3'), (G4). Arguments as for `step_forward`."""
    x_r, x_z, x_h = gates_x.chunk(3, dim=1)
    weight_h_r, weight_h_z, weight_h_h = weight_hh.chunk(3)    # W_hr^T, W_hz^T, W_hh^T
    bias_h_r, bias_h_z, bias_h_h = bias_hh.chunk(3)
    R = torch.sigmoid(x_r + H_prev @ weight_h_r.T + bias_h_r)                  # (G1)
    Z = torch.sigmoid(x_z + H_prev @ weight_h_z.T + bias_h_z)                  # (G2)
    P = R * H_prev
    H_tilde = torch.tanh(x_h + P @ weight_h_h.T + bias_h_h)                    # (G3')
    H = Z * H_prev + (1 - Z) * H_tilde                                         # (G4)
    return H, GRUResetBeforeCache(H_prev, R, Z, H_tilde, P, weight_hh)


def step_backward_reset_before(dH, cache):
    """Backward through one step of the variant. Returns what `step_backward` returns.

    (GB1), (GB2) and (GB4) stay; through P_t = R_t * H_{t-1} the product rule replaces (GB3),
    and H_{t-1} gets dP * R_t in (GB5) instead of dU W_hh^T.
    """
    H_prev, R, Z, H_tilde, P, weight_hh = cache
    weight_h_r, weight_h_z, weight_h_h = weight_hh.chunk(3)
    dZ, dH_tilde = dH * (H_prev - H_tilde), dH * (1 - Z)                       # (GB1)
    dA_h = dH_tilde * (1 - H_tilde * H_tilde)                                  # (GB2)
    dP = dA_h @ weight_h_h
    dR = dP * H_prev                                                           # (GB3')
    dA_r, dA_z = dR * R * (1 - R), dZ * Z * (1 - Z)                            # (GB4)
    dH_prev = dH * Z + dP * R + dA_r @ weight_h_r + dA_z @ weight_h_z          # (GB5')
    dweight_hh = torch.cat([dA_r.T @ H_prev, dA_z.T @ H_prev, dA_h.T @ P])     # (GB6')
    dgates = torch.cat([dA_r, dA_z, dA_h], dim=1)   # both biases of a block: the same sum
    return dgates, dH_prev, dweight_hh, dgates.sum(dim=0)


class GRU(RecurrentLayer):
    r"""A from-scratch twin of ``torch.nn.GRU``.

    Same constructor arguments, parameter names and shapes, input and output shapes as
    torch.nn.GRU, so ``GRU(...).load_state_dict(torch_gru.state_dict())`` works both ways.
    Equations (G1)-(G4) of the book; see this module's docstring.

    Extra keyword arguments:
      reset_after: True (default) applies the reset gate after the hidden matmul, (G3), as
        torch.nn.GRU does; False applies it before, (G3'), as Cho et al. 2014 and d2l do.
      bptt: "autograd" (default) lets torch's autograd differentiate the forward loop;
        "manual" runs the hand-derived backward through time, with the fast twin of
        `step_forward` and `step_backward` below (`gatedrnn.bptt.FusedBPTT`; with
        reset_after=False, the (G3') pair itself through `gatedrnn.bptt.ManualBPTT`).
        autograd is the default because it supports everything autograd does (double
        backward, torch.func, hooks on intermediate states) and is the reference the manual
        path is tested against; choose "manual" to study BPTT or for speed.

    Inputs: input (L, N, H_in), or (N, L, H_in) with batch_first=True, or (L, H_in);
    hx (num_layers * num_directions, N, H), zeros if omitted.
    Outputs: output (L, N, num_directions * H) and h_n (num_layers * num_directions, N, H).
    """

    gate_count = 3
    step_forward = staticmethod(step_forward)
    step_backward = staticmethod(step_backward)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, reset_after=True, bptt="autograd",
                 device=None, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, bptt=bptt, device=device, dtype=dtype)
        self.reset_after = bool(reset_after)

    def extra_repr(self):
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")

    def cell(self):
        if self.reset_after:
            return step_forward, step_backward
        return step_forward_reset_before, step_backward_reset_before

    def fused(self):
        if not self.reset_after:
            return None
        return partial(FusedBPTT.apply, fused_step_forward, fused_step_backward)


# ----------------------------------------------------------------------------- Fast twin
# The pair above, fused for training (bptt="manual" runs it through `gatedrnn.bptt.FusedBPTT`):
# the same equations in fewer operations; the backward step leaves (GB6) to the loop.

def fused_step_forward(gates_x, H_prev, weight_hh, bias_hh):
    """`step_forward` with one sigmoid for R_t and Z_t, and lerp for (G4)."""
    h = H_prev.shape[1]
    x_rz, x_h = gates_x.split([2 * h, h], dim=1)
    hidden_rz, U = linear(H_prev, weight_hh, bias_hh).split([2 * h, h], dim=1)
    RZ = hidden_rz.add_(x_rz).sigmoid_()                                        # (G1), (G2)
    R, Z = RZ.chunk(2, dim=1)
    H_tilde = tanh_(torch.addcmul(x_h, R, U))                                   # (G3)
    H = torch.lerp(H_tilde, H_prev, Z)                                          # (G4)
    return H, (H_prev, RZ, R, Z, U, H_tilde, weight_hh)


def fused_step_backward(dH, cache, dgates_x, dhidden):
    """`step_backward` without (GB6), writing [dA^r, dA^z, dA^h] into dgates_x and the
    gradient of H_{t-1} W_h + b_h, [dA^r, dA^z, dU], into dhidden, which the loop needs for
    (GB6). Returns (dH_prev, dhidden)."""
    H_prev, RZ, R, Z, U, H_tilde, weight_hh = cache
    h = H_prev.shape[1]
    dA_rz, dA_h = dgates_x.split([2 * h, h], dim=1)
    dR, dZ, dU = dhidden.split(h, dim=1)
    dH_Z = dH * Z
    dH_tilde = dH - dH_Z                                                        # (GB1)
    torch.addcmul(dH_tilde, dH_tilde * H_tilde, H_tilde, value=-1, out=dA_h)   # (GB2)
    torch.mul(dA_h, U, out=dR)                                                  # (GB3)
    torch.mul(dH, H_prev - H_tilde, out=dZ)                                     # (GB1)
    dRZ_RZ = dhidden[:, :2 * h] * RZ        # (GB4) for both gates: x - x * RZ, x = dRZ * RZ
    torch.addcmul(dRZ_RZ, dRZ_RZ, RZ, value=-1, out=dA_rz)
    dhidden[:, :2 * h] = dA_rz
    torch.mul(dA_h, R, out=dU)                                                  # (GB3)
    return linear(dhidden, weight_hh.t(), add=dH_Z), dhidden                    # (GB5)
