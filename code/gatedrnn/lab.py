r"""Checkers for the labs: run a student's RNN, LSTM or GRU on random data and say what is wrong.

The labs fix one contract, so that these checkers (and any grader) can call the student's code.
Weights are a dict keyed by the notation page's symbols (`KEYS`); X is (n, d), H and C are (n, h),
every W_x* is (d, h), every W_h* is (h, h), every bias is (h,)::

    rnn_step_forward(X, H_prev, P) -> (H, cache)
    rnn_step_backward(dH, cache) -> {"X", "H_prev", every key of P: gradient}
    gru_step_forward / gru_step_backward: the same
    lstm_step_forward(X, H_prev, C_prev, P) -> (H, C, cache)
    lstm_step_backward(dH, dC, cache) -> {"X", "H_prev", "C_prev", every key of P: gradient}

    rnn_forward(X_seq, H0, P) -> (H_seq, caches)           X_seq (T, n, d), H_seq (T, n, h)
    lstm_forward(X_seq, H0, C0, P) -> (H_seq, caches)
    rnn_backward(dH_seq, caches) -> {"X": (T, n, d), "H0", ("C0",) every key of P summed over time}

where dH_seq[t] is dL/dH_t from outside the recurrence (the output layer), not the total.

Each ``check_<model>_<part>`` runs the student's functions on several random float64 draws
(n = 3, d = 4, h = 5, nonzero biases) against autograd on a plain re-implementation of the
notation page's equations. It prints one "passed" line when everything matches. Otherwise it
raises `LabCheckError` (an AssertionError) whose message names the first wrong output and its
largest error, and, if the student's result equals one of the known wrong variants in
`MISTAKES`, names that mistake and the equation to re-read. A stub, a wrong type or a wrong shape
gets one sentence.

The wrong variants are computed the same way as the truth: autograd through the equations, with
the mistake built into the graph. A derivative factor left out is a "straight-through"
nonlinearity (its value, but derivative 1); a gradient path dropped is a ``detach()``; a weight
not transposed on the way back is a matrix product whose backward multiplies by W instead of W^T.
"""
import copy
import functools
import itertools
import traceback
from pathlib import Path
from typing import NamedTuple

import torch

__all__ = ["KEYS", "MISTAKES", "LabCheckError", "Mistake", "random_parameters",
           "check_rnn_step_forward", "check_rnn_step_backward", "check_rnn_bptt",
           "check_gru_step_forward", "check_gru_step_backward", "check_gru_bptt",
           "check_lstm_step_forward", "check_lstm_step_backward", "check_lstm_bptt",
           "check_torch_twin", "check_loss_and_gradients", "train_adding"]

KEYS = {
    "rnn": ("W_xh", "W_hh", "b_xh", "b_hh"),
    "gru": ("W_xr", "W_hr", "b_xr", "b_hr", "W_xz", "W_hz", "b_xz", "b_hz",
            "W_xh", "W_hh", "b_xh", "b_hh"),
    "lstm": ("W_xi", "W_hi", "b_i", "W_xf", "W_hf", "b_f", "W_xc", "W_hc", "b_c",
             "W_xo", "W_ho", "b_o"),
}
EQUATIONS = {"rnn": "(R1)", "gru": "(G1)-(G4)", "lstm": "(L1)-(L6)"}
SIZES = dict(n=3, d=4, h=5, T=6)
DRAWS = 3


class LabCheckError(AssertionError):
    """A failed lab check. In a notebook it shows as its one message, without a traceback."""

    def _render_traceback_(self):  # IPython calls this instead of printing the traceback
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


class Mistake(NamedTuple):
    key: str        # short name, e.g. "gru/reset-before"
    stage: str      # "forward", "backward" (one step) or "bptt" (the loop through time)
    text: str       # what the student did
    equation: str   # what to re-read


def _m(model, name, stage, text, equation):
    return Mistake(f"{model}/{name}", stage, text, equation)


def _bias_mistakes(model):
    equation = {"rnn": "(R1)", "gru": "(G1)-(G3)", "lstm": "(L1)-(L4)"}[model]
    return [_m(model, f"no-{key}", "forward", f"the bias {key} is left out", equation)
            for key in KEYS[model] if key.startswith("b_")]


def _one_transposed(model, equations):
    squares = [key for key in KEYS[model] if key.startswith("W_h")]
    return [_m(model, f"transposed-{key}", "forward", f"{key} is used transposed "
               f"(H_prev @ {key}.T; the other square weights are right)", equation)
            for key, equation in zip(squares, equations)]


_COMMON_BACKWARD = [
    ("back-not-transposed", "on the way back a square weight multiplies without its transpose "
     "(dH_prev = dA @ W_h* instead of dA @ W_h*.T)", "the backward of a product: "
     "d(H W)/dH multiplies by W^T"),
    ("dW-transposed", "the gradient of a square weight is transposed "
     "(dA.T @ H_prev instead of H_prev.T @ dA)", "dL/dW_h* = H_{t-1}^T dL/dA"),
    ("bias-mean", "the bias gradients are averaged over the batch instead of summed",
     "a bias is added to every row, so its gradient sums the rows"),
]
_COMMON_BPTT = [
    ("no-recurrence", "the recurrent term of BPTT is missing: dL/dH_t uses only dH_seq[t], "
     "not the gradient that comes back from step t+1",
     "dL/dH_t = dH_seq[t] + (dL/dH_t through step t+1)"),
    ("only-first-step", "the weight gradients are not summed over time: they keep only step 1's "
     "share (the last one a backward loop visits)", "dL/dW = sum over t of each step's share"),
    ("only-last-step", "the weight gradients are not summed over time: they keep only step T's "
     "share", "dL/dW = sum over t of each step's share"),
    ("start-from-zero", "the forward loop ignores H0 and starts from zeros",
     "H_0 is the given initial state"),
    ("shifted", "H_seq holds H_0, ..., H_{T-1} instead of H_1, ..., H_T",
     "H_seq[t] is the state after step t+1"),
]


