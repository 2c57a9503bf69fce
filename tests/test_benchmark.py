"""code/benchmark.py runs, and prints every path of every model against its torch.nn twin."""
import importlib.util
import pathlib
import re

import torch

BENCHMARK = pathlib.Path(__file__).resolve().parents[1] / "code" / "benchmark.py"
ROW = re.compile(r"\s+(\S.*?)\s+(\d+\.\d\d)\s+(\d+\.\d\d)x\s+([\d,]+|n/a)$")


def run_benchmark(capsys, argv):
    spec = importlib.util.spec_from_file_location("benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    try:
        module.main(argv)
    finally:
        torch.set_num_threads(threads)     # main sets its own thread count
    return capsys.readouterr().out.splitlines()


def test_every_path_against_its_twin(capsys):
    lines = run_benchmark(capsys, ["--steps", "3", "--batch", "2", "--inputs", "3", "--hidden",
                                   "4", "--threads", "1", "--repeats", "2", "--models", "GRU",
                                   "LSTM"])
    assert lines[0].startswith("T=3, batch 2, 3 inputs, 4 units, float32, 1 threads, median of 2")
    rows = [ROW.match(line) for line in lines[2:]]
    assert all(rows), lines
    labels = [row[1] for row in rows]
    assert labels == [f"{prefix}{name}{suffix}" for name in ("GRU", "LSTM")
                      for prefix, suffix in [("torch.nn.", ""), ("torch.nn.", ", oneDNN off"),
                                             ("gatedrnn.", " (manual)"),
                                             ("gatedrnn.", " (autograd)")]]
    for row in rows:
        assert float(row[2]) > 0 and float(row[3]) > 0
    # each model's ratios are to its own twin with oneDNN on: the twin's own row is 1.00x
    assert [row[3] for row in rows[::4]] == ["1.00", "1.00"]
