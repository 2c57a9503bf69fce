"""Truncated backpropagation through time: regular, and randomized without bias.

Truncation changes only the backward pass. The forward pass, and so every output and loss,
is the same as without it; what changes is how far back the gradient of a loss may travel.
Both schemes apply a factor to the gradient that flows back through the state carried from
step t to step t + 1:

- regular truncation every k steps: factor 0 after every k-th step (the state is detached),
  1 elsewhere. A loss never sends gradient across a cut, so a dependency longer than k steps
  cannot be learned; shorter ones only where no cut falls between cause and effect.
- randomized truncation (Tallec & Ollivier, 2017, "ARTBP" with a constant cut probability c):
  after every step, cut with probability c, otherwise multiply the gradient by 1 / (1 - c).
  Each factor has expectation 1 and they are independent, so the expected gradient is the
  full BPTT gradient: no bias, at the price of variance.
"""
import torch
from torch import nn

from . import _checks


def scale_gradient(state, factor):
    """The state unchanged going forward; its gradient times `factor` going back.

    factor 0 is a cut (the same as state.detach()), 1 passes the gradient as it is. A tuple
    of states (an LSTM's (h, c)) gets the same factor for each.
    """
    if isinstance(state, tuple):
        return tuple(scale_gradient(part, factor) for part in state)
    if factor == 1:
        return state
    frozen = state.detach()
    if factor == 0:
        return frozen
    # state - frozen is exactly 0 going forward, and carries the gradient going back.
    return frozen + factor * (state - frozen)


def truncation_factors(steps, *, every=None, cut_probability=None, generator=None):
    """The factor applied to the state after each of `steps` steps (a list of floats).

    every=k: regular truncation (0 after steps k, 2k, ...). cut_probability=c: randomized
    truncation (0 with probability c, else 1 / (1 - c)), drawn from `generator` (an int seed
    or a torch.Generator). Neither: full BPTT, all ones. The factor after the last step never
    matters inside one sequence; it is drawn anyway, so that streams of sequences line up.
    """
    _checks.check_truncation(steps, every, cut_probability)
    if every is not None:
        return [0.0 if (t + 1) % every == 0 else 1.0 for t in range(steps)]
    if cut_probability is not None:
        generator = _checks.generator_from(0 if generator is None else generator)
        draws = torch.rand(steps, generator=generator)
        keep = 1.0 / (1.0 - cut_probability)
        return [0.0 if float(u) < cut_probability else keep for u in draws]
    return [1.0] * steps


def run_truncated(layer, input, factors, hx=None):
    """Run a recurrent layer over `input` with `factors` applied to the carried state.

    layer: any torch.nn-style recurrent layer (gatedrnn or torch.nn; batch_first or not).
    factors: one per step, from `truncation_factors`. The layer runs in one call over each
    stretch of steps between factors other than 1. Returns (output, state) like the layer,
    with exactly the layer's forward values.
    """
    time_axis = 1 if layer.batch_first else 0
    steps = input.shape[time_axis]
    _checks.check_factors(factors, steps)
    outputs, state, start = [], hx, 0
    for t, factor in enumerate(factors):
        if factor != 1 or t == steps - 1:
            chunk = input.narrow(time_axis, start, t + 1 - start)
            output, state = layer(chunk, state)
            outputs.append(output)
            state = scale_gradient(state, factor) if t < steps - 1 else state
            start = t + 1
    return torch.cat(outputs, dim=time_axis), state


class TruncatedBPTT(nn.Module):
    """A batch_first recurrent layer whose training gradient is truncated.

    Same outputs as `layer`; a fresh set of factors is drawn at every call in training mode
    (regular truncation draws nothing). In eval mode it is the layer itself. Exposes the
    layer's sizes, so `gatedrnn.SequenceModel` can wrap it like any layer.
    """

    def __init__(self, layer, *, every=None, cut_probability=None, seed=0):
        super().__init__()
        _checks.check_batch_first(layer, "TruncatedBPTT")
        _checks.check_truncation(1, every, cut_probability)
        self.layer = layer
        self.every, self.cut_probability = every, cut_probability
        self.generator = torch.Generator().manual_seed(seed)
        for name in ("batch_first", "input_size", "hidden_size", "bidirectional"):
            setattr(self, name, getattr(layer, name))

    def forward(self, input, hx=None):
        if not self.training:
            return self.layer(input, hx)
        factors = truncation_factors(input.shape[1], every=self.every,
                                     cut_probability=self.cut_probability,
                                     generator=self.generator)
        return run_truncated(self.layer, input, factors, hx)
