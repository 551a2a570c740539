"""Configuration: where templates come from and the user config file.

The order of template sources is README.md's "Template source and versions";
:func:`resolve_template` implements it.

Template sources and refs are untrusted input (a repo's own answers file names
its ``_src_path``): :func:`template_url` and :func:`check_ref` are the one place
they are validated, for every way they arrive.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from scaffold.errors import ConfigError, UsageError
from scaffold.layout import CONFIG_ENV_VAR, TEMPLATE_CONFIG, TEMPLATE_ENV_VAR
from scaffold.models import TemplateSource

PACKAGE_ROOT = Path(__file__).resolve().parent.parent

#: URL schemes a template may come from (plus ``user@host:path`` and a directory)
URL_SCHEMES = ("https", "ssh", "file")
CREDENTIALS_HINT = (
    "for a private template use a git credential helper "
    "(git config credential.helper, or gh auth setup-git), never credentials "
    "in the URL"
)
_SCP = re.compile(
    r"^(?P<user>[A-Za-z0-9_][A-Za-z0-9._-]*)@(?P<host>[^:/]+):(?P<path>.*)$"
)
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]*$")
_USERINFO = re.compile(r"(?<=//)[^/@\s]*@")


def is_local(url: str) -> bool:
    """True for a filesystem path, False for a URL (``scheme://`` or ``user@host:``)."""
    return "://" not in url and not _SCP.match(url)


def redact_url(url: str) -> str:
    """``url`` without userinfo, query or fragment: safe to print or record."""
    if _SCP.match(url) or "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO.sub("", url.split("?", 1)[0].split("#", 1)[0])
    if not (parts.username or parts.password or "?" in url or "#" in url):
        return url  # nothing to strip: keep the spelling (insteadOf keys match it)
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host + (f":{port}" if port else "")
    if parts.scheme == "ssh" and parts.username and not parts.password:
        netloc = f"{parts.username}@{netloc}"  # a login name, not a secret
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def mask_credentials(text: str) -> str:
    """``text`` with the userinfo of every ``scheme://user:secret@`` URL masked."""
    return _USERINFO.sub("***@", text)


def _shown(text: str) -> str:
    """``text`` quoted for an error: credentials masked, control characters
    escaped, shortened."""
    masked = mask_credentials(text)
    return repr(masked if len(masked) <= 80 else masked[:79] + "…")


def template_url(raw: object, *, field: str, allow_credentials: bool = True) -> str:
    """A validated template source, as it may reach git and copier.

    Accepted: an ``https://``, ``ssh://`` or ``file://`` URL with a plain host, a
    ``user@host:path`` (scp-like) address, or an existing directory (returned as an
    absolute path). Nothing may start with ``-`` (git would read an option) or hold
    whitespace or control characters. Userinfo (except an ssh login name), query
    and fragment are stripped; ``allow_credentials=False`` refuses them instead.
    ``field`` names where the value came from in the error (exit 2).
    """
    text = str(raw) if raw is not None else ""
    what = f"{field} {_shown(text)}"
    if text.startswith("-"):
        raise UsageError(f"{what}: must not start with '-'")
    if not text or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise UsageError(f"{what}: must not be empty or hold spaces/control characters")
    scp = _SCP.match(text)
    if scp:
        if not _HOST.match(scp["host"]) or scp["path"].startswith("-"):
            raise UsageError(f"{what}: expected USER@HOST:PATH with a plain host name")
        return text
    if "://" in text:
        return _checked_url(text, what=what, field=field, creds=allow_credentials)
    path = Path(text).expanduser().resolve()
    if not path.is_dir():
        raise UsageError(
            f"{what}: expected an https://, ssh://, file:// or USER@HOST:PATH URL "
            "or an existing directory"
        )
    return str(path)


def _checked_url(text: str, *, what: str, field: str, creds: bool) -> str:
    """:func:`template_url` for ``scheme://`` forms."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (validates the port)
    except ValueError:
        raise UsageError(f"{what}: not a valid URL") from None
    if parts.scheme not in URL_SCHEMES:
        raise UsageError(
            f"{what}: the scheme must be one of "
            f"{', '.join(s + '://' for s in URL_SCHEMES)}"
        )
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise UsageError(f"{what}: expected file:///ABSOLUTE/PATH")
    else:
        host = parts.hostname or ""
        if not (_HOST.match(host) or (":" in host and "[" in parts.netloc)):
            raise UsageError(f"{what}: expected {parts.scheme}://HOST/PATH")
    secret = parts.password or (parts.username and parts.scheme != "ssh")
    if secret and not creds:
        raise UsageError(
            f"{field}: the URL carries credentials; remove them ({CREDENTIALS_HINT})"
        )
    return redact_url(text)


def check_ref(raw: object, *, field: str) -> str:
    """A git ref (tag, branch, commit) safe to hand to git; exit 2 otherwise."""
    text = str(raw)
    if not _REF.match(text) or ".." in text or text.endswith((".", "/", ".lock")):
        raise UsageError(
            f"{field} {_shown(text)}: not a git tag, branch or commit (letters, "
            "digits and . _ / + -, not starting with '-')"
        )
    return text


def config_file(env: Mapping[str, str]) -> Path:
    """Path of the user config file (it need not exist)."""
    if env.get(CONFIG_ENV_VAR):
        return Path(env[CONFIG_ENV_VAR])
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "scaffold" / "config.yaml"


def load_config(env: Mapping[str, str]) -> dict[str, object]:
    """The user config as a dict ({} when there is none)."""
    import yaml  # lazy: keeps CLI start-up fast

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
    if explicit:
        url, field = explicit, "--template"
    elif env.get(TEMPLATE_ENV_VAR):
        url, field = env[TEMPLATE_ENV_VAR], TEMPLATE_ENV_VAR
    elif cfg.get("template"):
        url, field = str(cfg["template"]), f"config {config_file(env)}: template"
    else:
        checkout = source_checkout()
        if checkout is None:
            raise ConfigError(
                "template: no template source; pass --template SRC, set "
                f"{TEMPLATE_ENV_VAR}, or put 'template:' in {config_file(env)}"
            )
        url, field = str(checkout), "template"
    url = template_url(url, field=field)
    if is_local(url):
        path = Path(url)
        if not (path / TEMPLATE_CONFIG).is_file():
            raise ConfigError(f"{field}: {url} has no {TEMPLATE_CONFIG}")
        if "site-packages" in path.parts or "dist-packages" in path.parts:
            raise ConfigError(
                f"{field}: {url} is inside an installed package; "
                "use a git clone or URL so that updates can reach it"
            )
    if ref:
        ref = check_ref(ref, field="--ref")
    elif cfg.get("ref") is not None:
        ref = check_ref(cfg["ref"], field=f"config {config_file(env)}: ref")
    return TemplateSource(url=url, ref=ref)
