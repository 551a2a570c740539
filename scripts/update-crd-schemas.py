#!/usr/bin/env python3
"""Regenerate the CRD JSON schemas scaffold ships (maintainers only).

Reads scaffold/schemas/sources.yaml (which upstream repository, release tag and CRD
files belong to each version the templates pin), reads those files from local git
clones with ``git show <ref>:<file>``, converts the listed kinds the way ``scaffold
check`` converts a CRD found in a repo (scaffold.adapters.schemas.openapi_to_jsonschema:
kubeconform's strict openapi2jsonschema rules) and writes
scaffold/schemas/crds/{group}/{kind}_{version}.json. Schemas no source lists any
more are deleted, so the shipped set is exactly what sources.yaml names.

    git clone https://github.com/kyverno/kyverno clones/kyverno/kyverno   # etc.
    python scripts/update-crd-schemas.py --repos clones
    python scripts/update-crd-schemas.py --repo kyverno/kyverno=/src/kyverno ...
    python scripts/update-crd-schemas.py --repos clones --check   # exit 1 if stale

When a template pin moves: edit the entry's pins/ref/commit in sources.yaml, run
this script, run tests/test_shipped_schemas.py, commit the result.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scaffold.adapters.schemas import openapi_to_jsonschema  # noqa: E402

SCHEMAS = ROOT / "scaffold" / "schemas"


class SourceError(Exception):
    """A source cannot be read or does not hold what sources.yaml says."""


def load_sources(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    sources = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(sources, list) or not sources:
        raise SourceError(f"{path}: expected a non-empty 'sources' list")
    keys = {"pins", "repo", "ref", "commit", "license", "files", "kinds"}
    for i, source in enumerate(sources):
        if not isinstance(source, dict) or set(source) != keys:
            raise SourceError(f"{path}: sources[{i}]: expected the keys {sorted(keys)}")
    return sources


def git_dir(repo: str, repos: Path | None, overrides: Mapping[str, Path]) -> Path:
    if repo in overrides:
        return overrides[repo]
    if repos is None:
        raise SourceError(f"{repo}: no clone given (--repos DIR or --repo {repo}=DIR)")
    return repos / repo


def git(directory: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(directory), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SourceError(f"git -C {directory} {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def crd_versions(text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """("group/version Kind", openAPIV3Schema) of every served CRD version."""
    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc["spec"]
        for version in spec.get("versions", []):
            if version.get("served") is False:
                continue
            openapi = version.get("schema", {}).get("openAPIV3Schema")
            if isinstance(openapi, dict):
                key = f"{spec['group']}/{version['name']} {spec['names']['kind']}"
                yield key, openapi


def schema_path(key: str) -> Path:
    """``group/version Kind`` -> crds/group/kind_version.json (relative)."""
    api_version, kind = key.split(" ")
    group, version = api_version.rsplit("/", 1)
    return Path("crds") / group / f"{kind.lower()}_{version}.json"


def render(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generate(
    sources: list[dict[str, Any]], repos: Path | None, overrides: Mapping[str, Path]
) -> dict[Path, str]:
    """Relative path -> file content for every listed kind."""
    out: dict[Path, str] = {}
    for source in sources:
        directory = git_dir(source["repo"], repos, overrides)
        commit = git(directory, "rev-parse", f"{source['ref']}^{{commit}}").strip()
        if commit != source["commit"]:
            raise SourceError(
                f"{source['repo']} {source['ref']}: is commit {commit}, "
                f"sources.yaml says {source['commit']}"
            )
        found: dict[str, dict[str, Any]] = {}
        for file in source["files"]:
            found.update(crd_versions(git(directory, "show", f"{commit}:{file}")))
        for key in source["kinds"]:
            if key not in found:
                raise SourceError(
                    f"{source['repo']} {source['ref']}: no served CRD version {key} "
                    f"in {', '.join(source['files'])}"
                )
            path = schema_path(key)
            if path in out:
                raise SourceError(f"{key}: listed by two sources")
            out[path] = render(openapi_to_jsonschema(found[key]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repos", type=Path, help="directory of clones laid out OWNER/NAME"
    )
    parser.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="OWNER/NAME=DIR",
        help="the git clone (or bare mirror) of one repository (repeatable)",
    )
    parser.add_argument(
        "--schemas",
        type=Path,
        default=SCHEMAS,
        help="the directory holding sources.yaml and crds/ (default: %(default)s)",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if stale"
    )
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.repo:
        name, sep, directory = item.partition("=")
        if not sep:
            parser.error(f"--repo {item}: expected OWNER/NAME=DIR")
        overrides[name] = Path(directory)
    try:
        sources = load_sources(args.schemas / "sources.yaml")
        wanted = generate(sources, args.repos, overrides)
    except SourceError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    existing = {
        p.relative_to(args.schemas) for p in (args.schemas / "crds").rglob("*.json")
    }
    stale = sorted(p for p in existing if p not in wanted)
    changed = sorted(
        p
        for p, text in wanted.items()
        if p not in existing or (args.schemas / p).read_text(encoding="utf-8") != text
    )
    for path in changed:
        sys.stdout.write(f"{'stale' if args.check else 'wrote'} {path}\n")
    for path in stale:
        sys.stdout.write(f"{'unlisted' if args.check else 'deleted'} {path}\n")
    if args.check:
        return 1 if changed or stale else 0
    for path in changed:
        target = args.schemas / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(wanted[path], encoding="utf-8")
    for path in stale:
        (args.schemas / path).unlink()
        if not any((args.schemas / path).parent.iterdir()):
            (args.schemas / path).parent.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
