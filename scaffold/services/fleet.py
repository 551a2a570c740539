"""Use case: register apps in a fleet (infra) repo, each its own Copier instance
of the ``fleet-app`` template with the answers file ``apps/<name>/.copier-answers.yml``
(the layout: the README's "Fleets" section). The only shared files registration
touches are the generated blocks of ``.github/CODEOWNERS`` and (Argo CD)
``projects/<env>.yaml`` listing every app's team (services.access), rewritten from
all apps' answers."""

from __future__ import annotations

import base64
import json
import re
import secrets as _secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from scaffold.adapters.git import Git
from scaffold.adapters.templates import read_answers
from scaffold.errors import (
    AppExistsError,
    InvalidAnswerError,
    NotAFleetError,
    UsageError,
)
from scaffold.layout import (
    ANSWERS_FILE,
    ARGOCD_OIDC_SECRET,
    ARGOCD_OIDC_SECRET_FILE,
    ARGOCD_OIDC_SECRET_KEY,
    DEFAULT_BRANCH,
    DEFAULT_ENVIRONMENTS,
    FLEET_APP_KIND,
    FLEET_APP_OVERLAY,
    FLEET_APPS_DIR,
    GITOPS_ENGINES,
    IMAGE_TAG,
    RESERVED_APP_NAMES,
    SECRETS_MODES,
)
from scaffold.models import Question, TemplateSource
from scaffold.services.access import sync_access
from scaffold.services.answers import safety_rule

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# answers the app inherits from the fleet; the caller may not override them
INHERITED = ("gitops_engine", "secrets", "environments")


class FleetAppRenderer(Protocol):
    """What this service needs from the template adapter."""

    def questions(self, source: TemplateSource) -> list[Question]: ...

    def render(
        self,
        source: TemplateSource,
        dest: Path,
        answers: dict[str, Any],
        *,
        answers_file: str | None = None,
    ) -> dict[str, Any]: ...


class Encryptor(Protocol):
    """Encrypts a YAML document with the fleet's SOPS rules (adapters.sops.Sops)."""

    def encrypt_yaml(self, plaintext: str, *, root: Path, filename: str) -> str: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Fleet:
    """A fleet repo as read from its root answers file."""

    path: Path
    name: str
    owner: str
    engine: str
    secrets: str
    default_branch: str
    answers: dict[str, Any]

    @property
    def environments(self) -> tuple[str, ...]:
        """The fleet's environments in promotion order (the last is production)."""
        return environments_of(self.answers)

    def app_dir(self, app: str) -> Path:
        return self.path / FLEET_APPS_DIR / app

    def apps(self) -> list[str]:
        """Names of the apps registered in the fleet (those with an answers file)."""
        root = self.path / FLEET_APPS_DIR
        if not root.is_dir():
            return []
        return sorted(p.parent.name for p in root.glob(f"*/{ANSWERS_FILE}"))


@dataclass(frozen=True, slots=True, kw_only=True)
class AddedApp:
    """Result of :func:`add_app`."""

    fleet: Fleet
    name: str
    answers: dict[str, Any]
    answers_file: str
    files: list[str] = field(default_factory=list)  # relative to the fleet
    # shared access files rewritten for it (CODEOWNERS, Argo CD projects)
    shared: list[str] = field(default_factory=list)
    commit: str | None = None


def answers_file_for(app: str) -> str:
    """The answers file of ``app`` inside a fleet, relative to the fleet root.

    The root copier.yml computes the same path (``_answers_file``); it is still passed
    to copier explicitly so that template refs from before that setting work too, and
    because ``copier update`` reads the answers file before it knows the answers.
    """
    return f"{FLEET_APPS_DIR}/{app}/{ANSWERS_FILE}"