def _catalogue():
    found = []
    found += [
        _m("rnn", "sigmoid", "forward", "the sigmoid is used instead of tanh", "(R1)"),
        _m("rnn", "no-tanh", "forward", "the tanh is left out (H = A)", "(R1)"),
        _m("rnn", "relu", "forward", "ReLU is used instead of tanh", "(R1)"),
        _m("rnn", "transposed", "forward", "W_hh is used transposed (H_prev @ W_hh.T)", "(R1)"),
    ] + _bias_mistakes("rnn")
    found += [
        _m("gru", "z-swapped", "forward", "Z and 1 - Z are exchanged in the update "
           "(H = (1 - Z) * H_prev + Z * H~)", "(G4)"),
        _m("gru", "reset-before", "forward", "the reset gate is applied before the product, "
           "(R * H_prev) @ W_hh as in (G3'), instead of after it as in (G3)", "(G3)"),
        _m("gru", "no-reset", "forward", "the reset gate is left out of the candidate", "(G3)"),
        _m("gru", "rz-swapped", "forward", "R and Z are exchanged (the reset gate's weights make "
           "the update gate and vice versa)", "(G1)-(G2)"),
        _m("gru", "act-swapped", "forward", "sigmoid and tanh are exchanged (tanh gates, a "
           "sigmoid candidate)", "(G1)-(G3)"),
        _m("gru", "bhh-outside", "forward", "b_hh is added outside the reset product "
           "(R * (H_prev @ W_hh) + b_hh instead of R * (H_prev @ W_hh + b_hh))", "(G3)"),
        _m("gru", "transposed", "forward", "the square weights W_h* are used transposed",
           "(G1)-(G3)"),
    ] + _bias_mistakes("gru") + _one_transposed("gru", ("(G1)", "(G2)", "(G3)"))
    found += [
        _m("lstm", "if-swapped", "forward", "the input and forget gates are exchanged in the cell "
           "update (C = I * C_prev + F * C~)", "(L5)"),
        _m("lstm", "no-tanh-c", "forward", "the tanh of the cell is left out (H = O * C)", "(L6)"),
        _m("lstm", "h-from-c-prev", "forward", "H is computed from the old cell "
           "(H = O * tanh(C_prev))", "(L6)"),
        _m("lstm", "act-swapped", "forward", "sigmoid and tanh are exchanged (tanh gates, a "
           "sigmoid candidate)", "(L1)-(L4)"),
        _m("lstm", "fo-swapped", "forward", "the forget and output gates are exchanged "
           "(each one's weights make the other)", "(L2), (L4)"),
        _m("lstm", "transposed", "forward", "the square weights W_h* are used transposed",
           "(L1)-(L4)"),
    ] + _bias_mistakes("lstm") + _one_transposed("lstm", ("(L1)", "(L2)", "(L3)", "(L4)"))
    found += [
        _m("rnn", "no-tanh-grad", "backward", "the tanh' factor (1 - H^2) is missing", "(R1)"),
        _m("gru", "no-tanh-grad", "backward", "the tanh' factor (1 - H~^2) of the candidate is "
           "missing", "(G3)"),
        _m("gru", "no-sigmoid-grad", "backward", "the sigmoid' factor Z(1 - Z), R(1 - R) of the "
           "gates is missing", "(G1)-(G2)"),
        _m("gru", "no-sigmoid-grad-r", "backward", "the sigmoid' factor R(1 - R) of the reset "
           "gate is missing (the update gate's Z(1 - Z) is there)", "(G1)"),
        _m("gru", "no-sigmoid-grad-z", "backward", "the sigmoid' factor Z(1 - Z) of the update "
           "gate is missing (the reset gate's R(1 - R) is there)", "(G2)"),
        _m("gru", "no-direct-path", "backward", "the direct path Z * dH to H_prev is dropped "
           "(dH_prev gets only the paths through the gates and the candidate)", "(G4)"),
        _m("gru", "no-reset-grad", "backward", "the gradient through the reset gate is dropped",
           "(G3) and (G1)"),
        _m("gru", "no-reset-factor", "backward", "the factor R is missing on the way to W_hh and "
           "b_hh (dL/dU = R * dA, not dA, where U = H_prev W_hh + b_hh)", "(G3)"),
        _m("lstm", "no-tanh-c-grad", "backward", "the tanh' factor (1 - tanh(C)^2) of (L6) is "
           "missing", "(L6)"),
        _m("lstm", "no-tanh-grad", "backward", "the tanh' factor (1 - C~^2) of the candidate is "
           "missing", "(L3)"),
        _m("lstm", "no-sigmoid-grad", "backward", "the sigmoid' factor of the gates is missing",
           "(L1), (L2), (L4)"),
        _m("lstm", "no-sigmoid-grad-i", "backward", "the sigmoid' factor I(1 - I) of the input "
           "gate is missing", "(L1)"),
        _m("lstm", "no-sigmoid-grad-f", "backward", "the sigmoid' factor F(1 - F) of the forget "
           "gate is missing", "(L2)"),
        _m("lstm", "no-sigmoid-grad-o", "backward", "the sigmoid' factor O(1 - O) of the output "
           "gate is missing", "(L4)"),
        _m("lstm", "no-direct-path", "backward", "the direct path F * dC to C_prev is dropped",
           "(L5)"),
        _m("lstm", "ignore-dC", "backward", "the incoming dC (from step t+1) is ignored: the "
           "cell's gradient starts from dH only",
           "(L5)-(L6): dL/dC_t = dC + dH * O * (1 - tanh(C)^2)"),
    ]
    for model in KEYS:
        found += [_m(model, name, "backward", text, eq) for name, text, eq in _COMMON_BACKWARD]
        found += [_m(model, name, "bptt", text, eq) for name, text, eq in _COMMON_BPTT]
    found += [_m("lstm", "no-recurrence-c", "bptt", "the cell's gradient is not carried back "
                 "through time (dL/dC_t from step t+1 is dropped)",
                 "dL/dC_{t-1} = F_t * dL/dC_t")]
    return {mistake.key: mistake for mistake in found}


