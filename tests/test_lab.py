"""gatedrnn.lab: the labs' checkers pass the labs' own solutions and catch and name every
catalogued mistake, whether built from the catalogue or written by hand into a solution."""
import re
import traceback
from pathlib import Path

import nbformat
import pytest
import torch

import gatedrnn
from gatedrnn import lab
from gatedrnn.lab import MISTAKES, STEPS, LabCheckError

ROOT = Path(__file__).resolve().parents[1]
LABS = ROOT / "book" / "labs"
MODELS = ("rnn", "gru", "lstm")


def _solution_sources(model):
    """{grade_id: source} of the lab's nbgrader solution cells (the instructor's solutions)."""
    notebook = nbformat.read(LABS / f"lab_{model}.ipynb", as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("solution")}


def _solutions(model, edit=None):
    """The lab's solution functions, run from the notebook's cells; `edit` = (old, new) plants a
    mistake by replacing text in them (the text must occur)."""
    sources = "\n\n".join(_solution_sources(model).values())
    if edit is not None:
        for old, new in edit:
            assert old in sources, f"the planted edit does not apply: {old!r}"
            sources = sources.replace(old, new)
    namespace = {"torch": torch}
    exec(compile(sources, f"lab_{model} solutions", "exec"), namespace)
    return namespace


def _run_all(model, functions):
    getattr(lab, f"check_{model}_step_forward")(functions[f"{model}_step_forward"])
    getattr(lab, f"check_{model}_step_backward")(functions[f"{model}_step_forward"],
                                                 functions[f"{model}_step_backward"])
    getattr(lab, f"check_{model}_bptt")(functions[f"{model}_forward"],
                                        functions[f"{model}_backward"])
    lab.check_torch_twin(model, functions[f"{model}_to_torch"])
    lab.check_loss_and_gradients(model, functions["loss_and_gradients"])


def test_every_lab_has_the_contract_and_nbgrader_cells():
    for model in MODELS:
        notebook = nbformat.read(LABS / f"lab_{model}.ipynb", as_version=4)
        ids = [cell.metadata["nbgrader"]["grade_id"] for cell in notebook.cells]
        assert len(ids) == len(set(ids)), "grade_ids must be unique"
        points = sum(cell.metadata["nbgrader"].get("points", 0) for cell in notebook.cells)
        assert points == 10
        text = "\n".join(cell.source for cell in notebook.cells)
        assert "Learning objectives" in text and "Estimated time" in text
        for name in (f"{model}_step_forward", f"{model}_step_backward", f"{model}_forward",
                     f"{model}_backward", f"{model}_to_torch", "loss_and_gradients"):
            assert f"def {name}(" in text
        for cell in notebook.cells:
            meta = cell.metadata["nbgrader"]
            if meta["grade"]:   # autograded tests are locked and carry points
                assert meta["locked"] and meta["points"] > 0 and cell.cell_type == "code"
            if meta["solution"]:
                assert "### BEGIN SOLUTION" in cell.source and not meta["locked"]


@pytest.mark.parametrize("model", MODELS)
def test_the_labs_solutions_pass_every_checker(model, capsys):
    _run_all(model, _solutions(model))
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 5 and all("passed" in line for line in printed)


@pytest.mark.parametrize("model", MODELS)
def test_the_checkers_truth_is_the_packages_layer(model):
    """The equations the checkers trust give the outputs and gradients of gatedrnn's layer."""
    P = lab.random_parameters(model, 3, 4, seed=5)
    layer = getattr(gatedrnn, model.upper())(3, 4).double()
    layer.load_state_dict(lab.torch_state_dict(model, P))
    X = torch.randn(7, 2, 3, dtype=torch.float64)
    count = 2 if model == "lstm" else 1
    state0 = tuple(torch.randn(2, 4, dtype=torch.float64) for _ in range(count))
    ours = lab._sequence(model, X, state0, P)[0]
    hx = tuple(s.unsqueeze(0) for s in state0)
    theirs, _ = layer(X, hx if model == "lstm" else hx[0])
    assert torch.allclose(ours, theirs, atol=1e-12)


