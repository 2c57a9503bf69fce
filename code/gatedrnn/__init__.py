"""gatedrnn: the from-scratch recurrent networks of the course
"Gated recurrent networks, from scratch".

Every model is a drop-in twin of its torch.nn namesake (same constructor, state_dict and outputs),
written out equation by equation, with a hand-derived backward pass beside autograd.
"""
from .display import show_source
from .gru import GRU
from .lstm import LSTM
from .models import SequenceModel
from .rnn import RNN
from .tasks import ADDING_BASELINE_MSE, adding_problem, copying_baseline, copying_task
from .training import History, clip_global_norm, evaluate, global_grad_norm, train

__all__ = ["RNN", "GRU", "LSTM", "SequenceModel", "adding_problem", "copying_task",
           "copying_baseline", "ADDING_BASELINE_MSE", "train", "evaluate", "History",
           "clip_global_norm", "global_grad_norm", "show_source"]
