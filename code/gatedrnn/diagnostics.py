"""Measuring how gradients travel back through time."""
import torch


def state_gradients(step_backward, caches, dh_last):
    """dL/dH_t for t = T, T-1, ..., 0 when the loss depends on H_T alone.

    BPTT is step_backward applied again and again: each call takes dL/dH_t and returns
    dL/dH_{t-1}. caches: the forward pass's caches (from `rnn.rnn_sequence` or
    `gru.gru_sequence`); dh_last: dL/dH_T, (n, h). Returns a list of T + 1 tensors (n, h),
    element k being dL/dH_{T-k}: the gradient k steps away from the loss.
    """
    if not caches:
        raise ValueError("caches is empty: run the sequence forward first")
    gradients = [dh_last]
    dh = dh_last
    with torch.no_grad():
        for cache in reversed(caches):
            _, dh, _ = step_backward(dh, cache)
            gradients.append(dh)
    return gradients
