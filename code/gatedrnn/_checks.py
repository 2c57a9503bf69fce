"""Every input check of the package, and its message, in one place.

A wrong *type* raises TypeError, a wrong *value* (a size, a shape, a range) raises ValueError.
Each message names what was expected and what came in, so that the functions the book shows
can stay free of checks: they call one of these first, in one line.
"""
import numbers

import torch
from torch import nn

BPTT_PATHS = ("autograd", "manual")
NONLINEARITIES = ("tanh", "relu")                  # what torch.nn.RNN, and so gatedrnn.RNN, takes
STEP_NONLINEARITIES = NONLINEARITIES + ("identity",)  # the step functions also take a linear cell


def _shape(tensor):
    return tuple(tensor.shape)


def _type_name(value):
    return type(value).__name__


# ----------------------------------------------------------------------------- numbers
def check_int(name, value, minimum=1, maximum=None):
    """value as an int, after checking that it is an int (not a bool) in [minimum, maximum]."""
    # bool is an int in Python; GRU(True, 4) is almost certainly a mistake.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {_type_name(value)} ({value!r})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)


def check_number(name, value, *, low=None, high=None, low_open=False, high_open=False):
    """value as a float, after checking that it is a real number within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {_type_name(value)} ({value!r})")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        if high is None:
            wanted = f"> {low}" if low_open else f">= {low}"
        elif low is None:
            wanted = f"< {high}" if high_open else f"<= {high}"
        else:
            wanted = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number {wanted}, got {value!r}")
    return float(value)


def check_choice(name, value, choices):
    """value, after checking that it is one of `choices`."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def generator_from(seed):
    """A torch.Generator: `seed` itself if it is one, else a new one seeded with the int `seed`."""
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int or a torch.Generator, got {_type_name(seed)}")
    return torch.Generator().manual_seed(int(seed))


# ----------------------------------------------------------------------------- tensors
def check_tensor(name, value):
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_type_name(value)}")
    return value


def check_data(name, data):
    """A pair of tensors (inputs, targets) with as many rows each."""
    if (not isinstance(data, (tuple, list)) or len(data) != 2
            or not all(isinstance(t, torch.Tensor) for t in data)):
        raise TypeError(f"{name} must be a pair of tensors (inputs, targets), got "
                        f"{_type_name(data)}")
    if data[0].shape[0] != data[1].shape[0]:
        raise ValueError(f"{name}: inputs and targets must have as many rows, got "
                         f"{data[0].shape[0]} and {data[1].shape[0]}")
    return data


def check_logits(logits, targets):
    """logits (N, L, classes) and targets (N, L)."""
    check_tensor("logits", logits)
    check_tensor("targets", targets)
    if logits.dim() != 3 or targets.dim() != 2 or logits.shape[:2] != targets.shape:
        raise ValueError(f"expected logits (N, L, classes) and targets (N, L), got "
                         f"{_shape(logits)} and {_shape(targets)}")


def check_square(name, value):
    check_tensor(name, value)
    if value.dim() != 2 or value.shape[0] != value.shape[1]:
        raise ValueError(f"{name} must be a square (h, h) matrix, got shape {_shape(value)}")
    return value


# ----------------------------------------------------------------------------- layers
def check_layer_options(layer, input_size, hidden_size, num_layers, dropout, bptt, dtype):
    """The constructor arguments every recurrent layer shares with torch.nn."""
    check_int("input_size", input_size)
    check_int("hidden_size", hidden_size)
    check_int("num_layers", num_layers)
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
        raise TypeError(f"dropout must be a number in [0, 1], got {_type_name(dropout)}")
    if not 0.0 <= dropout <= 1.0:
        raise ValueError(f"dropout must be a number in [0, 1], got {dropout!r}")
    check_choice("bptt", bptt, BPTT_PATHS)
    if dtype is not None and not dtype.is_floating_point:
        raise TypeError(f"{type(layer).__name__} needs a floating-point dtype, got {dtype}")


def check_proj_size(proj_size):
    if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral):
        raise TypeError(f"proj_size must be an int, got {_type_name(proj_size)} ({proj_size!r})")
    if proj_size != 0:
        raise ValueError(f"gatedrnn.LSTM has no projection (LSTMP): proj_size must be 0, "
                         f"got {proj_size}; use torch.nn.LSTM for proj_size > 0")


