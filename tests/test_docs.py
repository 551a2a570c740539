"""The docs keep up with the code: README commands table, ARCHITECTURE modules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
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


def _options(command: Any) -> set[str]:
    return {
        opt
        for param in command.params
        if param.param_type_name == "option"
        for opt in param.opts
        if opt.startswith("--")
    }


def test_readme_names_no_command_or_option_the_app_lacks() -> None:
    """The other direction: every command and option the README's commands table
    and command headings name exists in the Typer app."""
    commands = _commands(typer.main.get_command(app))
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    headings = [
        line.strip("#` ")
        for line in text.splitlines()
        if re.match(r"^#+ `scaffold ", line)
    ]
    lines = [row.split("|")[1].strip(" `") for row in _commands_table()] + headings
    assert len(lines) >= len(commands)
    for line in lines:
        words = line.removeprefix("scaffold ").split()
        name = next(
            (
                n
                for n in sorted(commands, key=len, reverse=True)
                if line.startswith(f"scaffold {n}")
            ),
            None,
        )
        assert name is not None, f"README names an unknown command: {line}"
        unknown = {
            w.strip("[]|.`,") for w in words if w.strip("[]|.`,").startswith("--")
        } - _options(commands[name])
        assert not unknown, f"scaffold {name}: README names {sorted(unknown)}"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize(
    "doc", ["README.md", "docs/ARCHITECTURE.md", "bench/README.md"]
)
def test_links_to_readme_sections_resolve(doc: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    anchors = {
        _anchor(line.lstrip("#"))
        for line in readme.splitlines()
        if line.startswith("#")
    }
    text = (ROOT / doc).read_text(encoding="utf-8")
    own = {
        _anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")
    }
    for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text):
        where = (
            anchors
            if target.endswith("README.md") or (not target and doc == "README.md")
            else own
            if not target
            else None
        )
        if where is not None:
            assert anchor in where, f"{doc}: link to #{anchor} has no heading"


def test_nothing_cites_material_outside_the_repo() -> None:
    """Docs and code state facts; they do not point at reference material beside
    the repo or at tracker issues of this project."""
    paths = [
        ROOT / "README.md",
        ROOT / "copier.yml",
        *(ROOT / "docs").rglob("*.md"),
        *(ROOT / "bench").rglob("*.*"),
        *(ROOT / "scaffold").rglob("*.py"),
        *(ROOT / "templates").rglob("*"),
        *(ROOT / "tests").glob("*.py"),
    ]
    pattern = re.compile(
        r"shared/reference|\.\./shared|\bissue \d+|§ ?\d|after merging",
        re.IGNORECASE,
    )
    for path in paths:
        if not path.is_file() or "results" in path.parts or path == Path(__file__):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        hits = [m.group(0) for m in pattern.finditer(text)]
        assert not hits, f"{path.relative_to(ROOT)}: cites {hits}"