def _planted(model, key):
    """A wrong implementation in the lab's contract that makes exactly the mistake `key`."""
    mistake = MISTAKES[key]

    def step_forward(X, *args):
        *state, P = args
        out = STEPS[model](X, *state, P, key if mistake.stage == "forward" else None)
        out = out if isinstance(out, tuple) else (out,)
        return (*[o.detach() for o in out], (X, tuple(state), P))

    def step_backward(*args):
        *upstream, (X, state, P) = args
        grads = lab._step_gradients(model, X, state, P, tuple(upstream), key)
        return grads

    def forward(X_seq, *args):
        *state0, P = args
        H_seq = lab._sequence(model, X_seq, tuple(state0), P, key)[0]
        return H_seq.detach(), (X_seq, tuple(state0), P)

    def backward(dH_seq, caches):
        X_seq, state0, P = caches
        return lab._sequence_gradients(model, X_seq, state0, P, dH_seq, key)

    return {"forward": ("step_forward", (step_forward,)),
            "backward": ("step_backward", (step_forward, step_backward)),
            "bptt": ("bptt", (forward, backward))}[mistake.stage]


@pytest.mark.parametrize("key", sorted(MISTAKES))
def test_every_catalogued_mistake_is_caught_and_named(key):
    model = key.split("/")[0]
    part, functions = _planted(model, key)
    with pytest.raises(LabCheckError) as caught:
        getattr(lab, f"check_{model}_{part}")(*functions)
    message = str(caught.value)
    assert f"[{key}]" in message, message
    assert MISTAKES[key].text in message and "largest error" in message


@pytest.mark.parametrize("key", sorted(k for k, m in MISTAKES.items() if m.stage != "bptt"))
def test_step_mistakes_are_caught_through_time_too(key):
    """A wrong step, used by a correct loop, is named by the BPTT checker as well."""
    model = key.split("/")[0]

    def seq_forward(X_seq, *args):
        *state0, P = args
        H_seq = lab._sequence(model, X_seq, tuple(state0), P, key)[0]
        return H_seq.detach(), (X_seq, tuple(state0), P)

    def seq_backward(dH_seq, caches):
        X_seq, state0, P = caches
        return lab._sequence_gradients(model, X_seq, state0, P, dH_seq, key)

    with pytest.raises(LabCheckError, match=re.escape(f"[{key}]")):
        getattr(lab, f"check_{model}_bptt")(seq_forward, seq_backward)


