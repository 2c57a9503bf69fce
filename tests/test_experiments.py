"""gatedrnn.experiments: the GRU variants are the equations they claim, the runs are
reproducible, and bad options are refused."""
import multiprocessing
import os

import pytest
import torch

from gatedrnn import GRU, RNN
from gatedrnn import experiments as ex


def test_unpinned_tanh_variant_is_the_gru():
    torch.manual_seed(0)
    variant = ex.GRUVariant(3, 5)
    gru = GRU(3, 5, batch_first=True)
    gru.load_state_dict(variant.state_dict())
    x, h0 = torch.randn(4, 7, 3), torch.randn(1, 4, 5)
    for ours, theirs in zip(variant(x, h0), gru(x, h0)):
        torch.testing.assert_close(ours, theirs)


def test_z0_r1_is_the_plain_rnn_on_the_candidate_block():
    torch.manual_seed(1)
    h = 6
    variant = ex.GRUVariant(2, h, update_gate=0.0, reset_gate=1.0)
    rnn = RNN(2, h, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(rnn, name).copy_(getattr(variant, name)[2 * h:])
    x = torch.randn(3, 9, 2)
    torch.testing.assert_close(variant(x)[0], rnn(x)[0])


def test_z0_alone_is_not_the_plain_rnn():
    torch.manual_seed(1)
    h = 6
    pinned_z = ex.GRUVariant(2, h, update_gate=0.0)
    both = ex.GRUVariant(2, h, update_gate=0.0, reset_gate=1.0)
    both.load_state_dict(pinned_z.state_dict())
    x = torch.randn(3, 9, 2)
    assert (pinned_z(x)[0] - both(x)[0]).abs().max() > 1e-3


def test_z1_copies_the_state():
    variant = ex.GRUVariant(2, 4, update_gate=1.0)
    h0 = torch.randn(1, 3, 4)
    _, h_n = variant(torch.randn(3, 5, 2), h0)
    torch.testing.assert_close(h_n, h0)


def test_relu_candidate_is_never_negative_from_a_zero_state():
    torch.manual_seed(2)
    output, _ = ex.GRUVariant(2, 8, candidate="relu")(torch.randn(4, 12, 2))
    assert (output >= 0).all()


@pytest.mark.parametrize("options, error", [({"candidate": "sigmoid"}, ValueError),
                                            ({"update_gate": 1.5}, ValueError),
                                            ({"reset_gate": True}, TypeError),
                                            ({"reset_gate": "1"}, TypeError)])
def test_bad_variant_options_are_refused(options, error):
    with pytest.raises(error, match="candidate|gate"):
        ex.GRUVariant(2, 4, **options)


def test_bad_kind_and_init_are_refused():
    with pytest.raises(ValueError, match="kind"):
        ex.recurrent_layer("LSTM2", 1, 4)
    with pytest.raises(ValueError, match="init"):
        ex.recurrent_layer("RNN", 1, 4, init="zeros")


def test_initialisations_have_the_promised_scale():
    generator = torch.Generator().manual_seed(0)
    small = ex.recurrent_layer("GRU", 1, 64, init="small", generator=generator)
    assert abs(small.weight_hh_l0.std().item() - 0.01) < 0.001
    assert small.bias_hh_l0.abs().max() == 0
    orthogonal = ex.recurrent_layer("GRU", 1, 16, init="orthogonal", generator=generator)
    for block in orthogonal.weight_hh_l0.detach().split(16):
        torch.testing.assert_close(block @ block.T, torch.eye(16), atol=1e-5, rtol=0)


def test_recall_data_targets_the_first_bit_at_the_last_step_only():
    x, y = ex.recall_data(50, 7, seed=3)
    assert x.shape == (50, 8, 1)
    assert (y[:, :-1] == -100).all()
    assert torch.equal(y[:, -1], (x[:, 0, 0] > 0).long())


def test_recall_run_is_reproducible_and_solves_a_short_lag():
    first = ex.recall_run("GRU", 8, 2, seed=0, steps=150)
    second = ex.recall_run("GRU", 8, 2, seed=0, steps=150)
    assert first["solved"] and first["accuracy"] >= 0.95
    assert {k: v for k, v in first.items() if k != "seconds"} == \
        {k: v for k, v in second.items() if k != "seconds"}


def test_longest_lag_stops_at_the_first_failure():
    result = ex.longest_lag("RNN", 2, 0, [1, 400], steps=2, eval_every=1)
    assert len(result["runs"]) <= 2
    assert result["longest"] in (0, 1)
    if result["longest"] == 0:
        assert len(result["runs"]) == 1


def test_state_gradient_norms_match_autograd_on_a_short_sequence():
    torch.manual_seed(4)
    layer = GRU(1, 5, batch_first=True)
    readout = torch.nn.Linear(5, 2)
    x, y = ex.recall_data(6, 3, seed=1)
    _, norms = ex.state_gradient_norms(layer, x, readout, y[:, -1])
    # dL/dH_1 by autograd: H_1 as a leaf, the remaining steps run from it
    _, h1 = layer(x[:, :1])
    h1 = h1.detach().requires_grad_()
    output, _ = layer(x[:, 1:], h1)
    torch.nn.functional.cross_entropy(readout(output[:, -1]), y[:, -1]).backward()
    assert len(norms) == 4
    assert norms[-1] == pytest.approx(float(h1.grad[0].norm(dim=1).mean()), rel=1e-5)


def test_stream_run_reports_accuracies_in_range():
    result = ex.stream_run(True, 0, epochs=1, length=64, num_streams=4)
    for key in ("accuracy", "inside", "across"):
        assert 0.0 <= result[key] <= 1.0


def test_map_seeds_gives_the_same_results_in_one_or_two_processes():
    jobs = [((2, 8), {}), ((3, 8), {})]
    one = ex.map_seeds(_norm_of_random, jobs, processes=1)
    two = ex.map_seeds(_norm_of_random, jobs, processes=2)
    assert one == two


def _norm_of_random(seed, size):
    return float(torch.randn(size, generator=torch.Generator().manual_seed(seed)).norm())


@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(),
                    reason="no fork server on this platform (workers are spawned)")
def test_map_seeds_workers_are_not_forks_of_the_caller():
    # a fork of a Jupyter kernel copies its threads and locks and can hang; the workers must
    # come from the fork server, so their parent is not this process
    parents = ex.map_seeds(os.getppid, [((), {}), ((), {})], processes=2)
    assert os.getpid() not in parents


def test_median():
    assert ex.median([3, 1, 2]) == 2
    assert ex.median([4, 1, 2, 3]) == 2.5
    with pytest.raises(ValueError):
        ex.median([])


def test_init_gradient_norms_do_not_underflow_for_a_tiny_initialisation():
    norms = ex.init_gradient_norms("RNN", "small", 0, hidden_size=8, lag=40, batch=4)
    assert len(norms) == 41
    assert all(n > 0 for n in norms)
    assert norms[40] < 1e-30 * norms[0]     # and they do vanish: sigma_max is about 0.06
