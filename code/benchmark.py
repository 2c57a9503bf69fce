"""Training-step time of gatedrnn's models against their torch.nn twins, printed as ratios.

One training step = forward over the whole sequence, a scalar loss, backward, timed by
`gatedrnn.compare.training_step_time` (the median of several repeats). Each model gets the same
weights and the same input, and its torch.nn twin is timed in the same run.

    python code/benchmark.py            # T=100, batch 64, 32 inputs, 128 units, float32, 2 threads
    python code/benchmark.py --steps 50 --repeats 20
"""
import argparse

import torch

import gatedrnn
from gatedrnn.compare import training_step_time


def output_sum(model_output, _targets):
    """The loss: the sum of every output, so every step sends a gradient back."""
    output, _ = model_output
    return output.sum()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="sequence length T")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--inputs", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.steps, args.batch, args.inputs)
    print(f"T={args.steps}, batch {args.batch}, {args.inputs} inputs, {args.hidden} units, "
          f"float32, {args.threads} threads, median of {args.repeats}")
    for name in ("RNN", "GRU", "LSTM"):
        reference = getattr(torch.nn, name)(args.inputs, args.hidden)
        base = training_step_time(reference, x, None, output_sum, repeats=args.repeats, warmup=3)
        print(f"  torch.nn.{name:<22} {base * 1e3:8.2f} ms   1.00x")
        for bptt in ("manual", "autograd"):
            model = getattr(gatedrnn, name)(args.inputs, args.hidden, bptt=bptt)
            model.load_state_dict(reference.state_dict())
            seconds = training_step_time(model, x, None, output_sum, repeats=args.repeats,
                                         warmup=3)
            label = f"gatedrnn.{name} ({bptt})"
            print(f"  {label:<31} {seconds * 1e3:8.2f} ms   {seconds / base:4.2f}x")


if __name__ == "__main__":
    main()
