"""Training-step time of gatedrnn's models against their torch.nn twins, printed as ratios.

One training step = forward over the whole sequence, a scalar loss, backward. Each model gets
the same weights and the same input; the median of several repeats is reported.

    python code/benchmark.py            # T=100, batch 64, 32 inputs, 128 units, float32, 2 threads
    python code/benchmark.py --steps 50 --repeats 20
"""
import argparse
import statistics
import time

import torch

import gatedrnn


def step_time(model, x, repeats, warmup=3):
    """Median wall time of forward + backward, in seconds."""
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        output, _ = model(x)
        output.sum().backward()
        elapsed = time.perf_counter() - start
        model.zero_grad(set_to_none=True)
        if i >= warmup:
            times.append(elapsed)
    return statistics.median(times)


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
    pairs = [("RNN", torch.nn.RNN, gatedrnn.RNN), ("GRU", torch.nn.GRU, gatedrnn.GRU),
             ("LSTM", torch.nn.LSTM, gatedrnn.LSTM)]
    for name, torch_class, scratch_class in pairs:
        reference = torch_class(args.inputs, args.hidden)
        base = step_time(reference, x, args.repeats)
        print(f"  torch.nn.{name:<22} {base * 1e3:8.2f} ms   1.00x")
        for bptt in ("manual", "autograd"):
            model = scratch_class(args.inputs, args.hidden, bptt=bptt)
            model.load_state_dict(reference.state_dict())
            seconds = step_time(model, x, args.repeats)
            label = f"gatedrnn.{name} ({bptt})"
            print(f"  {label:<31} {seconds * 1e3:8.2f} ms   {seconds / base:4.2f}x")


if __name__ == "__main__":
    main()
