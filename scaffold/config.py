"""Configuration: where templates come from and the user config file.

The order of template sources is README.md's "Template source and versions";
:func:`resolve_template` implements it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from scaffold.errors import ConfigError
from scaffold.layout import CONFIG_ENV_VAR, TEMPLATE_CONFIG, TEMPLATE_ENV_VAR
from scaffold.models import TemplateSource

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def config_file(env: Mapping[str, str]) -> Path:
    """Path of the user config file (it need not exist)."""
    if env.get(CONFIG_ENV_VAR):
        return Path(env[CONFIG_ENV_VAR])
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "scaffold" / "config.yaml"


def load_config(env: Mapping[str, str]) -> dict[str, object]:
    """The user config as a dict ({} when there is none)."""
    path = config_file(env)
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: must be a mapping")
    unknown = set(data) - {"template", "ref"}
    if unknown:
        raise ConfigError(f"config {path}: unknown key(s) {', '.join(sorted(unknown))}")
    return data


def source_checkout() -> Path | None:
    """The git checkout this package runs from, if it holds the templates."""
    root = PACKAGE_ROOT
    if (root / TEMPLATE_CONFIG).is_file() and (root / ".git").exists():
        return root
    return None


def resolve_template(
    explicit: str | None,
    ref: str | None,
    env: Mapping[str, str] | None = None,
) -> TemplateSource:
    """Pick the template source (first hit of the order in the README)."""
    env = os.environ if env is None else env
    cfg = load_config(env)
    url = explicit or env.get(TEMPLATE_ENV_VAR) or cfg.get("template")
    if not url:
        checkout = source_checkout()
        if checkout is None:
            raise ConfigError(
                "template: no template source; pass --template SRC, set "
                f"{TEMPLATE_ENV_VAR}, or put 'template:' in {config_file(env)}"
            )
        url = str(checkout)
    url = str(url)
    if "://" not in url and not url.startswith("git@"):
        path = Path(url).expanduser().resolve()
        if not (path / TEMPLATE_CONFIG).is_file() and not path.is_file():
            raise ConfigError(f"template: {url} has no {TEMPLATE_CONFIG}")
        if "site-packages" in path.parts or "dist-packages" in path.parts:
            raise ConfigError(
                f"template: {url} is inside an installed package; "
                "use a git clone or URL so that updates can reach it"
            )
        url = str(path)
    return TemplateSource(url=url, ref=ref or _str_or_none(cfg.get("ref")))


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