# Mistakes written by hand into the labs' own solutions: (model, edits, checker part, named key).
HANDWRITTEN = [
    ("rnn", [("H = torch.tanh(A)", "H = torch.sigmoid(A)")], "step_forward", "rnn/sigmoid"),
    ("rnn", [('H_prev @ P["W_hh"] + P["b_hh"]', 'H_prev @ P["W_hh"]')], "step_forward",
     "rnn/no-b_hh"),
    ("rnn", [("dA = dH * (1 - H * H)", "dA = dH")], "step_backward", "rnn/no-tanh-grad"),
    ("rnn", [('"H_prev": dA @ P["W_hh"].T', '"H_prev": dA @ P["W_hh"]')], "step_backward",
     "rnn/back-not-transposed"),
    ("rnn", [('"W_hh": H_prev.T @ dA', '"W_hh": dA.T @ H_prev')], "step_backward",
     "rnn/dW-transposed"),
    ("rnn", [('"b_xh": dA.sum(dim=0), "b_hh": dA.sum(dim=0)',
              '"b_xh": dA.mean(dim=0), "b_hh": dA.mean(dim=0)')], "step_backward", "rnn/bias-mean"),
    ("rnn", [("dH_seq[t] + dH_next", "dH_seq[t]")], "bptt", "rnn/no-recurrence"),
    ("rnn", [("totals[key] = totals.get(key, 0) + grad", "totals[key] = grad")], "bptt",
     "rnn/only-first-step"),
    ("gru", [("H = Z * H_prev + (1 - Z) * H_tilde", "H = (1 - Z) * H_prev + Z * H_tilde")],
     "step_forward", "gru/z-swapped"),
    ("gru", [('P["b_xh"] + R * U)', 'P["b_xh"] + (R * H_prev) @ P["W_hh"] + P["b_hh"])')],
     "step_forward", "gru/reset-before"),
    ("gru", [('P["b_xh"] + R * U)', 'P["b_xh"] + U)')], "step_forward", "gru/no-reset"),
    ("gru", [('U = H_prev @ P["W_hh"] + P["b_hh"]', 'U = H_prev @ P["W_hh"]'),
             ('P["b_xh"] + R * U)', 'P["b_xh"] + R * U + P["b_hh"])')],
     "step_forward", "gru/bhh-outside"),
    ("gru", [("dH_prev = dH * Z ", "dH_prev = 0 * dH ")], "step_backward", "gru/no-direct-path"),
    ("gru", [("dR = dA_h * U", "dR = 0 * U")], "step_backward", "gru/no-reset-grad"),
    ("gru", [("dU = dA_h * R", "dU = dA_h")], "step_backward", "gru/no-reset-factor"),
    ("gru", [("dA_r = dR * R * (1 - R)", "dA_r = dR"), ("dA_z = dZ * Z * (1 - Z)", "dA_z = dZ")],
     "step_backward", "gru/no-sigmoid-grad"),
    ("gru", [("dA_h = dH_tilde * (1 - H_tilde * H_tilde)", "dA_h = dH_tilde")], "step_backward",
     "gru/no-tanh-grad"),
    ("lstm", [("C = F * C_prev + I * C_tilde", "C = I * C_prev + F * C_tilde")], "step_forward",
     "lstm/if-swapped"),
    ("lstm", [("H = O * tanh_C ", "H = O * C ")], "step_forward", "lstm/no-tanh-c"),
    ("lstm", [("dC_total = dC + dH * O", "dC_total = dH * O")], "step_backward", "lstm/ignore-dC"),
    ("lstm", [("dC + dH * O * (1 - tanh_C * tanh_C)", "dC + dH * O")], "step_backward",
     "lstm/no-tanh-c-grad"),
    ("lstm", [('"C_prev": dC_total * F}', '"C_prev": 0 * F}')], "step_backward",
     "lstm/no-direct-path"),
    ("lstm", [("dC_next, caches[t])", "torch.zeros_like(dC_next), caches[t])")], "bptt",
     "lstm/no-recurrence-c"),
    # The rest of the issue's list, each written by hand into each model that can make it.
    ("rnn", [('H_prev @ P["W_hh"]', 'H_prev @ P["W_hh"].T')], "step_forward", "rnn/transposed"),
    ("rnn", [("H = H0\n", "H = torch.zeros_like(H0)\n")], "bptt", "rnn/start-from-zero"),
    ("gru", [('R = torch.sigmoid(X @ P["W_xr"] + P["b_xr"] + H_prev @ P["W_hr"] + P["b_hr"])',
              'R = torch.sigmoid(X @ P["W_xz"] + P["b_xz"] + H_prev @ P["W_hz"] + P["b_hz"])'),
             ('Z = torch.sigmoid(X @ P["W_xz"] + P["b_xz"] + H_prev @ P["W_hz"] + P["b_hz"])',
              'Z = torch.sigmoid(X @ P["W_xr"] + P["b_xr"] + H_prev @ P["W_hr"] + P["b_hr"])')],
     "step_forward", "gru/rz-swapped"),
    ("gru", [("R = torch.sigmoid(", "R = torch.tanh("), ("Z = torch.sigmoid(", "Z = torch.tanh("),
             ("H_tilde = torch.tanh(", "H_tilde = torch.sigmoid(")], "step_forward",
     "gru/act-swapped"),
    ("gru", [('H_prev @ P["W_hr"]', 'H_prev @ P["W_hr"].T'),
             ('H_prev @ P["W_hz"] + P["b_hz"])', 'H_prev @ P["W_hz"].T + P["b_hz"])'),
             ('U = H_prev @ P["W_hh"]', 'U = H_prev @ P["W_hh"].T')], "step_forward",
     "gru/transposed"),
    ("gru", [('U = H_prev @ P["W_hh"]', 'U = H_prev @ P["W_hh"].T')], "step_forward",
     "gru/transposed-W_hh"),
    ("gru", [(' + P["b_hz"])  # (G2)', ")  # (G2)")], "step_forward", "gru/no-b_hz"),
    ("gru", [("dA_z = dZ * Z * (1 - Z)", "dA_z = dZ")], "step_backward", "gru/no-sigmoid-grad-z"),
    ("gru", [("dA_r = dR * R * (1 - R)", "dA_r = dR")], "step_backward", "gru/no-sigmoid-grad-r"),
    ("gru", [('dU @ P["W_hh"].T', 'dU @ P["W_hh"]'), ('dA_r @ P["W_hr"].T', 'dA_r @ P["W_hr"]'),
             ('dA_z @ P["W_hz"].T', 'dA_z @ P["W_hz"]')], "step_backward",
     "gru/back-not-transposed"),
    ("gru", [('"W_hh": H_prev.T @ dU', '"W_hh": dU.T @ H_prev'),
             ('"W_hr": H_prev.T @ dA_r', '"W_hr": dA_r.T @ H_prev'),
             ('"W_hz": H_prev.T @ dA_z', '"W_hz": dA_z.T @ H_prev')], "step_backward",
     "gru/dW-transposed"),
    ("gru", [("gru_step_backward(dH_seq[t] + dH_next", "gru_step_backward(dH_seq[t]")], "bptt",
     "gru/no-recurrence"),
    ("gru", [("totals[key] = totals.get(key, 0) + grad", "totals[key] = totals.get(key, grad)")],
     "bptt", "gru/only-last-step"),
    ("lstm", [("I = torch.sigmoid(", "I = torch.tanh("), ("F = torch.sigmoid(", "F = torch.tanh("),
              ("O = torch.sigmoid(", "O = torch.tanh("),
              ("C_tilde = torch.tanh(", "C_tilde = torch.sigmoid(")], "step_forward",
     "lstm/act-swapped"),
    ("lstm", [('H_prev @ P[f"W_h{block}"]', 'H_prev @ P[f"W_h{block}"].T')], "step_forward",
     "lstm/transposed"),
    ("lstm", [('H_prev @ P[f"W_h{block}"]',
               'H_prev @ (P[f"W_h{block}"].T if block == "f" else P[f"W_h{block}"])')],
     "step_forward", "lstm/transposed-W_hf"),
    ("lstm", [('+ P[f"b_{block}"]', '+ (P[f"b_{block}"] if block != "f" else 0)')],
     "step_forward", "lstm/no-b_f"),
    ("lstm", [("dC_total * C_tilde * I * (1 - I)", "dC_total * C_tilde"),
              ("dC_total * C_prev * F * (1 - F)", "dC_total * C_prev"), ("dO * O * (1 - O)", "dO")],
     "step_backward", "lstm/no-sigmoid-grad"),
    ("lstm", [("dC_total * C_prev * F * (1 - F)", "dC_total * C_prev")], "step_backward",
     "lstm/no-sigmoid-grad-f"),
    ("lstm", [("dC_total * I * (1 - C_tilde * C_tilde)", "dC_total * I")], "step_backward",
     "lstm/no-tanh-grad"),
    ("lstm", [('dA[b] @ P[f"W_h{b}"].T', 'dA[b] @ P[f"W_h{b}"]')], "step_backward",
     "lstm/back-not-transposed"),
    ("lstm", [('grads[f"b_{b}"] = dA[b].sum(dim=0)', 'grads[f"b_{b}"] = dA[b].mean(dim=0)')],
     "step_backward", "lstm/bias-mean"),
    ("lstm", [("lstm_step_backward(dH_seq[t] + dH_next", "lstm_step_backward(dH_seq[t]")], "bptt",
     "lstm/no-recurrence"),
    ("lstm", [("totals[key] = totals.get(key, 0) + grad", "totals[key] = grad")], "bptt",
     "lstm/only-first-step"),
]

