"""The import direction of docs/architecture.md, checked on the source: commands -> run/results/config ->
datasets/models/tasks/visualization; only the CLI imports a command; one module per sub-command."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dlbook.cli import COMMANDS

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "dlbook"
# The library that builds models and reads data: it knows nothing of runs, results, configs or commands.
LOWER = ("datasets", "models", "tasks", "visualization")
UPPER = ("dlbook.cli", "dlbook.commands", "dlbook.run", "dlbook.results", "dlbook.config")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, module: str | None = None) -> set[str]:
    """Every module ``path`` (named ``module``) imports, at its top or in a function, relative ones made absolute."""
    module = module or module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from dlbook import commands` imports the module dlbook.commands
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def source_files() -> list[Path]:
    return sorted(path for path in SRC.rglob("*.py") if "__pycache__" not in path.parts)


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_only_the_cli_imports_a_command():
    offenders = [
        f"{module_name(path)} imports {imported}"
        for path in source_files()
        if module_name(path) != "dlbook.cli" and not within(module_name(path), "dlbook.commands")
        for imported in sorted(imported_modules(path))
        if within(imported, "dlbook.commands")
    ]
    assert offenders == []


def test_commands_do_not_import_each_other():
    offenders = [
        f"{module_name(path)} imports {imported}"
        for path in (PACKAGE / "commands").glob("*.py")
        for imported in sorted(imported_modules(path))
        if within(imported, "dlbook.commands") and imported != module_name(path)
    ]
    assert offenders == []


@pytest.mark.parametrize("folder", LOWER)
def test_datasets_models_and_tasks_import_nothing_above_them(folder):
    offenders = [
        f"{module_name(path)} imports {imported}"
        for path in sorted((PACKAGE / folder).rglob("*.py"))
        for imported in sorted(imported_modules(path))
        if any(within(imported, upper) for upper in UPPER)
    ]
    assert offenders == []


def test_a_model_is_built_from_shapes_and_arrays_not_from_a_loader():
    offenders = [
        f"{module_name(path)} imports {imported}"
        for path in sorted((PACKAGE / "models").rglob("*.py"))
        for imported in sorted(imported_modules(path))
        if within(imported, "dlbook.datasets")
    ]
    assert offenders == []


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_sub_command_has_its_module_in_commands(command):
    assert (PACKAGE / "commands" / f"{command}.py").is_file()


def test_the_checker_sees_lazy_and_relative_imports(tmp_path):
    """The walk must not miss an import hidden in a function or written relative to the package."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..commands import train\n    import dlbook.run.trainer\n", encoding="utf-8")
    found = imported_modules(probe, "dlbook.tasks.probe")
    assert {"dlbook.commands", "dlbook.commands.train", "dlbook.run.trainer"} <= found
