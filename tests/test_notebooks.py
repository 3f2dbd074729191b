"""Executes the notebooks in notebooks/ end to end with tiny settings, and checks they are committed clean.

The kernel is this interpreter (a temporary kernel spec whose argv is `sys.executable`), so the notebooks
import the tfganad under test; nothing is registered outside the test's temporary directory.
`TFGANAD_NOTEBOOK_FAST=1` makes each notebook a smoke run (one epoch, 16×16 images).
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = ["quickstart.ipynb", "survey_cases.ipynb"]
CELL_TIMEOUT_S = 300
KERNEL = "tfganad-test-kernel"

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install -e '.[dev]')")


def _strip_module():
    spec = importlib.util.spec_from_file_location("strip_outputs", NOTEBOOK_DIR / "strip_outputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def jupyter_path(tmp_path_factory):
    """A private kernel spec that runs this interpreter; skips when nbclient/ipykernel are missing."""
    pytest.importorskip("nbclient", reason="nbclient is not installed (pip install -e '.[dev]')")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed, no Jupyter kernel (pip install -e '.[dev]')")
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tfganad tests", "language": "python"}))
    return root


def _execute(name, tmp_path, jupyter_path, monkeypatch):
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient

    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))
    monkeypatch.setenv("TFGANAD_NOTEBOOK_FAST", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    # First cell: proof that the kernel runs this environment (not some other "python3").
    nb.cells.insert(0, nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, startup_timeout=120, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except NoSuchKernel as err:  # pragma: no cover - depends on the machine
        pytest.skip(f"no Jupyter kernel available: {err}")
    assert nb.cells[0].outputs[0]["text"].strip() == sys.prefix
    del nb.cells[0]
    return nb


def _text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.extend(str(v) for k, v in out.get("data", {}).items() if k.startswith("text/"))
    return "\n".join(parts)


def _figures(nb) -> int:
    return sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))


def test_quickstart_runs_end_to_end(tmp_path, jupyter_path, monkeypatch):
    nb = _execute("quickstart.ipynb", tmp_path, jupyter_path, monkeypatch)
    text = _text(nb)
    assert "fast=True" in text
    assert "tensorboard --logdir" in text
    assert "SavedModel scores match model.predict" in text
    assert "threshold_" in text and "Detector(" in text
    assert _figures(nb) >= 4  # samples, losses, histogram/ROC/PR, reconstructions
    assert list(tmp_path.glob("runs/quickstart-*/saved_model/egbad/1/saved_model.pb"))
    assert list(tmp_path.glob("runs/quickstart-*/logs/train/*"))
    # The stripping tool turns the executed notebook back into the committed one.
    assert _strip_module().strip(nb)
    committed = nbformat.read(NOTEBOOK_DIR / "quickstart.ipynb", as_version=4)
    assert [c.source for c in nb.cells] == [c.source for c in committed.cells]
    assert [c.get("outputs") for c in nb.cells] == [c.get("outputs") for c in committed.cells]


def test_survey_cases_runs_end_to_end(tmp_path, jupyter_path, monkeypatch):
    nb = _execute("survey_cases.ipynb", tmp_path, jupyter_path, monkeypatch)
    text = _text(nb)
    for case in ("case1", "case8"):
        assert f"{case} seed 0: AUROC" in text
    assert "| case | training loss | residual | score | AUROC |" in text
    assert _figures(nb) >= 1


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(not c.outputs and c.execution_count is None for c in code), (
        f"{name} has outputs: run `python notebooks/strip_outputs.py` before committing")
    assert not _strip_module().strip(nb)


def test_strip_outputs_removes_outputs_counts_and_timings():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("1 + 1", execution_count=3, outputs=[
            nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=3)],
            metadata={"execution": {"iopub.status.idle": "2026"}, "tags": ["keep"]}),
        nbformat.v4.new_markdown_cell("text")])
    assert _strip_module().strip(nb)
    cell = nb.cells[0]
    assert cell.outputs == [] and cell.execution_count is None
    assert cell.metadata == {"tags": ["keep"]}
    assert not _strip_module().strip(nb)
