"""Small wrappers that turn a recurrent layer into a model with a task's output."""
from torch import nn


class SequenceModel(nn.Module):
    """[Embedding ->] recurrent layer -> Linear, for any torch.nn-style recurrent layer.

    rnn: a batch_first recurrent layer (gatedrnn.GRU, torch.nn.GRU, ...).
    output_size: features the Linear readout produces.
    vocab_size: if given, inputs are token ids (N, L) that an nn.Embedding of width
        rnn.input_size turns into vectors first.
    every_step: False reads out only the last step, (N, output_size) (many-to-one, e.g. the
        adding problem or a sentiment classifier); True reads out every step,
        (N, L, output_size) (many-to-many, e.g. the copying task or a language model).
    """

    def __init__(self, rnn, output_size, *, vocab_size=None, every_step=False):
        super().__init__()
        if not getattr(rnn, "batch_first", False):
            raise ValueError("SequenceModel expects a recurrent layer built with batch_first=True")
        self.embedding = None if vocab_size is None else nn.Embedding(vocab_size, rnn.input_size)
        self.rnn = rnn
        directions = 2 if getattr(rnn, "bidirectional", False) else 1
        self.readout = nn.Linear(directions * rnn.hidden_size, output_size)
        self.every_step = every_step

    def forward(self, inputs):
        x = inputs if self.embedding is None else self.embedding(inputs)
        output, _ = self.rnn(x)
        return self.readout(output if self.every_step else output[:, -1])