MISTAKES = _catalogue()


# --- the equations, with each mistake built into the autograd graph ------------------------------

def _straight(function, x):
    """function(x) in value, but derivative 1: the derivative factor left out."""
    return x + (function(x) - x).detach()


class _BackNotTransposed(torch.autograd.Function):
    """H @ W whose backward multiplies by W instead of W^T."""

    @staticmethod
    def forward(ctx, H, W):
        ctx.save_for_backward(H, W)
        return H @ W

    @staticmethod
    def backward(ctx, grad):
        H, W = ctx.saved_tensors
        return grad @ W, H.t() @ grad


class _GradTransposed(torch.autograd.Function):
    """H @ W whose weight gradient comes out transposed."""

    @staticmethod
    def forward(ctx, H, W):
        ctx.save_for_backward(H, W)
        return H @ W

    @staticmethod
    def backward(ctx, grad):
        H, W = ctx.saved_tensors
        return grad @ W.t(), (H.t() @ grad).t()


class _Equations:
    """The building blocks of (R1), (G1)-(G4), (L1)-(L6) with one mistake (or none) built in."""

    def __init__(self, model, P, mistake=None):
        self.model, self.P = model, P
        self.name = mistake.split("/", 1)[1] if mistake else None

    def xw(self, X, key):
        return X @ self.P[key]

    def hw(self, H, key):
        W = self.P[key]
        if self.name in ("transposed", f"transposed-{key}"):
            return H @ W.t()
        if self.name == "back-not-transposed":
            return _BackNotTransposed.apply(H, W)
        if self.name == "dW-transposed":
            return _GradTransposed.apply(H, W)
        return H @ W

    def b(self, key, n):
        if self.name == f"no-{key}":
            return torch.zeros_like(self.P[key])
        bias = self.P[key]
        if self.name == "bias-mean":
            return bias / n + (bias - bias / n).detach()
        return bias

    def sigmoid(self, x, gate):
        if self.name == "act-swapped":
            return torch.tanh(x)
        if self.name in ("no-sigmoid-grad", f"no-sigmoid-grad-{gate}"):
            return _straight(torch.sigmoid, x)
        return torch.sigmoid(x)

    def tanh(self, x):
        if self.name == "act-swapped":
            return torch.sigmoid(x)
        if self.name == "no-tanh-grad":
            return _straight(torch.tanh, x)
        return torch.tanh(x)


def _rnn_step(X, H_prev, P, mistake=None):
    """H_t of (R1), with the catalogued `mistake` built in (None: the right step)."""
    e, n = _Equations("rnn", P, mistake), X.shape[0]
    A = e.xw(X, "W_xh") + e.b("b_xh", n) + e.hw(H_prev, "W_hh") + e.b("b_hh", n)
    if e.name == "sigmoid":
        return torch.sigmoid(A)
    if e.name == "no-tanh":
        return A
    if e.name == "relu":
        return torch.relu(A)
    if e.name == "no-tanh-grad":
        return _straight(torch.tanh, A)
    return torch.tanh(A)                                                  # (R1)


def _gru_step(X, H_prev, P, mistake=None):
    """H_t of (G1)-(G4), with the catalogued `mistake` built in (None: the right step)."""
    e, n = _Equations("gru", P, mistake), X.shape[0]
    r, z = ("z", "r") if e.name == "rz-swapped" else ("r", "z")
    R = e.sigmoid(e.xw(X, f"W_x{r}") + e.b(f"b_x{r}", n)
                  + e.hw(H_prev, f"W_h{r}") + e.b(f"b_h{r}", n), "r")       # (G1)
    Z = e.sigmoid(e.xw(X, f"W_x{z}") + e.b(f"b_x{z}", n)
                  + e.hw(H_prev, f"W_h{z}") + e.b(f"b_h{z}", n), "z")       # (G2)
    if e.name == "no-reset":
        R = torch.ones_like(R)
    if e.name == "no-reset-grad":
        R = R.detach()
    if e.name == "reset-before":
        reset_term = e.hw(R * H_prev, "W_hh") + e.b("b_hh", n)                # (G3')
    elif e.name == "bhh-outside":
        reset_term = R * e.hw(H_prev, "W_hh") + e.b("b_hh", n)
    elif e.name == "no-reset-factor":
        U = e.hw(H_prev, "W_hh") + e.b("b_hh", n)
        # the value R * U, but the gradient reaching U is dA instead of R * dA
        reset_term = R * U.detach() + (U - U.detach())
    else:
        reset_term = R * (e.hw(H_prev, "W_hh") + e.b("b_hh", n))               # R_t * U_t
    candidate = e.tanh(e.xw(X, "W_xh") + e.b("b_xh", n) + reset_term)       # (G3)
    kept = H_prev.detach() if e.name == "no-direct-path" else H_prev
    if e.name == "z-swapped":
        return (1 - Z) * kept + Z * candidate
    return Z * kept + (1 - Z) * candidate                                   # (G4)


