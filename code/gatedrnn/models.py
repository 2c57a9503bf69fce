"""A recurrent layer made into a model with a task's output: SequenceModel."""
import torch
from torch import nn

from . import _checks


class SequenceModel(nn.Module):
    """[Embedding ->] recurrent layer -> Linear, for any torch.nn-style recurrent layer.

    rnn: a batch_first recurrent layer (gatedrnn.GRU, torch.nn.GRU, ...), any number of layers
        and directions.
    output_size: features the Linear readout produces.
    vocab_size: if given, inputs are token ids (N, L) that an nn.Embedding of width
        rnn.input_size turns into vectors first.
    readout: what the Linear reads.
      "state" (default, many-to-one: the adding problem, a sentiment classifier): the top
        layer's final state in every direction, (N, output_size). The forward direction's
        state after the last step and, if bidirectional, the backward direction's after the
        *first* step, so both have read the whole sequence. (For an LSTM, h, not c.)
      "last" (many-to-one): the output at the last step, output[:, -1]. Refused for a
        bidirectional layer, whose backward direction has read one step there.
      "every" (many-to-many: the copying task, a language model): the output at every step,
        (N, L, output_size).
    """

    def __init__(self, rnn, output_size, *, vocab_size=None, readout="state"):
        super().__init__()
        _checks.check_batch_first(rnn, "SequenceModel")
        _checks.check_readout(readout, rnn)
        directions = 2 if getattr(rnn, "bidirectional", False) else 1
        self.embedding = None if vocab_size is None else nn.Embedding(vocab_size, rnn.input_size)
        self.rnn = rnn
        self.readout_kind, self.directions = readout, directions
        self.readout = nn.Linear(directions * rnn.hidden_size, output_size)

    def forward(self, inputs):
        x = inputs if self.embedding is None else self.embedding(inputs)
        output, state = self.rnn(x)
        if self.readout_kind == "every":
            return self.readout(output)
        if self.readout_kind == "last":
            return self.readout(output[:, -1])
        hidden = state[0] if isinstance(state, tuple) else state   # (layers * directions, N, h)
        top = hidden[-self.directions:]                             # the top layer's directions
        return self.readout(torch.cat(list(top), dim=-1))