def check_layer_input(layer, input, hx):
    """input (and hx, if given) as torch.nn's recurrent layers take them."""
    name = type(layer).__name__
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"{name} expected input to be a torch.Tensor, got {_type_name(input)}")
    layout = "(N, L, H_in)" if layer.batch_first else "(L, N, H_in)"
    if input.dim() not in (2, 3):
        raise ValueError(f"{name} expected input of rank 3 {layout} or rank 2 (L, H_in) "
                         f"for one unbatched sequence, got rank {input.dim()} with shape "
                         f"{_shape(input)}")
    if not input.is_floating_point():
        raise TypeError(f"{name} expected a floating-point input, got {input.dtype}; "
                        f"convert it with .float() (token ids go through an nn.Embedding first)")
    parameter = layer.weight_ih_l0
    if input.dtype != parameter.dtype:
        raise TypeError(f"{name} input has dtype {input.dtype} but the parameters have "
                        f"{parameter.dtype}; convert one to match (e.g. model.double())")
    if input.shape[-1] != layer.input_size:
        raise ValueError(f"{name} expected input with {layer.input_size} features "
                         f"(input_size), got {input.shape[-1]} in shape {_shape(input)}")
    time_axis = 1 if (layer.batch_first and input.dim() == 3) else 0
    if input.shape[time_axis] == 0:
        raise ValueError(f"{name} expected a sequence of length >= 1, got shape {_shape(input)}")
    if hx is None:
        return
    if layer.state_count == 1:
        check_layer_state(layer, "hx", hx, input)
        return
    if not isinstance(hx, (tuple, list)) or len(hx) != layer.state_count:
        got = (f"a {_type_name(hx)} of length {len(hx)}" if isinstance(hx, (tuple, list))
               else _type_name(hx))
        raise TypeError(f"{name} expected hx to be a tuple (h_0, c_0) of two tensors, got {got}")
    for index, (part, part_name) in enumerate(zip(hx, ("h_0", "c_0"))):
        check_layer_state(layer, f"hx[{index}] ({part_name})", part, input)


def check_layer_state(layer, label, state, input):
    """One initial-state tensor: (num_layers * num_directions, N, H), or without N if unbatched."""
    name = type(layer).__name__
    if not isinstance(state, torch.Tensor):
        raise TypeError(f"{name} expected {label} to be a torch.Tensor, got {_type_name(state)}")
    if state.dtype != input.dtype:
        raise TypeError(f"{name} expected {label} with dtype {input.dtype} (the input's), "
                        f"got {state.dtype}")
    stack = layer.num_layers * layer.num_directions
    if input.dim() == 2:
        expected, meaning = (stack, layer.hidden_size), "(num_layers * num_directions, hidden_size)"
    else:
        batch = input.shape[0] if layer.batch_first else input.shape[1]
        expected = (stack, batch, layer.hidden_size)
        meaning = "(num_layers * num_directions, batch, hidden_size)"
    if _shape(state) != expected:
        raise ValueError(f"{name} expected {label} of shape {expected} = {meaning}, "
                         f"got {_shape(state)}")


def check_layer_kind(layer, model_class, caller):
    """A torch.nn-style recurrent layer of the kind of `model_class` (gatedrnn.GRU, ...), from
    gatedrnn or torch.nn alike: both stack model_class.gate_count blocks in weight_hh_l0."""
    kind, gate_count = model_class.__name__, model_class.gate_count
    if not isinstance(layer, nn.Module) or not hasattr(layer, "weight_hh_l0"):
        raise TypeError(f"{caller} expects a gatedrnn.{kind} or torch.nn.{kind}, "
                        f"got {_type_name(layer)}")
    rows = layer.weight_hh_l0.shape[0]
    if rows != gate_count * layer.hidden_size:
        raise TypeError(f"{caller} expects a {kind}, whose weight_hh_l0 stacks {gate_count} gate "
                        f"blocks ({gate_count * layer.hidden_size} rows), got a "
                        f"{_type_name(layer)} with {rows} rows")


def check_instance(name, value, classes, caller):
    if not isinstance(value, classes):
        expected = " or ".join(f"gatedrnn.{c.__name__}" for c in classes)
        raise TypeError(f"{caller} expects {name} to be a {expected}, got {_type_name(value)}")


def check_one_layer(layer, caller):
    if layer.num_layers != 1 or layer.bidirectional:
        raise ValueError(f"{caller} expects one layer and one direction, got num_layers="
                         f"{layer.num_layers}, bidirectional={layer.bidirectional}")


def check_time_major(x, layer, caller):
    """x (T, n, d) with d = layer.input_size."""
    check_tensor("x", x)
    if x.dim() != 3 or x.shape[2] != layer.input_size:
        raise ValueError(f"{caller} expects x of shape time-major (T, n, {layer.input_size}), got "
                         f"shape {_shape(x)}")


