"""The package's shape: every module imports alone (no import cycles, no hidden order), opens
with a docstring, `import genmnist` changes nothing in the process, the core leaves option names
and commands to the CLI, and no training function grows past 60 lines."""

from __future__ import annotations

import ast
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import genmnist

SRC = Path(genmnist.__file__).resolve().parent
COMMAND = re.compile(r"--[a-z]|\bgenmnist "
                     r"(train|generate|reconstruct|interpolate|fid|data|latent|benchmark)\b")
MODULES = sorted(m.name for m in pkgutil.walk_packages([str(SRC)], "genmnist."))


def module_imports(path: Path, name: str) -> set[str]:
    """The genmnist modules `path` imports when it is imported (not those imported inside
    functions, which run later)."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            for a in node.names:  # `from pkg import submodule` imports the submodule
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base)
    return {m for m in out if m == "genmnist" or m in MODULES}


def test_the_import_graph_has_no_cycles():
    """Module-level imports between genmnist modules form no cycle (a cycle makes a module's
    behaviour depend on which of its partners was imported first)."""
    paths = {m: SRC.parent / (m.replace(".", "/") + ".py") for m in MODULES}
    paths = {m: p if p.exists() else p.with_suffix("") / "__init__.py" for m, p in paths.items()}
    graph = {m: module_imports(p, m) - {m} for m, p in paths.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(n):] + [n]))
            if n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_import_genmnist_has_no_side_effects():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = str(SRC.parent)
    code = ("import os, sys; import genmnist, genmnist.training, genmnist.models; "
            "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    assert out[0] == "None"


def test_every_module_opens_with_a_docstring():
    missing = [p.relative_to(SRC) for p in SRC.rglob("*.py")
               if ast.get_docstring(ast.parse(p.read_text())) is None]
    assert not missing


def test_no_training_function_is_longer_than_60_lines():
    long = []
    for p in (SRC / "training").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 60:
                long.append(f"{p.name}:{node.name}")
    assert not long


def test_core_names_no_options_or_commands():
    """Only genmnist.cli words what the user types; the core raises errors with data (the
    setting, not its option), which cli/wording.py words. Docstrings may still cite them."""
    core = [p for p in SRC.rglob("*.py") if "cli" not in p.relative_to(SRC).parts]
    assert SRC / "training" / "fit.py" in core and SRC / "benchmark.py" in core
    found = []
    for p in core:
        tree = ast.parse(p.read_text())
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef) and n.body
                and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in docs and COMMAND.search(node.value):
                found.append(f"{p.name}: {node.value!r}")
    assert not found