def read_fleet(path: Path, *, field: str = "fleet") -> Fleet:
    """Read and check the fleet at ``path``; raise a UsageError if it is none.

    ``field`` names the argument in error messages (e.g. ``--infra``).
    """
    shown = str(path)
    if not path.exists():
        raise NotAFleetError(field=field, path=shown, reason="no such directory")
    if not path.is_dir():
        raise NotAFleetError(field=field, path=shown, reason="not a directory")
    answers_path = path / ANSWERS_FILE
    if not answers_path.is_file():
        raise NotAFleetError(field=field, path=shown, reason=f"no {ANSWERS_FILE}")
    try:
        data = read_answers(answers_path)
    except yaml.YAMLError as exc:
        raise NotAFleetError(
            field=field, path=shown, reason=f"{ANSWERS_FILE} is not YAML"
        ) from exc
    if data.get("repo_kind") != "infra":
        raise NotAFleetError(
            field=field,
            path=shown,
            reason=f"repo_kind is {data.get('repo_kind')!r} in {ANSWERS_FILE}, "
            "not 'infra'",
        )
    engine = str(data.get("gitops_engine", ""))
    mode = str(data.get("secrets", ""))
    if engine not in GITOPS_ENGINES:
        raise NotAFleetError(
            field=field, path=shown, reason=f"unknown gitops_engine {engine!r}"
        )
    if mode not in SECRETS_MODES:
        raise NotAFleetError(
            field=field, path=shown, reason=f"unknown secrets {mode!r}"
        )
    return Fleet(
        path=path.resolve(),
        name=str(data.get("name", path.name)),
        owner=str(data.get("owner", "")),
        engine=engine,
        secrets=mode,
        default_branch=str(data.get("default_branch", DEFAULT_BRANCH)),
        answers=dict(data),
    )


def check_app_name(fleet: Fleet, name: object) -> str:
    """Validate the app name for this fleet; return it."""
    if rule := app_name_problem(name):
        raise InvalidAnswerError(key="name", rule=rule)
    text = str(name)
    if fleet.app_dir(text).exists():
        raise AppExistsError(name=text, fleet=str(fleet.path))
    return text


def preflight(
    path: Path, name: object, *, git: Git | None = None, field: str = "--infra"
) -> Fleet:
    """Everything :func:`add_app` checks before writing (for ``new app --infra``).

    With ``git``, a fleet that is a git work tree must also be clean.
    """
    fleet = read_fleet(path, field=field)
    check_app_name(fleet, name)
    if git is not None and git.is_repo_root(fleet.path):
        git.require_clean(fleet.path)
    return fleet


def sync_fleet_access(fleet: Fleet) -> list[str]:
    """Bring the fleet's CODEOWNERS and Argo CD project roles in step with its apps'
    teams (services.access); return the changed files, relative to the fleet."""
    return sync_access(
        fleet.path,
        engine=fleet.engine,
        platform=str(fleet.answers.get("codeowners") or ""),
        apps=fleet.apps(),
        environments=fleet.environments,
    )


def repo_of(fleet: Fleet) -> str:
    """The fleet's GitHub repository, owner/name (from its answers)."""
    return f"{fleet.owner}/{fleet.name}"


def app_answers_for(fleet: Fleet, answers: dict[str, Any]) -> dict[str, Any]:
    """``answers`` of an app repo that deploys through ``fleet``: its ``infra_repo``
    (where the release workflow opens promotion PRs) is the fleet's own repository.

    A different explicit ``infra_repo`` is an error (GitHub names compare
    case-insensitively).
    """
    expected = repo_of(fleet)
    given = answers.get("infra_repo")
    if given not in (None, "") and str(given).lower() != expected.lower():
        raise InvalidAnswerError(
            key="infra_repo",
            rule=f"must be {expected}, the fleet given with --infra "
            f"(owner/name from its {ANSWERS_FILE}), not {given}",
        )
    return {**answers, "infra_repo": expected}


def preflight_new_app(
    infra: Path, kind: str, answers: dict[str, Any], *, git: Git | None
) -> Fleet:
    """Fail fast (exit 2, nothing written) before a new app repo is generated."""
    if kind != "app":
        raise UsageError("--infra: only `scaffold new app` can register into a fleet")
    return preflight(infra, answers.get("name"), git=git)


def register_app(
    *,
    fleet_path: Path,
    app_answers: dict[str, Any],
    source: TemplateSource,
    templates: FleetAppRenderer,
    git: Git | None,
    extra: dict[str, Any] | None = None,
    author: str | None = None,
    app_commit: str | None = None,
) -> AddedApp:
    """Register an app repo (by its answers) in the fleet at ``fleet_path``.

    The fleet answers come from :func:`fleet_answers_from_app`; ``extra`` adds or
    overrides fleet-app answers (e.g. ``replicas``). ``scaffold new app --infra``
    and ``scaffold bootstrap`` both register apps through this function.
    ``app_commit`` (the app repo's first commit) sets the tag every env deploys.
    """
    answers = {
        **fleet_answers_from_app(app_answers, commit=app_commit),
        **(extra or {}),
    }
    return add_app(
        fleet_path=fleet_path,
        answers=answers,
        source=source,
        templates=templates,
        git=git,
        author=author,
    )