def _lstm_step(X, H_prev, C_prev, P, mistake=None):
    """(H_t, C_t) of (L1)-(L6), with the catalogued `mistake` built in (None: the right step)."""
    e, n = _Equations("lstm", P, mistake), X.shape[0]

    def pre(block):
        return e.xw(X, f"W_x{block}") + e.hw(H_prev, f"W_h{block}") + e.b(f"b_{block}", n)

    f, o = ("o", "f") if e.name == "fo-swapped" else ("f", "o")
    I = e.sigmoid(pre("i"), "i")                                             # (L1)
    F = e.sigmoid(pre(f), "f")                                               # (L2)
    if e.name == "no-tanh-grad":
        candidate = _straight(torch.tanh, pre("c"))
    elif e.name == "act-swapped":
        candidate = torch.sigmoid(pre("c"))
    else:
        candidate = torch.tanh(pre("c"))                                     # (L3)
    O = e.sigmoid(pre(o), "o")                                               # (L4)
    kept = C_prev.detach() if e.name == "no-direct-path" else C_prev
    if e.name == "if-swapped":
        C = I * kept + F * candidate
    else:
        C = F * kept + I * candidate                                         # (L5)
    if e.name == "no-tanh-c":
        H = O * C
    elif e.name == "h-from-c-prev":
        H = O * torch.tanh(C_prev)
    elif e.name == "no-tanh-c-grad":
        H = O * _straight(torch.tanh, C)
    elif e.name == "ignore-dC":
        H = O * torch.tanh(C)
        C = C.detach()  # the value of C, but no gradient from the caller's dC
    else:
        H = O * torch.tanh(C)                                                # (L6)
    return H, C


STEPS = {"rnn": _rnn_step, "gru": _gru_step, "lstm": _lstm_step}


def _sequence(model, X_seq, state0, P, mistake=None):
    """Run the step over time; returns H_seq (T, n, h), and C_seq for the LSTM."""
    name = mistake.split("/", 1)[1] if mistake else None
    T = X_seq.shape[0]
    state = tuple(torch.zeros_like(s) for s in state0) if name == "start-from-zero" else state0
    detached = {key: value.detach() for key, value in P.items()}
    H_seq, C_seq = [], []
    for t in range(T):
        P_t = P
        if (name == "only-first-step" and t > 0) or (name == "only-last-step" and t < T - 1):
            P_t = detached
        if t > 0 and name == "no-recurrence":
            state = (state[0].detach(),) + tuple(state[1:])
        if t > 0 and name == "no-recurrence-c":
            state = (state[0], state[1].detach())
        if name == "shifted":
            H_seq.append(state[0])
        out = STEPS[model](X_seq[t], *state, P_t, mistake if name not in _SEQ_NAMES else None)
        state = out if isinstance(out, tuple) else (out,)
        if name != "shifted":
            H_seq.append(state[0])
        if len(state) > 1:
            C_seq.append(state[1])
    H_seq = torch.stack(H_seq)
    return (H_seq, torch.stack(C_seq)) if C_seq else (H_seq,)


_SEQ_NAMES = {name for name, _, _ in _COMMON_BPTT} | {"no-recurrence-c"}


# --- random draws --------------------------------------------------------------------------------

def random_parameters(model, d, h, *, seed=0, scale=0.5, dtype=torch.float64):
    """A weight dict in the labs' contract: W_x* (d, h), W_h* (h, h), b_* (h,), N(0, scale^2)."""
    if model not in KEYS:
        raise ValueError(f"model must be one of {sorted(KEYS)}, got {model!r}")
    generator = torch.Generator().manual_seed(seed)
    shapes = {"x": (d, h), "h": (h, h)}
    return {key: scale * torch.randn(shapes[key[2]] if key.startswith("W_") else (h,),
                                     generator=generator, dtype=dtype)
            for key in KEYS[model]}


def _draw(model, seed, T=None):
    n, d, h = SIZES["n"], SIZES["d"], SIZES["h"]
    generator = torch.Generator().manual_seed(1000 + seed)

    def randn(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    P = random_parameters(model, d, h, seed=2000 + seed)
    lead = () if T is None else (T,)
    data = {"X": randn(*lead, n, d), "H": torch.tanh(randn(n, h)), "dH": randn(*lead, n, h)}
    if model == "lstm":
        data["C"], data["dC"] = randn(n, h), randn(n, h)
    return P, data


# --- calling the student's code ------------------------------------------------------------------

def _fail(message):
    error = LabCheckError(message)
    error.__suppress_context__ = True  # plain Python too: no chained traceback
    raise error


def _where(error):
    """'line 7 of rnn_step_forward': the last frame of the traceback outside this module."""
    torch_dir = str(Path(torch.__file__).parent)
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if f.filename != __file__ and not f.filename.startswith(torch_dir)]
    return f" (line {frames[-1].lineno} of {frames[-1].name})" if frames else ""


def _call(name, function, *args):
    if not callable(function):
        _fail(f"{name} must be a function, got {type(function).__name__}.")
    args = [({k: v.clone() for k, v in a.items()} if isinstance(a, dict)
             else a.clone() if isinstance(a, torch.Tensor) else a) for a in args]
    try:
        return function(*args)
    except NotImplementedError:
        _fail(f"{name} still raises NotImplementedError: replace the `raise NotImplementedError` "
              f"line with your code.")
    except LabCheckError:
        raise
    except Exception as error:  # the student's own bug: one sentence, not the checker's traceback
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        _fail(f"{name} raised {type(error).__name__}{_where(error)}: {first}")


