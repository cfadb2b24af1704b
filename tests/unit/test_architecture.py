"""The house rules of python/carekit, checked on the code itself: layers (pyproject's import-linter contract), no
import cycles (function-level imports included), TensorFlow/ONNX Runtime only in the training and model-runtime
layers, and small files."""

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "python" / "carekit"
HEAVY_RUNTIMES = ("tensorflow", "keras", "onnxruntime", "csbdeep", "tf2onnx")
RUNTIME_LAYERS = ("carekit.train", "carekit.models")
MAX_LINES = 300


def _graph():
    return grimp.build_graph("carekit", include_external_packages=True)


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    modules = sorted(m for m in graph.modules if m.startswith("carekit"))
    edges = {m: sorted(d for d in graph.find_modules_directly_imported_by(m) if d.startswith("carekit")) for m in modules}
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(root):
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(edges[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_layers_contract_holds():
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT / "python"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout[-3000:]


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_cycle_detection_finds_a_cycle():
    graph = grimp.ImportGraph()
    for name in ("carekit.a", "carekit.b", "carekit.c"):
        graph.add_module(name)
    graph.add_import(importer="carekit.a", imported="carekit.b")
    graph.add_import(importer="carekit.b", imported="carekit.a")
    graph.add_import(importer="carekit.c", imported="carekit.a")
    assert _cycles(graph) == [["carekit.a", "carekit.b"]]


def test_heavy_runtimes_only_in_training_and_model_runtime_layers():
    graph = _graph()
    outside = {runtime: sorted(m for m in graph.find_modules_that_directly_import(runtime)
                               if not m.startswith(RUNTIME_LAYERS))
               for runtime in HEAVY_RUNTIMES if runtime in graph.modules}
    assert {k: v for k, v in outside.items() if v} == {}


def test_no_python_file_is_long():
    long_files = {str(p.relative_to(ROOT)): n for p in sorted(PACKAGE.rglob("*.py"))
                  if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long_files == {}