# The issue's catalogue, in its words, and the catalogued mistakes that make each variant: every
# variant it lists must be catalogued for each model that can make it, and written by hand above.
ISSUE_VARIANTS = {
    "z and 1 - z exchanged": ["gru/z-swapped"],
    "reset gate on the wrong side of the product, (G3') for (G3)": ["gru/reset-before"],
    "the reset gate left out": ["gru/no-reset"],
    "R and Z exchanged": ["gru/rz-swapped"],
    "sigmoid and tanh exchanged": ["rnn/sigmoid", "gru/act-swapped", "lstm/act-swapped"],
    "a bias missing": ["rnn/no-b_hh", "gru/no-b_hz", "lstm/no-b_f"],
    "a square weight used transposed": ["rnn/transposed", "gru/transposed", "lstm/transposed",
                                        "gru/transposed-W_hh", "lstm/transposed-W_hf",
                                        "rnn/back-not-transposed", "gru/back-not-transposed",
                                        "lstm/back-not-transposed", "rnn/dW-transposed",
                                        "gru/dW-transposed"],
    "a missing tanh' or sigmoid' factor": ["rnn/no-tanh-grad", "gru/no-tanh-grad",
                                           "gru/no-sigmoid-grad", "gru/no-sigmoid-grad-r",
                                           "gru/no-sigmoid-grad-z", "lstm/no-tanh-grad",
                                           "lstm/no-tanh-c-grad", "lstm/no-sigmoid-grad",
                                           "lstm/no-sigmoid-grad-f"],
    "the direct Z (or F) path to H_prev (C_prev) dropped": ["gru/no-direct-path",
                                                            "lstm/no-direct-path"],
    "the gradient through the reset gate dropped": ["gru/no-reset-grad"],
    "gradients not summed over time": ["rnn/only-first-step", "gru/only-last-step",
                                       "lstm/only-first-step"],
    "the recurrent term of BPTT missing": ["rnn/no-recurrence", "gru/no-recurrence",
                                           "lstm/no-recurrence", "lstm/no-recurrence-c"],
}