def _tensor(name, what, value, shape, dtype):
    if not isinstance(value, torch.Tensor):
        _fail(f"{name}: {what} must be a torch.Tensor, got {type(value).__name__}.")
    if tuple(value.shape) != tuple(shape):
        hint = ""
        if len(shape) == 1 and tuple(value.shape)[-1:] == tuple(shape):
            hint = " (a bias gradient sums over the batch: .sum(dim=0))"
        _fail(f"{name}: {what} has shape {tuple(value.shape)}, expected {tuple(shape)}{hint}.")
    if value.dtype != dtype:
        _fail(f"{name}: {what} is {value.dtype} but the inputs were {dtype}: build new tensors "
              f"with the inputs' dtype (torch.zeros_like, or dtype=X.dtype).")
    return value


def _tuple(name, value, length, names):
    if not isinstance(value, (tuple, list)) or len(value) != length:
        got = (f"a {type(value).__name__} of length {len(value)}"
               if isinstance(value, (tuple, list)) else f"a {type(value).__name__}")
        _fail(f"{name} must return {names}, a tuple of {length}; it returned {got}.")
    return value


def _dict(name, value, keys, shapes, dtype):
    if not isinstance(value, dict):
        _fail(f"{name} must return a dict of gradients keyed {', '.join(map(repr, keys))}; "
              f"it returned a {type(value).__name__}.")
    missing = [key for key in keys if key not in value]
    if missing:
        _fail(f"{name}: the gradient dict lacks the key(s) {', '.join(map(repr, missing))} "
              f"(it must hold {', '.join(map(repr, keys))}).")
    return {key: _tensor(name, f"the gradient {key!r}", value[key], shapes[key], dtype)
            for key in keys}


def _error(a, b):
    return (a - b).abs().max().item()


def _close(a, b):
    return torch.allclose(a, b, rtol=1e-6, atol=1e-9)


def _diagnose(name, model, stages, what, largest, draw, matches):
    head = (f"{name}: {what} is wrong (largest error {largest:.1e}, "
            f"random draw {draw + 1} of {DRAWS}).")
    if matches:
        found = " Or ".join(f"it matches a known mistake: {MISTAKES[k].text}; re-read "
                            f"{MISTAKES[k].equation} [{k}]." for k in matches)
        _fail(f"{head} {found[0].upper()}{found[1:]}")
    count = sum(m.stage in stages and m.key.startswith(model + "/") for m in MISTAKES.values())
    _fail(f"{head} It matches none of the {count} known mistakes in gatedrnn.lab.MISTAKES; "
          f"compare each line with its equation in {EQUATIONS[model]} on the notation page.")


def _candidates(model, stages):
    return [k for k, m in MISTAKES.items() if k.startswith(model + "/") and m.stage in stages]


def _passed(name, what):
    n, d, h = SIZES["n"], SIZES["d"], SIZES["h"]
    print(f"{name}: passed; {what} on {DRAWS} random draws (n={n}, d={d}, h={h}, float64).")


# --- one step ------------------------------------------------------------------------------------

def _state(model, data):
    return (data["H"], data["C"]) if model == "lstm" else (data["H"],)


def _forward_outputs(model, forward, X, state, P):
    name = f"{model}_step_forward"
    n, h = X.shape[0], state[0].shape[1]
    result = _call(name, forward, X, *state, P)
    if model == "lstm":
        H, C, cache = _tuple(name, result, 3, "(H, C, cache)")
        outs = (_tensor(name, "H", H, (n, h), X.dtype), _tensor(name, "C", C, (n, h), X.dtype))
    else:
        H, cache = _tuple(name, result, 2, "(H, cache)")
        outs = (_tensor(name, "H", H, (n, h), X.dtype),)
    return outs, cache


def _reference_step(model, X, state, P, mistake=None):
    out = STEPS[model](X, *state, P, mistake)
    return out if isinstance(out, tuple) else (out,)


def _check_forward(model, forward, name):
    for draw in range(DRAWS):
        P, data = _draw(model, draw)
        state = _state(model, data)
        outs, _ = _forward_outputs(model, forward, data["X"], state, P)
        truth = _reference_step(model, data["X"], state, P)
        for label, got, want in zip(("H", "C"), outs, truth):
            if not _close(got, want):
                matches = [k for k in _candidates(model, {"forward"})
                           if all(_close(g, w) for g, w in
                                  zip(outs, _reference_step(model, data["X"], state, P, k)))]
                _diagnose(name, model, {"forward"}, label, _error(got, want), draw, matches)


def _step_gradients(model, X, state, P, upstream, mistake=None):
    leaves = {"X": X, "H_prev": state[0]}
    if model == "lstm":
        leaves["C_prev"] = state[1]
    leaves.update(P)
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in leaves.items()}
    state = (leaves["H_prev"], leaves["C_prev"]) if model == "lstm" else (leaves["H_prev"],)
    outs = _reference_step(model, leaves["X"], state, {k: leaves[k] for k in P}, mistake)
    loss = sum((o * u).sum() for o, u in zip(outs, upstream))
    grads = torch.autograd.grad(loss, list(leaves.values()), allow_unused=True)
    return {k: (torch.zeros_like(v) if g is None else g)
            for (k, v), g in zip(leaves.items(), grads)}