def fleet_answers_from_app(
    app_answers: dict[str, Any], *, commit: str | None = None
) -> dict[str, Any]:
    """Answers for the fleet-app template derived from an app repo's answers.

    ``commit`` (the app repo's first commit) sets the tag every env deploys at first:
    ``sha-<commit>``, the image the app's release workflow builds on the first push.
    """
    result: dict[str, Any] = {}
    if commit:
        result["app_tag"] = IMAGE_TAG.format(commit=commit)
    for key in ("name", "description", "container_port", "codeowners"):
        if key in app_answers:
            result[key] = app_answers[key]
    registry = app_answers.get("image_registry")
    if registry and app_answers.get("name"):
        result["app_image"] = f"{registry}/{app_answers['name']}"
    return result


def environments_of(fleet_answers: dict[str, Any]) -> tuple[str, ...]:
    """A fleet's environments from its answers; the default for fleets generated
    before ``environments`` was an answer."""
    listed = fleet_answers.get("environments")
    if isinstance(listed, list) and listed:
        return tuple(str(env) for env in listed)
    return DEFAULT_ENVIRONMENTS


def fleet_app_data(
    fleet_answers: dict[str, Any], answers: dict[str, Any]
) -> dict[str, Any]:
    """The fleet-app template's answers: ``answers`` plus what the fleet fixes.

    Owner, default branch and CODEOWNERS default to the fleet's; the GitOps engine,
    secrets mode and environments are the fleet's (a different value is an error).
    """
    inherited: dict[str, Any] = {
        "gitops_engine": fleet_answers.get("gitops_engine"),
        "secrets": fleet_answers.get("secrets"),
        "environments": list(environments_of(fleet_answers)),
    }
    for key in INHERITED:
        if key in answers and answers[key] != inherited[key]:
            raise InvalidAnswerError(
                key=key, rule=f"is {inherited[key]!r} for every app of this fleet"
            )
    data: dict[str, Any] = {
        "owner": str(fleet_answers.get("owner", "")),
        "default_branch": str(fleet_answers.get("default_branch", DEFAULT_BRANCH)),
        **{k: v for k, v in answers.items() if k not in INHERITED},
        "repo_kind": FLEET_APP_KIND,
        **inherited,
    }
    if "codeowners" in fleet_answers and "codeowners" not in answers:
        data["codeowners"] = fleet_answers["codeowners"]
    return data


def app_name_problem(name: object) -> str | None:
    """The rule an app name breaks inside a fleet, or None."""
    if name is None or name == "":
        return "required"
    text = str(name)
    if not _DNS_LABEL.match(text) or len(text) > 40:
        return (
            "must be a DNS-1123 label of at most 40 characters "
            "(lowercase letters, digits and '-')"
        )
    if rule := safety_rule(text):  # e.g. true, 123, 1e3, 0x10 re-typed by YAML
        return rule
    if text in RESERVED_APP_NAMES:
        return f"{text!r} is reserved for the fleet's own objects"
    return None