def test_every_variant_the_issue_lists_is_catalogued_and_planted_by_hand():
    handwritten = {key for _, _, _, key in HANDWRITTEN}
    for variant, keys in ISSUE_VARIANTS.items():
        for key in keys:
            assert key in MISTAKES, f"{variant}: {key} is not catalogued"
            assert key in handwritten, f"{variant}: {key} is not planted by hand in a solution"


@pytest.mark.parametrize("model, edits, part, key", HANDWRITTEN,
                         ids=[f"{key}" for _, _, _, key in HANDWRITTEN])
def test_handwritten_mistakes_in_the_solutions_are_caught_and_named(model, edits, part, key):
    functions = _solutions(model, edits)
    names = {"step_forward": [f"{model}_step_forward"],
             "step_backward": [f"{model}_step_forward", f"{model}_step_backward"],
             "bptt": [f"{model}_forward", f"{model}_backward"]}[part]
    with pytest.raises(LabCheckError, match=re.escape(f"[{key}]")):
        getattr(lab, f"check_{model}_{part}")(*[functions[name] for name in names])


@pytest.mark.parametrize("model, edits, fragment", [
    ("gru", [('[P["W_xr"], P["W_xz"], P["W_xh"]]', '[P["W_xz"], P["W_xr"], P["W_xh"]]')],
     "in weight_ih_l0 the blocks are in the order (z, r, n)"),
    ("lstm", [('P[f"W_h{b}"] for b in "ifco"], dim=1).T',
               'P[f"W_h{b}"] for b in "icfo"], dim=1).T')],
     "in weight_hh_l0 the blocks are in the order (i, g, f, o)"),
    ("rnn", [('copy_(P["W_hh"].T)', 'copy_(P["W_hh"])')],
     "weight_hh_l0 holds each W_h* untransposed"),
    ("gru", [('copy_(torch.cat([P["b_hr"], P["b_hz"], P["b_hh"]]))', 'zero_()'),
             ('copy_(torch.cat([P["b_xr"], P["b_xz"], P["b_xh"]]))',
              'copy_(torch.cat([P["b_xr"] + P["b_hr"], P["b_xz"] + P["b_hz"], '
              'P["b_xh"] + P["b_hh"]]))')],
     "the two biases are mixed up"),
])
def test_torch_twin_mistakes_are_named(model, edits, fragment):
    functions = _solutions(model, edits)
    with pytest.raises(LabCheckError, match=re.escape(fragment)):
        lab.check_torch_twin(model, functions[f"{model}_to_torch"])