def _compare_gradients(name, model, stages, got, want, draw, variant):
    """The first key whose gradient is wrong, diagnosed: variant(mistake) gives its gradients."""
    for key in want:
        if not _close(got[key], want[key]):
            scored = []
            for mistake in _candidates(model, stages):
                grads = variant(mistake)
                if _close(got[key], grads[key]):
                    scored.append((sum(_close(got[k], grads[k]) for k in want), mistake))
            best = max((s for s, _ in scored), default=None)
            matches = [m for s, m in scored if s == best]
            _diagnose(name, model, stages, f"the gradient {key!r}", _error(got[key], want[key]),
                      draw, matches)


def _forward_first(model, forward, name):
    try:
        _check_forward(model, forward, f"{model}_step_forward")
    except LabCheckError as error:
        _fail(f"{name} needs a correct {model}_step_forward first. {error}")


def _check_backward(model, forward, backward):
    name = f"{model}_step_backward"
    _forward_first(model, forward, name)
    for draw in range(DRAWS):
        P, data = _draw(model, draw)
        state = _state(model, data)
        upstream = (data["dH"], data["dC"]) if model == "lstm" else (data["dH"],)
        _, cache = _forward_outputs(model, forward, data["X"], state, P)
        got = _call(name, backward, *upstream, cache)
        want = _step_gradients(model, data["X"], state, P, upstream)
        shapes = {k: tuple(v.shape) for k, v in want.items()}
        got = _dict(name, got, list(want), shapes, data["X"].dtype)

        variant = functools.partial(_step_gradients, model, data["X"], state, P, upstream)
        _compare_gradients(name, model, {"backward"}, got, want, draw, variant)
    _passed(name, "every gradient matches autograd")


# --- through time --------------------------------------------------------------------------------

def _sequence_gradients(model, X_seq, state0, P, dH_seq, mistake=None):
    leaves = {"X": X_seq, "H0": state0[0]}
    if model == "lstm":
        leaves["C0"] = state0[1]
    leaves.update(P)
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in leaves.items()}
    state0 = (leaves["H0"], leaves["C0"]) if model == "lstm" else (leaves["H0"],)
    H_seq = _sequence(model, leaves["X"], state0, {k: leaves[k] for k in P}, mistake)[0]
    grads = torch.autograd.grad((H_seq * dH_seq).sum(), list(leaves.values()), allow_unused=True)
    return {k: (torch.zeros_like(v) if g is None else g)
            for (k, v), g in zip(leaves.items(), grads)}


def _check_bptt(model, forward, backward):
    fname, bname = f"{model}_forward", f"{model}_backward"
    T = SIZES["T"]
    for draw in range(DRAWS):
        P, data = _draw(model, draw, T=T)
        state0 = _state(model, data)
        X_seq = data["X"]
        n, h = X_seq.shape[1], state0[0].shape[1]
        result = _tuple(fname, _call(fname, forward, X_seq, *state0, P), 2, "(H_seq, caches)")
        H_seq = _tensor(fname, "H_seq", result[0], (T, n, h), X_seq.dtype)
        want_H = _sequence(model, X_seq, state0, P)[0]
        if not _close(H_seq, want_H):
            stages = {"forward", "bptt"}
            matches = [k for k in _candidates(model, stages)
                       if _close(H_seq, _sequence(model, X_seq, state0, P, k)[0])]
            _diagnose(fname, model, stages, "H_seq", _error(H_seq, want_H), draw, matches)
        got = _call(bname, backward, data["dH"], result[1])
        want = _sequence_gradients(model, X_seq, state0, P, data["dH"])
        got = _dict(bname, got, list(want), {k: tuple(v.shape) for k, v in want.items()},
                    X_seq.dtype)

        variant = functools.partial(_sequence_gradients, model, X_seq, state0, P, data["dH"])
        _compare_gradients(bname, model, {"backward", "bptt"}, got, want, draw, variant)
    _passed(f"{fname} and {bname}", f"H_seq and every gradient match autograd through T={T} steps")


def check_rnn_step_forward(forward):
    """Check rnn_step_forward(X, H_prev, P) -> (H, cache) against (R1)."""
    _check_forward("rnn", forward, "rnn_step_forward")
    _passed("rnn_step_forward", "H matches (R1)")


def check_rnn_step_backward(forward, backward):
    """Check rnn_step_backward(dH, cache) -> gradients against autograd through (R1)."""
    _check_backward("rnn", forward, backward)


def check_rnn_bptt(forward, backward):
    """Check rnn_forward(X_seq, H0, P) and rnn_backward(dH_seq, caches) (BPTT) against autograd."""
    _check_bptt("rnn", forward, backward)


def check_gru_step_forward(forward):
    """Check gru_step_forward(X, H_prev, P) -> (H, cache) against (G1)-(G4)."""
    _check_forward("gru", forward, "gru_step_forward")
    _passed("gru_step_forward", "H matches (G1)-(G4)")


def check_gru_step_backward(forward, backward):
    """Check gru_step_backward(dH, cache) -> gradients against autograd through (G1)-(G4)."""
    _check_backward("gru", forward, backward)


def check_gru_bptt(forward, backward):
    """Check gru_forward(X_seq, H0, P) and gru_backward(dH_seq, caches) against autograd."""
    _check_bptt("gru", forward, backward)


def check_lstm_step_forward(forward):
    """Check lstm_step_forward(X, H_prev, C_prev, P) -> (H, C, cache) against (L1)-(L6)."""
    _check_forward("lstm", forward, "lstm_step_forward")
    _passed("lstm_step_forward", "H and C match (L1)-(L6)")


def check_lstm_step_backward(forward, backward):
    """Check lstm_step_backward(dH, dC, cache) -> gradients against autograd through (L1)-(L6)."""
    _check_backward("lstm", forward, backward)


