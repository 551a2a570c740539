"""The docs keep up with the code: README commands table, ARCHITECTURE modules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from scaffold import errors
from scaffold.cli import app

ROOT = Path(__file__).resolve().parent.parent


def _commands(group: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf commands by their full name (``fleet add-app``); typer's own click."""
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found.update(_commands(command, f"{prefix}{name} "))
        else:
            found[f"{prefix}{name}"] = command
    return found


def _commands_table() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Commands", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `scaffold ")]


def test_readme_commands_table_names_every_command_and_option() -> None:
    root = typer.main.get_command(app)
    rows = _commands_table()
    for name, command in _commands(root).items():
        mine = [row for row in rows if row.startswith(f"| `scaffold {name} ")]
        mine += [row for row in rows if row.startswith(f"| `scaffold {name}`")]
        assert mine, f"README's commands table has no row for `scaffold {name}`"
        options = {
            opt
            for param in command.params
            if param.param_type_name == "option"
            for opt in param.opts
            if opt.startswith("--") and opt != "--help"
        }
        missing = sorted(o for o in options if not any(o in row for row in mine))
        assert not missing, f"scaffold {name}: README's table omits {missing}"


def test_architecture_lists_every_module() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "scaffold").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        # a package's __init__ may be described by its directory's row
        names = (rel, rel.removesuffix("__init__.py"), rel.removeprefix("scaffold/"))
        assert any(f"`{name}`" in text for name in names), f"{rel} not described"


def test_architecture_exit_codes_match_errors() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = text.split("## Exit codes", 1)[1]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    codes = {
        cls.exit_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ScaffoldError)
    }
    assert documented == codes | {0}