def _check_known(answers: dict[str, Any], questions: list[Question]) -> None:
    known = {q.key for q in questions}
    for key in answers:
        if key not in known:
            raise InvalidAnswerError(
                key=key, rule=f"unknown key (known: {', '.join(sorted(known))})"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryAuth:
    """Credentials of a private registry (the token comes from the environment)."""

    username: str
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class PullSecretMaker:
    """What :func:`add_app` needs to write an app's SOPS-encrypted pull Secrets."""

    encryptor: Encryptor
    auth: RegistryAuth | None


def pull_secret_manifest(
    *, name: str, namespace: str, image: str, auth: RegistryAuth
) -> str:
    """A ``kubernetes.io/dockerconfigjson`` Secret for ``image``'s registry
    (plaintext: kept in memory and handed to sops, never written)."""
    server = image.split("/", 1)[0]
    pair = base64.b64encode(f"{auth.username}:{auth.token}".encode()).decode()
    config = {"auths": {server: {"username": auth.username, "auth": pair}}}
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": json.dumps(config, sort_keys=True)},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def pull_secret_file(app: str, env: str, name: str) -> str:
    """Where an app's SOPS-encrypted pull Secret of ``env`` lives (fleet-relative)."""
    return f"{FLEET_APP_OVERLAY.format(name=app, env=env)}/{name}.sops.yaml"


def _write_pull_secrets(
    staging: Path, fleet: Fleet, answers: dict[str, Any], maker: PullSecretMaker | None
) -> None:
    name = str(answers.get("image_pull_secret") or "")
    if not name or fleet.secrets != "sops":
        return
    if maker is None or maker.auth is None:
        raise UsageError(
            "image_pull_secret: the fleet encrypts the pull Secret with SOPS and "
            "needs the registry credentials (--registry-username and the token "
            "in the environment)"
        )
    app = str(answers["name"])
    for env in fleet.environments:
        rel = pull_secret_file(app, env, name)
        plaintext = pull_secret_manifest(
            name=name,
            namespace=f"{app}-{env}",
            image=str(answers["app_image"]),
            auth=maker.auth,
        )
        encrypted = maker.encryptor.encrypt_yaml(
            plaintext, root=fleet.path, filename=rel
        )
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        (staging / rel).write_text(encrypted, encoding="utf-8")


def add_app(
    *,
    fleet_path: Path,
    answers: dict[str, Any],
    source: TemplateSource,
    templates: FleetAppRenderer,
    git: Git | None,
    author: str | None = None,
    pull_secrets: PullSecretMaker | None = None,
) -> AddedApp:
    """Render the fleet-app template for ``answers['name']`` into the fleet.

    Renders into a temporary directory first and copies the result in only when
    everything succeeded, so a bad answer writes nothing. With ``git`` and a fleet
    that is a git work tree, the fleet must be clean and the app is committed.
    With ``image_pull_secret`` in a SOPS fleet, ``pull_secrets`` encrypts one
    pull Secret per env into the app's overlays (nothing in plaintext on disk).
    """
    fleet = read_fleet(fleet_path)
    name = check_app_name(fleet, answers.get("name"))
    data = fleet_app_data(fleet.answers, answers)
    questions = templates.questions(source)
    if "environments" not in {q.key for q in questions}:
        data.pop("environments")  # a template version from before the answer
    _check_known(data, questions)
    use_git = git is not None and git.is_repo_root(fleet.path)
    if use_git and git is not None:
        git.require_clean(fleet.path)
    answers_file = answers_file_for(name)
    with tempfile.TemporaryDirectory(prefix=f"scaffold-app-{name}-") as tmp:
        staging = Path(tmp) / "out"
        final = templates.render(source, staging, data, answers_file=answers_file)
        _write_pull_secrets(staging, fleet, final, pull_secrets)
        files = sorted(
            str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file()
        )
        clashes = [f for f in files if (fleet.path / f).exists()]
        if clashes:
            raise UsageError(
                f"name: app {name!r} would overwrite {', '.join(clashes)} in the fleet"
            )
        for rel in files:
            target = fleet.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(staging / rel, target)
    shared = sync_fleet_access(fleet)
    commit = None
    if use_git and git is not None:
        git.run(fleet.path, "add", "--", *files, *shared)
        args = ["commit", "-q", "--no-verify", "-m", f"feat(apps): add {name}"]
        if author:
            args.append(f"--author={author}")
        git.run(fleet.path, *args)
        commit = git.run(fleet.path, "rev-parse", "HEAD").strip()
    return AddedApp(
        fleet=fleet,
        name=name,
        answers=final,
        answers_file=answers_file,
        files=files,
        shared=shared,
        commit=commit,
    )


EXAMPLE_SECRET_NAME = "example"


def example_secret_manifest(env: str, value: str) -> str:
    """The plaintext example Secret (kept in memory only, never written)."""
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": EXAMPLE_SECRET_NAME,
            "namespace": "flux-system",
            "labels": {"app.kubernetes.io/part-of": "fleet-secrets-example"},
        },
        "type": "Opaque",
        "stringData": {"environment": env, "token": value},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_example_secret(
    *,
    fleet_path: Path,
    encryptor: Encryptor,
    git: Git | None = None,
    force: bool = False,
) -> list[str]:
    """Write ``secrets/<env>/example.sops.yaml`` (SOPS-encrypted) for every env.

    The plaintext is generated in memory and handed to sops on stdin; only the
    encrypted document is written. With ``git`` and a fleet that is a git work
    tree, the fleet must be clean and the files are committed. Returns the written
    paths (fleet-relative).
    """
    fleet = read_fleet(fleet_path)
    use_git = git is not None and git.is_repo_root(fleet.path)
    if use_git and git is not None:
        git.require_clean(fleet.path)
    if fleet.secrets != "sops":
        raise UsageError(
            f"secrets: the fleet uses {fleet.secrets!r}; an example SOPS secret "
            "needs secrets=sops"
        )
    if fleet.engine != "flux":
        raise UsageError(
            "gitops_engine: Argo CD fleets decrypt SOPS with KSOPS inside each app "
            "overlay (see the fleet README); there is no secrets/<env> directory"
        )
    written: list[str] = []
    for env in fleet.environments:
        rel = f"secrets/{env}/{EXAMPLE_SECRET_NAME}.sops.yaml"
        target = fleet.path / rel
        if target.exists() and not force:
            raise UsageError(f"{rel} exists (use --force to replace it)")
        plaintext = example_secret_manifest(env, _secrets.token_urlsafe(24))
        encrypted = encryptor.encrypt_yaml(plaintext, root=fleet.path, filename=rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(encrypted, encoding="utf-8")
        written.append(rel)
    if use_git and git is not None:
        git.run(fleet.path, "add", "--", *written)
        msg = "chore(secrets): add SOPS-encrypted example secrets"
        git.run(fleet.path, "commit", "-q", "--no-verify", "-m", msg)
    return written


def oidc_secret_manifest(value: str) -> str:
    """The plaintext Secret argocd-cm's oidc.config refers to (in memory only)."""
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": ARGOCD_OIDC_SECRET,
            "namespace": "argocd",
            # Argo CD resolves `$<Secret>:<key>` only in Secrets with this label
            "labels": {"app.kubernetes.io/part-of": "argocd"},
        },
        "type": "Opaque",
        "stringData": {ARGOCD_OIDC_SECRET_KEY: value},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_oidc_secret(
    *,
    fleet_path: Path,
    value: str,
    encryptor: Encryptor,
    git: Git | None = None,
    force: bool = False,
) -> str:
    """Write Argo CD's SSO client secret SOPS-encrypted to ARGOCD_OIDC_SECRET_FILE.

    Only for Argo CD fleets with ``secrets: sops`` and ``sso_oidc_issuer`` (their
    bootstrap/argo-cd decrypts it with KSOPS). The plaintext goes to sops on stdin
    and is never written. With ``git`` and a fleet that is a git work tree, the
    fleet must be clean and the file is committed. Returns the written path.
    """
    fleet = read_fleet(fleet_path)
    if fleet.engine != "argocd":
        raise UsageError("gitops_engine: SSO client secrets are for Argo CD fleets")
    if not fleet.answers.get("sso_oidc_issuer"):
        raise UsageError(
            "sso_oidc_issuer: the fleet has no SSO; set it (and sso_client_id, "
            "argocd_url) first"
        )
    if fleet.secrets != "sops":
        raise UsageError(
            f"secrets: the fleet uses {fleet.secrets!r}; deliver the Secret "
            f"{ARGOCD_OIDC_SECRET} as its README says (this command needs sops)"
        )
    if not value:
        raise UsageError("the client secret is empty")
    use_git = git is not None and git.is_repo_root(fleet.path)
    if use_git and git is not None:
        git.require_clean(fleet.path)
    target = fleet.path / ARGOCD_OIDC_SECRET_FILE
    if target.exists() and not force:
        raise UsageError(
            f"{ARGOCD_OIDC_SECRET_FILE} exists (use --force to replace it)"
        )
    encrypted = encryptor.encrypt_yaml(
        oidc_secret_manifest(value), root=fleet.path, filename=ARGOCD_OIDC_SECRET_FILE
    )
    target.write_text(encrypted, encoding="utf-8")
    if use_git and git is not None:
        git.run(fleet.path, "add", "--", ARGOCD_OIDC_SECRET_FILE)
        msg = "chore(sso): add the SOPS-encrypted Argo CD client secret"
        git.run(fleet.path, "commit", "-q", "--no-verify", "-m", msg)
    return ARGOCD_OIDC_SECRET_FILE