def check_lstm_bptt(forward, backward):
    """Check lstm_forward(X_seq, H0, C0, P) and lstm_backward(dH_seq, caches) against autograd."""
    _check_bptt("lstm", forward, backward)


# --- the torch.nn twin ---------------------------------------------------------------------------

TORCH_BLOCKS = {"rnn": ("h",), "gru": ("r", "z", "h"), "lstm": ("i", "f", "c", "o")}
TORCH_CLASSES = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}


def torch_state_dict(model, P):
    """The torch.nn layer's state_dict that holds the weights P (the notation page's table)."""
    blocks = TORCH_BLOCKS[model]
    if model == "lstm":
        bias_ih = torch.cat([P[f"b_{b}"] for b in blocks])
        bias_hh = torch.zeros_like(bias_ih)  # torch adds the two; the book's b_* is their sum
    else:
        bias_ih = torch.cat([P[f"b_x{b}"] for b in blocks])
        bias_hh = torch.cat([P[f"b_h{b}"] for b in blocks])
    return {"weight_ih_l0": torch.cat([P[f"W_x{b}"] for b in blocks], dim=1).t(),
            "weight_hh_l0": torch.cat([P[f"W_h{b}"] for b in blocks], dim=1).t(),
            "bias_ih_l0": bias_ih, "bias_hh_l0": bias_hh}


def _twin_diagnosis(model, got, want, h):
    labels = {"rnn": ("h",), "gru": ("r", "z", "n"), "lstm": ("i", "f", "g", "o")}[model]
    for key in ("weight_ih_l0", "weight_hh_l0"):
        g, w = got[key], want[key]
        chunks = list(w.split(h, dim=0))
        for perm in itertools.permutations(range(len(chunks))):
            if list(perm) != list(range(len(chunks))) and _close(
                    g, torch.cat([chunks[p] for p in perm])):
                found = ", ".join(labels[p] for p in perm)
                return (f"in {key} the blocks are in the order ({found}); "
                        f"torch.nn.{TORCH_CLASSES[model]} stacks them as ({', '.join(labels)})")
        if key == "weight_hh_l0" and _close(g, torch.cat([c.t() for c in chunks])):
            return (f"{key} holds each W_h* untransposed; torch stores W^T (it computes x W^T), "
                    f"so copy P[...].T")
    if model != "lstm" and _close(got["bias_ih_l0"] + got["bias_hh_l0"],
                                  want["bias_ih_l0"] + want["bias_hh_l0"]):
        return ("the two biases are mixed up: torch.nn keeps the b_x* in bias_ih_l0 and the b_h* "
                "in bias_hh_l0 (in the GRU's candidate only b_hh is multiplied by R)")
    return None


def check_torch_twin(model, build):
    """Check build(P) -> a torch.nn.RNN / GRU / LSTM layer that computes what P computes."""
    if model not in KEYS:
        raise ValueError(f"model must be one of {sorted(KEYS)}, got {model!r}")
    name = f"{model}_to_torch"
    cls = getattr(torch.nn, TORCH_CLASSES[model])
    for draw in range(DRAWS):
        P, data = _draw(model, draw, T=SIZES["T"])
        layer = _call(name, build, P)
        if not isinstance(layer, cls):
            _fail(f"{name} must return a torch.nn.{cls.__name__}, got {type(layer).__name__}.")
        d, h = P[f"W_x{TORCH_BLOCKS[model][0]}"].shape
        size = (layer.input_size, layer.hidden_size, layer.num_layers)
        if size != (d, h, 1) or layer.batch_first:
            _fail(f"{name}: the layer is {cls.__name__}(input_size={layer.input_size}, "
                  f"hidden_size={layer.hidden_size}, num_layers={layer.num_layers}, "
                  f"batch_first={layer.batch_first}); expected {cls.__name__}({d}, {h}).")
        layer = copy.deepcopy(layer).double()
        state0 = _state(model, data)
        with torch.no_grad():
            hx = tuple(s.unsqueeze(0) for s in state0)
            out, _ = layer(data["X"], hx if model == "lstm" else hx[0])
        want = _sequence(model, data["X"], state0, P)[0]
        if not torch.allclose(out, want, rtol=1e-4, atol=1e-6):
            got_state = {k: v.detach() for k, v in layer.state_dict().items()}
            expected = torch_state_dict(model, P)
            for key, value in expected.items():
                if key not in got_state:
                    _fail(f"{name}: the layer has no {key!r}; build it with bias=True.")
                if tuple(got_state[key].shape) != tuple(value.shape):
                    _fail(f"{name}: {key} has shape {tuple(got_state[key].shape)}, expected "
                          f"{tuple(value.shape)}: torch stores each W transposed, the blocks "
                          f"stacked along dim 0.")
            reason = _twin_diagnosis(model, got_state, expected, h)
            head = (f"{name}: the layer's outputs differ from the equations "
                    f"(largest error {_error(out, want):.1e}, random draw {draw + 1} of {DRAWS}).")
            _fail(f"{head} It looks like {reason}." if reason else
                  f"{head} Compare your layout with the notation page's table of PyTorch's "
                  f"parameter names.")
    print(f"{name}: passed (the torch.nn.{cls.__name__} reproduces the equations on {DRAWS} "
          f"random draws, T={SIZES['T']}).")


# --- training with the student's BPTT ------------------------------------------------------------