def _one_sentence(message):
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_stub_gets_one_sentence():
    def rnn_step_forward(X, H_prev, P):
        raise NotImplementedError()

    with pytest.raises(LabCheckError) as caught:
        lab.check_rnn_step_forward(rnn_step_forward)
    assert _one_sentence(str(caught.value)) == (
        "rnn_step_forward still raises NotImplementedError: replace the `raise "
        "NotImplementedError` line with your code.")
    printed = "".join(traceback.format_exception(caught.value))   # as plain Python prints it
    assert "During handling" not in printed and "raise NotImplementedError()" not in printed
    with pytest.raises(LabCheckError, match="needs a correct gru_step_forward first"):
        lab.check_gru_step_backward(rnn_step_forward, rnn_step_forward)


@pytest.mark.parametrize("forward, fragment", [
    (lambda X, H, P: torch.tanh(X @ P["W_xh"] + H @ P["W_hh"]),
     "must return (H, cache), a tuple of 2; it returned a Tensor"),
    (lambda X, H, P: ((X @ P["W_xh"]).numpy(), None), "H must be a torch.Tensor, got ndarray"),
    (lambda X, H, P: (torch.tanh(X @ P["W_xh"])[:, :4], None),
     "H has shape (3, 4), expected (3, 5)"),
    (lambda X, H, P: (torch.tanh(X @ P["W_xh"]).float(), None),
     "H is torch.float32 but the inputs"),
    (lambda X, H, P: (X @ P["W_hh"], None), "raised RuntimeError (line"),
    ("not a function", "rnn_step_forward must be a function, got str"),
])
def test_type_shape_and_crash_messages_are_one_sentence(forward, fragment):
    with pytest.raises(LabCheckError) as caught:
        lab.check_rnn_step_forward(forward)
    assert fragment in _one_sentence(str(caught.value))


def test_backward_dict_problems_are_named():
    functions = _solutions("rnn", [('"b_xh": dA.sum(dim=0), ', '')])
    with pytest.raises(LabCheckError, match=r"lacks the key\(s\) 'b_xh'"):
        lab.check_rnn_step_backward(functions["rnn_step_forward"], functions["rnn_step_backward"])
    functions = _solutions("rnn", [('"b_hh": dA.sum(dim=0)', '"b_hh": dA')])
    with pytest.raises(LabCheckError, match=re.escape("has shape (3, 5), expected (5,) (a bias "
                                                      "gradient sums over the batch")):
        lab.check_rnn_step_backward(functions["rnn_step_forward"], functions["rnn_step_backward"])


