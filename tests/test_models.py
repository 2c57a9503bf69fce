"""SequenceModel: the three readouts, the bidirectional last-step trap, embeddings, any layer."""
import pytest
import torch

import gatedrnn
from gatedrnn import compare


@pytest.mark.parametrize("kind", compare.MODEL_KINDS)
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, False), (2, True)])
def test_state_readout_reads_each_direction_after_the_whole_sequence(kind, layers,
                                                                     bidirectional):
    torch.manual_seed(0)
    rnn = compare.recurrent_layer(kind, 3, 5, num_layers=layers, bidirectional=bidirectional)
    model = gatedrnn.SequenceModel(rnn, 4)                   # readout="state", the default
    x = torch.randn(2, 6, 3)
    output, _ = rnn(x)
    last = output[:, -1, :5]                     # forward direction after the last step
    if bidirectional:
        last = torch.cat([last, output[:, 0, 5:]], dim=-1)   # backward after the first step
    torch.testing.assert_close(model(x), model.readout(last))
    assert model(x).shape == (2, 4)


@pytest.mark.parametrize("kind", compare.MODEL_KINDS)
def test_last_and_state_readouts_agree_for_one_direction(kind):
    torch.manual_seed(0)
    rnn = compare.recurrent_layer(kind, 3, 5, num_layers=2)
    by_state = gatedrnn.SequenceModel(rnn, 2)
    by_last = gatedrnn.SequenceModel(rnn, 2, readout="last")
    by_last.load_state_dict(by_state.state_dict())
    x = torch.randn(4, 7, 3)
    torch.testing.assert_close(by_last(x), by_state(x))


def test_last_readout_refuses_a_bidirectional_layer():
    layer = gatedrnn.GRU(2, 5, batch_first=True, bidirectional=True)
    with pytest.raises(ValueError, match='readout="state"'):
        gatedrnn.SequenceModel(layer, 1, readout="last")


@pytest.mark.parametrize("bptt", ["autograd", "manual"])
def test_every_readout_and_embeddings(bptt):
    every = gatedrnn.SequenceModel(gatedrnn.LSTM(6, 5, batch_first=True, bidirectional=True,
                                                 bptt=bptt), 11, vocab_size=11, readout="every")
    tokens = torch.randint(0, 11, (3, 7))
    logits = every(tokens)
    assert logits.shape == (3, 7, 11)
    logits.sum().backward()
    assert all(p.grad is not None for p in every.parameters())
    # The readout at step t sees that step's output: changing the last token leaves the
    # forward half of the earlier steps alone but not the backward half.
    changed = tokens.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 11
    assert not torch.allclose(every(changed)[:, 0], logits[:, 0])


def test_sequence_model_checks_its_arguments():
    with pytest.raises(ValueError, match="batch_first=True"):
        gatedrnn.SequenceModel(gatedrnn.GRU(2, 5), 1)
    with pytest.raises(ValueError, match="readout must be one of"):
        gatedrnn.SequenceModel(gatedrnn.GRU(2, 5, batch_first=True), 1, readout="first")


def test_sequence_model_takes_a_torch_layer():
    torch.manual_seed(0)
    model = gatedrnn.SequenceModel(torch.nn.LSTM(2, 5, batch_first=True, num_layers=2), 3)
    assert model(torch.randn(4, 6, 2)).shape == (4, 3)
