"""``scaffold protect``: make GitHub match ``.github/settings.yml``."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

import typer

from scaffold.cli.app import app, handle_errors
from scaffold.errors import ConfigError, MissingTokenError
from scaffold.layout import ANSWERS_FILE

if TYPE_CHECKING:  # imported lazily at run time: httpx/pydantic slow down --help
    from pydantic import SecretStr

    from scaffold.services.protect import ProtectReport

TOKEN_VARS = ("GITHUB_TOKEN", "GH_TOKEN")
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}


def token_from_env(env: Mapping[str, str]) -> SecretStr:
    """The API token from GITHUB_TOKEN or GH_TOKEN, wrapped so it never prints."""
    from pydantic import SecretStr

    for var in TOKEN_VARS:
        raw = env.get(var, "").strip()
        if raw:
            if any(c.isspace() or not c.isprintable() for c in raw):
                raise MissingTokenError(
                    f"{var}: contains whitespace or control characters"
                )
            return SecretStr(raw)
    raise MissingTokenError(
        "no GitHub token: set GITHUB_TOKEN or GH_TOKEN (fine-grained token with "
        "'Administration: read and write' on the repository, or a classic token "
        "with the 'repo' scope from a repository admin)"
    )


#: ``--api-url``, the same on every command that calls GitHub
ApiUrlOption = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        metavar="URL",
        help="API root, e.g. https://ghe.example.com/api/v3 "
        "(default: $GITHUB_API_URL or https://api.github.com).",
    ),
]


def api_url_from(option: str | None, env: Mapping[str, str]) -> str:
    """--api-url, else GITHUB_API_URL, else api.github.com; https unless loopback."""
    from scaffold.adapters.github import DEFAULT_API_URL

    url = (option or env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (validates the port)
    except ValueError:
        raise ConfigError("--api-url: not a valid URL") from None
    if "@" in parts.netloc or parts.query or parts.fragment:
        # checked first: the value may hold a token and is never echoed then
        raise ConfigError(
            "--api-url: must be a plain URL without credentials/query "
            "(the token comes from GITHUB_TOKEN or GH_TOKEN only)"
        )
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"--api-url {url!r}: expected https://HOST[/api/v3] "
            "(GitHub Enterprise Server) or https://api.github.com"
        )
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ConfigError(
            f"--api-url {url!r}: must be https (the token would travel in clear)"
        )
    return url


WRITE_INTERVAL_VAR = "SCAFFOLD_WRITE_INTERVAL"


def write_interval_from(env: Mapping[str, str]) -> float:
    """Seconds between two write calls: $SCAFFOLD_WRITE_INTERVAL, else 1.

    GitHub asks for writes to be made serially at least a second apart (its
    secondary rate limits); a GitHub Enterprise Server with other limits, or a
    test server, may set less.
    """
    raw = env.get(WRITE_INTERVAL_VAR, "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 60:
        raise ConfigError(f"{WRITE_INTERVAL_VAR}: must be a number of seconds, 0-60")
    return value


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else value


def render_report(report: ProtectReport, settings_path: Path) -> str:
    """Human-readable report: one line per action, one per changed field."""
    lines: list[str] = []
    if report.in_sync:
        lines.append(
            f"{report.repo} matches {settings_path} (mode {report.mode.value}); "
            "nothing to change"
        )
    else:
        head = "would change" if report.dry_run else "changed"
        lines.append(
            f"{report.repo}: {head} {len(report.actions)} target(s) "
            f"(mode {report.mode.value})"
        )
        for action in report.actions:
            lines.append(f"  {action.verb} {action.target}: {action.request}")
            lines.extend(
                f"    {c.path}: {_show(c.live)} -> {_show(c.desired)}"
                for c in action.changes
            )
        if report.dry_run:
            lines.append("dry run: nothing was written")
    lines.extend(
        f"note: section '{section}' is not applied by scaffold protect"
        for section in report.ignored_sections
    )
    return "\n".join(lines)


@app.command("protect")
def protect_cmd(
    path: Annotated[
        Path,
        typer.Argument(help="Repository checkout holding .github/settings.yml."),
    ] = Path(),
    *,
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo",
            metavar="OWNER/NAME",
            help="GitHub repository OWNER/NAME (default: owner and name from "
            f"PATH/{ANSWERS_FILE}).",
        ),
    ] = None,
    api_url: ApiUrlOption = None,
    mode: Annotated[
        Literal["rulesets", "classic"],
        typer.Option(
            "--mode",
            help="rulesets (default) or classic branch protection (older GHES).",
        ),
    ] = "rulesets",
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show the field-level diff; write nothing."),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable report on stdout.")
    ] = False,
) -> None:
    """Apply .github/settings.yml (repository settings and default-branch
    protection) to GitHub. Token: $GITHUB_TOKEN or $GH_TOKEN."""
    with handle_errors():
        from scaffold.adapters.github import GitHubClient
        from scaffold.services.protect import (
            ProtectMode,
            RepoRef,
            load_settings,
            protect,
            repo_from_answers,
        )

        ref = RepoRef.parse(repo) if repo else repo_from_answers(path)
        settings = load_settings(path)
        url = api_url_from(api_url, os.environ)
        token = token_from_env(os.environ)
        interval = write_interval_from(os.environ)
        with GitHubClient(token=token, api_url=url, write_interval=interval) as client:
            report = protect(
                settings=settings,
                repo=ref,
                forge=client,
                mode=ProtectMode(mode),
                dry_run=dry_run,
            )
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
        else:
            typer.echo(render_report(report, path / ".github" / "settings.yml"))
