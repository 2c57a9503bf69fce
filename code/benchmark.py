"""Training-step time of gatedrnn's models against their torch.nn twins, printed as ratios.

One training step = forward over the whole sequence, a scalar loss, backward, timed by
`gatedrnn.compare.training_step_time`. Each model gets the same weights and the same input, and
its torch.nn twin is timed in the same run: the models take turns, one step each, so a busy
machine slows all of them alike, and each ratio is the median of the per-turn ratios.
"manual" is the hand-derived backward pass as the layers train with it: the fast twin of the
step functions (`gatedrnn.bptt.FusedBPTT` for the RNN and GRU, `gatedrnn.lstm.FusedLSTM`).
"autograd" is the teaching step_forward differentiated by autograd. The twin also runs with
oneDNN switched off: for the LSTM that is PyTorch's own loop over time, which autograd
differentiates as it does ours, instead of oneDNN's fused kernel.

The last column counts the minor page faults of a step (memory the operating system had to hand
out afresh), where the platform reports them: a library that frees large blocks and asks for
them again at every call pays for it there, and how much depends on the C library's allocator.

    python code/benchmark.py            # T=100, batch 64, 32 inputs, 128 units, float32, 2 threads
    python code/benchmark.py --steps 50 --repeats 20 --models GRU LSTM
"""
import argparse
import statistics
import warnings

import torch

import gatedrnn
from gatedrnn.compare import training_step_time

try:  # POSIX only; elsewhere the page-fault column says n/a
    import resource
except ImportError:
    resource = None


def output_sum(model_output, _targets):
    """The loss: the sum of every output, so every step sends a gradient back."""
    output, _ = model_output
    return output.sum()


def page_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource else 0


def timed_step(model, x, onednn):
    """(seconds, minor page faults) of one training step, with oneDNN on or off."""
    with torch.backends.mkldnn.flags(enabled=onednn):
        faults = page_faults()
        seconds = training_step_time(model, x, None, output_sum, repeats=1, warmup=0)
        return seconds, page_faults() - faults


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="sequence length T")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--inputs", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--models", nargs="+", default=["RNN", "GRU", "LSTM"],
                        choices=["RNN", "GRU", "LSTM"])
    args = parser.parse_args(argv)
    # flags(enabled=...) repeats a note on TF32, which concerns Intel GPUs only
    warnings.filterwarnings("ignore", message="TF32 acceleration")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.steps, args.batch, args.inputs)
    print(f"T={args.steps}, batch {args.batch}, {args.inputs} inputs, {args.hidden} units, "
          f"float32, {args.threads} threads, median of {args.repeats}")
    print(f"  {'':<33} {'ms/step':>8} {'ratio':>6} {'page faults/step':>17}")
    for name in args.models:
        reference = getattr(torch.nn, name)(args.inputs, args.hidden)
        # label: (model, oneDNN on?)
        runs = {f"torch.nn.{name}": (reference, True),
                f"torch.nn.{name}, oneDNN off": (reference, False)}
        for bptt in ("manual", "autograd"):
            model = getattr(gatedrnn, name)(args.inputs, args.hidden, bptt=bptt)
            model.load_state_dict(reference.state_dict())
            runs[f"gatedrnn.{name} ({bptt})"] = (model, True)
        seconds = {label: [] for label in runs}
        faults = {label: [] for label in runs}
        for turn in range(3 + args.repeats):            # the first 3 turns warm up
            # Every other turn in reverse order, so that no model always runs right after the
            # same one (whose freed memory and cached data it would inherit).
            for label in list(runs)[::1 if turn % 2 else -1]:
                model, onednn = runs[label]
                step, step_faults = timed_step(model, x, onednn)
                if turn >= 3:
                    seconds[label].append(step)
                    faults[label].append(step_faults)
        base = seconds[f"torch.nn.{name}"]
        for label, times in seconds.items():
            ratio = statistics.median(t / b for t, b in zip(times, base))
            fault_text = f"{statistics.median(faults[label]):,.0f}" if resource else "n/a"
            print(f"  {label:<33} {statistics.median(times) * 1e3:8.2f} {ratio:5.2f}x "
                  f"{fault_text:>17}")


if __name__ == "__main__":
    main()
