"""secret-plaintext: no Secret with plaintext data committed or built, no
secretGenerator with literals or unencrypted files."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from scaffold.services.check.policies.common import Hit

RULE = "secret-plaintext"


def is_sops_encrypted(doc: Mapping[str, Any]) -> bool:
    """A SOPS-encrypted object: ``sops:`` metadata and every data value ENC[...]."""
    if not isinstance(doc.get("sops"), Mapping):
        return False
    for section in ("data", "stringData"):
        values = doc.get(section)
        if isinstance(values, Mapping):
            for value in values.values():
                if not (isinstance(value, str) and value.startswith("ENC[")):
                    return False
    return True


#: Values filled in at deploy time (no secret material in the repo): Flux
#: ``${VAR}`` substitution, 1Password ``op://``, vals ``ref+``, ``vault:`` paths.
_SECRET_REFERENCE = re.compile(r"^(\$\{[^}]+\}|op://\S+|ref\+\S+|vault:\S+)$")


def is_secret_reference(value: Any) -> bool:
    """A Secret value that only refers to a secret kept elsewhere (``data``
    values are base64: decoded first)."""
    if not isinstance(value, str):
        return False
    if _SECRET_REFERENCE.match(value.strip()):
        return True
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return bool(_SECRET_REFERENCE.match(decoded.strip()))


def secret_checks(obj: Mapping[str, Any]) -> Iterator[Hit]:
    """A plaintext Secret (checked on source files and on build output)."""
    if obj.get("kind") != "Secret" or obj.get("apiVersion") != "v1":
        return
    if is_sops_encrypted(obj):
        return
    for section in ("data", "stringData"):
        values = obj.get(section)
        if not isinstance(values, Mapping):
            continue
        plain = [k for k, v in values.items() if not is_secret_reference(v)]
        if plain:
            yield (
                "secret-plaintext",
                [section],
                f"plaintext {section} (not SOPS-encrypted, not a reference)",
            )
            return


def secret_generator_checks(data: Any, directory: Path) -> Iterator[Hit]:
    """kustomize ``secretGenerator``: literals are plaintext; files/envs must be
    SOPS-encrypted (Flux decrypts encrypted .env/.json/.yaml sources)."""
    generators = data.get("secretGenerator") if isinstance(data, Mapping) else None
    for index, generator in enumerate(generators or []):
        if not isinstance(generator, Mapping):
            continue
        name = generator.get("name")
        if generator.get("literals"):
            yield (
                "secret-plaintext",
                ["secretGenerator", index, "literals"],
                f"secretGenerator {name} has plaintext literals",
            )
        for field_name in ("files", "envs"):
            entries = generator.get(field_name)
            for i, entry in enumerate(entries if isinstance(entries, list) else []):
                if not isinstance(entry, str):
                    continue
                file = directory / entry.split("=", 1)[-1]
                try:
                    text = file.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue  # a missing file fails the build instead
                if not ("sops" in text and "ENC[" in text):
                    yield (
                        "secret-plaintext",
                        ["secretGenerator", index, field_name, i],
                        f"secretGenerator {name} reads {entry}, which is not "
                        "SOPS-encrypted",
                    )