def check_sequence_input(layer, input, hx, caller):
    """input (L, N, d), (N, L, d) if batch_first, or (L, d); hx (1, N, H) or (1, H) or None."""
    check_tensor("input", input)
    if input.dim() not in (2, 3):
        raise ValueError(f"{caller} expects input of rank 3 or 2 (one sequence), got shape "
                         f"{_shape(input)}")
    if input.shape[-1] != layer.input_size:
        raise ValueError(f"{caller}: the layer has input_size {layer.input_size}, the input "
                         f"has {input.shape[-1]} features (shape {_shape(input)})")
    if hx is None:
        return
    check_tensor("hx", hx)
    if input.dim() == 2:
        expected = (1, layer.hidden_size)
    else:
        expected = (1, input.shape[0 if layer.batch_first else 1], layer.hidden_size)
    if _shape(hx) != expected:
        raise ValueError(f"{caller} expects hx of shape {expected}, got {_shape(hx)}")


def check_has_bias(layer, caller):
    if not layer.bias:
        raise ValueError(f"{caller} needs a layer built with bias=True, got bias=False")


def check_readout(readout, layer):
    check_choice("readout", readout, ("state", "last", "every"))
    if readout == "last" and getattr(layer, "bidirectional", False):
        raise ValueError('readout="last" gives the backward direction of a bidirectional '
                         'layer one step of input; use readout="state"')


def check_batch_first(layer, caller):
    if not getattr(layer, "batch_first", False):
        raise ValueError(f"{caller} expects a recurrent layer built with batch_first=True")


def check_caches(caches, cache_type=None, caller="state_gradients"):
    if not caches:
        raise ValueError("caches is empty: run the sequence forward first")
    if cache_type is not None and not isinstance(caches[0], cache_type):
        raise TypeError(f"{caller} expects the caches of an {cache_type.__name__[:-5]} step "
                        f"(lstm.step_forward), "
                        f"got {_type_name(caches[0])}")


# ----------------------------------------------------------------------------- truncation
def check_truncation(steps, every, cut_probability):
    check_int("steps", steps)
    if every is not None and cut_probability is not None:
        raise ValueError("give every (regular truncation) or cut_probability (randomized), "
                         f"not both; got every={every!r}, cut_probability={cut_probability!r}")
    if every is not None:
        check_int("every", every)
    if cut_probability is not None:
        check_number("cut_probability", cut_probability, low=0, high=1, low_open=True,
                      high_open=True)


def check_factors(factors, steps):
    if len(factors) != steps:
        raise ValueError(f"need one factor per step: the input has {steps} steps, got "
                         f"{len(factors)} factors")


# ----------------------------------------------------------------------------- training
def check_stop_when(stop_when, eval_data):
    if stop_when is None:
        return
    if not callable(stop_when):
        raise TypeError(f"stop_when must be a callable (eval_loss, eval_metric) -> bool, "
                        f"got {_type_name(stop_when)}")
    if eval_data is None:
        raise ValueError("stop_when needs eval_data to judge")


# ----------------------------------------------------------------------------- data
def check_characters(characters):
    if not characters:
        raise ValueError("CharVocab needs at least one character, got none")
    if any(not isinstance(c, str) or len(c) != 1 for c in characters):
        raise TypeError(f"CharVocab expects single characters, got {characters!r}")
    return characters


def check_known_characters(word, vocabulary):
    unknown = sorted(set(word) - set(vocabulary))
    if unknown:
        raise ValueError(f"characters not in the vocabulary: {unknown!r} (in {word!r})")


def check_words(words):
    if not isinstance(words, (list, tuple)) or not all(isinstance(w, str) for w in words):
        raise TypeError(f"words must be a list of strings, got {_type_name(words)}")
    if not words or not all(words):
        raise ValueError("words must be a non-empty list of non-empty strings")


def check_held_out(count, held_out, fraction):
    if held_out >= count:
        raise ValueError(f"{count} words are too few to hold out {fraction:.0%}")


def check_reviews(name, rows):
    if not rows or not all(isinstance(r, (tuple, list)) and len(r) == 2 for r in rows):
        raise ValueError(f"{name} must be a non-empty list of (text, label) pairs")


def check_targets_left(train_targets, valid_targets):
    if train_targets.numel() == 0 or valid_targets.numel() == 0:
        raise ValueError("unigram_bits_per_character needs at least one target in each set, "
                         f"got {train_targets.numel()} and {valid_targets.numel()}")