def _readout_reference(model, X_seq, y, P, readout):
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in {**P, **readout}.items()}
    n, h = X_seq.shape[1], readout["W_hq"].shape[0]
    state0 = tuple(torch.zeros(n, h, dtype=X_seq.dtype) for _ in range(2 if model == "lstm" else 1))
    H_seq = _sequence(model, X_seq, state0, {k: leaves[k] for k in P})[0]
    loss = ((H_seq[-1] @ leaves["W_hq"] + leaves["b_q"] - y) ** 2).mean()
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return loss.detach(), dict(zip(leaves, grads))


def check_loss_and_gradients(model, loss_and_gradients):
    """Check loss_and_gradients(P, readout, X_seq, y) -> (loss, grads) against autograd.

    The loss is the mean squared error of Y_hat = H_T W_hq + b_q against y (n, 1), H_T being the
    last state from H_0 = 0 (and C_0 = 0); grads holds every key of P and "W_hq", "b_q".
    """
    if model not in KEYS:
        raise ValueError(f"model must be one of {sorted(KEYS)}, got {model!r}")
    name = "loss_and_gradients"
    import gatedrnn  # the adding problem is public: gatedrnn.adding_problem
    for draw in range(DRAWS):
        h = SIZES["h"]
        generator = torch.Generator().manual_seed(3000 + draw)
        readout = {"W_hq": torch.randn(h, 1, generator=generator, dtype=torch.float64),
                   "b_q": torch.randn(1, generator=generator, dtype=torch.float64)}
        P = random_parameters(model, 2, h, seed=2000 + draw)
        X, y = gatedrnn.adding_problem(SIZES["n"], SIZES["T"], seed=draw, dtype=torch.float64)
        X_seq = X.transpose(0, 1).contiguous()
        loss, grads = _tuple(name, _call(name, loss_and_gradients, P, readout, X_seq, y), 2,
                             "(loss, grads)")
        want_loss, want = _readout_reference(model, X_seq, y, P, readout)
        loss = _tensor(name, "the loss", torch.as_tensor(loss), (), torch.float64)
        if not _close(loss, want_loss):
            _fail(f"{name}: the loss is {loss.item():.6g}, expected {want_loss.item():.6g} "
                  f"(random draw {draw + 1} of {DRAWS}): the mean of (Y_hat - y)^2 over the "
                  f"batch, Y_hat = H_T W_hq + b_q.")
        got = _dict(name, grads, list(want), {k: tuple(v.shape) for k, v in want.items()},
                    torch.float64)
        for key in want:
            if not _close(got[key], want[key]):
                ratio = (got[key] * want[key]).sum() / (want[key] * want[key]).sum()
                hint = ("dH_seq is zero except at the last step, where it is "
                        "dL/dY_hat W_hq^T, and dL/dY_hat = 2 (Y_hat - y) / n")
                if _close(got[key], ratio * want[key]):
                    hint = f"it is off by a constant factor {ratio.item():.3g}; " + hint
                _fail(f"{name}: the gradient {key!r} is wrong (largest error "
                      f"{_error(got[key], want[key]):.1e}, random draw {draw + 1} of {DRAWS}); "
                      f"{hint}.")
    _passed(name, "the loss and every gradient match autograd through the readout and T="
            f"{SIZES['T']} steps of the adding problem")


def train_adding(model, loss_and_gradients, *, seq_len, hidden=16, steps=300, lr=0.01, batch=50,
                 seed=0, eval_every=25, num_train=2000, num_val=500):
    """Train a `model` ("rnn", "gru", "lstm") with the student's gradients on the adding problem.

    Adam on the weights P (scale 1/sqrt(hidden); the LSTM's forget bias starts at 1) and a
    linear readout (W_hq = 0, b_q = 1: the first prediction is the mean target). Every step draws
    `batch` training sequences and asks ``loss_and_gradients(P, readout, X_seq, y)`` for the
    gradients. Returns a dict with the trained "P" and "readout", the evaluated "steps" and the
    validation MSE "val_mse" at each (the baseline, always answering 1, is 1/6).
    """
    from tqdm.auto import tqdm

    import gatedrnn

    if model not in KEYS:
        raise ValueError(f"model must be one of {sorted(KEYS)}, got {model!r}")
    X_train, y_train = gatedrnn.adding_problem(num_train, seq_len, seed=seed + 1)
    X_val, y_val = gatedrnn.adding_problem(num_val, seq_len, seed=seed + 2)
    X_train, X_val = X_train.transpose(0, 1), X_val.transpose(0, 1)  # time first: (T, n, d)
    P = random_parameters(model, X_train.shape[2], hidden, seed=seed, scale=hidden ** -0.5,
                          dtype=torch.float32)
    if model == "lstm":
        P["b_f"] += 1.0  # the forget-gate bias of the LSTM chapter: remember by default
    readout = {"W_hq": torch.zeros(hidden, 1), "b_q": torch.ones(1)}
    weights = {**P, **readout}
    optimizer = torch.optim.Adam(list(weights.values()), lr=lr)
    generator = torch.Generator().manual_seed(seed)

    def val_mse():
        return float(_call("loss_and_gradients", loss_and_gradients, P, readout, X_val, y_val)[0])

    history = {"steps": [0], "val_mse": [val_mse()]}
    for step in tqdm(range(1, steps + 1), desc=f"{model}, T={seq_len}", leave=False):
        rows = torch.randint(0, num_train, (batch,), generator=generator)
        _, grads = _call("loss_and_gradients", loss_and_gradients, P, readout,
                         X_train[:, rows], y_train[rows])
        for key, weight in weights.items():
            weight.grad = grads[key].to(weight.dtype)
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            history["steps"].append(step)
            history["val_mse"].append(val_mse())
    return {"P": P, "readout": readout, **history}
