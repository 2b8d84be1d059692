"""The layer rules of DESIGN.md, checked twice: import-linter contracts from pyproject.toml,
and at run time (importing the headless packages pulls in no UI toolkit)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_import_linter_contracts_hold() -> None:
    pytest.importorskip("importlinter")
    proc = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "broken" not in proc.stdout.lower() or " 0 broken" in proc.stdout.lower()


@pytest.mark.parametrize(
    "module",
    [
        "emulator",
        "bpfdbg.cli",
        "bpfdbg.conformance",
        "bpfdbg.conformance_plugin",
        "emulator.backends.interp.backend",
    ],
)
def test_headless_modules_import_no_ui_toolkit(module: str) -> None:
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "bad = [m for m in ('textual', 'prompt_toolkit', 'rich') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def _imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_backends_never_import_each_other() -> None:
    backends_dir = ROOT / "emulator" / "backends"
    packages = [p.name for p in backends_dir.iterdir() if (p / "__init__.py").exists()]
    assert "interp" in packages
    for package in packages:
        others = {f"emulator.backends.{o}" for o in packages if o != package}
        for source in (backends_dir / package).rglob("*.py"):
            for name in _imports_of(source):
                assert not any(name == o or name.startswith(o + ".") for o in others), (
                    f"{source.relative_to(ROOT)} imports {name}"
                )