def test_an_unknown_mistake_says_so():
    functions = _solutions("rnn", [("H = torch.tanh(A)", "H = torch.tanh(1.5 * A)")])
    with pytest.raises(LabCheckError, match="matches none of the"):
        lab.check_rnn_step_forward(functions["rnn_step_forward"])


def test_loss_gradient_off_by_a_factor_is_named():
    functions = _solutions("gru", [("dY_hat = 2 * (Y_hat - y) / y.shape[0]",
                                    "dY_hat = 2 * (Y_hat - y)")])
    with pytest.raises(LabCheckError, match="off by a constant factor 3"):
        lab.check_loss_and_gradients("gru", functions["loss_and_gradients"])


@pytest.mark.parametrize("model", MODELS)
def test_the_unsolved_student_copy_runs_top_to_bottom(model):
    """Every cell after the first task that runs the student's code may raise in the student
    copy (tag raises-exception), so Run All reaches the end before the lab is solved."""
    from gatedrnn.student import STUB_TAG, student_notebook

    notebook = nbformat.read(LABS / f"lab_{model}.ipynb", as_version=4)
    student, _ = student_notebook(notebook)
    defined = {"run", "final_mse", "reach", "input_gradient"} | {
        name for cell in notebook.cells if cell.metadata["nbgrader"]["solution"]
        for name in re.findall(r"^def (\w+)\(", cell.source, re.MULTILINE)}
    first = next(i for i, c in enumerate(student.cells) if STUB_TAG in c.metadata.get("tags", []))
    for cell in student.cells[first:]:
        if cell.cell_type == "code" and any(re.search(rf"\b{name}\b", cell.source)
                                            for name in defined):
            assert STUB_TAG in cell.metadata.get("tags", []), (
                f"lab_{model}: tag this cell uses-answers:\n{cell.source[:200]}")


def test_the_error_shows_as_one_line_in_a_notebook():
    error = LabCheckError("rnn_step_forward: H is wrong.")
    assert error._render_traceback_() == [
        "\x1b[0;31mLabCheckError\x1b[0m: rnn_step_forward: H is wrong."]
    assert isinstance(error, AssertionError)   # nbgrader and pytest count it as a failed test


def test_random_parameters_follow_the_contract():
    P = lab.random_parameters("gru", 4, 5, seed=1)
    assert list(P) == list(lab.KEYS["gru"])
    assert P["W_xr"].shape == (4, 5) and P["W_hr"].shape == (5, 5) and P["b_xr"].shape == (5,)
    with pytest.raises(ValueError, match="model must be one of"):
        lab.random_parameters("transformer", 4, 5)


def test_the_instructor_guide_lists_every_catalogued_mistake():
    guide = (ROOT / "book" / "instructor_guide.md").read_text()
    assert f"plants each one, and {len(HANDWRITTEN)} of them written by hand" in guide
    missing = [key for key in MISTAKES if f"`{key}`" not in guide]
    assert not missing, f"book/instructor_guide.md does not list {missing}"
    for key, mistake in MISTAKES.items():
        row = next(line for line in guide.splitlines() if line.startswith(f"| `{key}` |"))
        assert mistake.text.replace("*", "\\*") in row, f"the guide's row for {key} is stale"


def test_the_instructor_guides_example_message_is_what_the_checker_prints():
    guide = (ROOT / "book" / "instructor_guide.md").read_text()
    example = re.search(r"```text\n(gru_step_forward: .*?)```", guide, re.DOTALL).group(1)
    functions = _solutions("gru", [('P["b_xh"] + R * U)',
                                    'P["b_xh"] + (R * H_prev) @ P["W_hh"] + P["b_hh"])')])
    with pytest.raises(LabCheckError) as caught:
        lab.check_gru_step_forward(functions["gru_step_forward"])
    assert " ".join(example.split()) == str(caught.value)
