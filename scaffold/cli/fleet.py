"""``scaffold fleet``: work inside a fleet (infra) repo.

``scaffold fleet add-app FLEET --set name=web --set app_image=ghcr.io/acme/web``
registers an app (also third-party images without an app repo);
``scaffold new app DEST --infra FLEET`` uses :func:`register_new_app` to do the same
for the app repo it just generated.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scaffold.adapters.git import Git
from scaffold.cli.app import app, handle_errors
from scaffold.cli.new import load_answers, parse_set
from scaffold.errors import UsageError
from scaffold.layout import FLEET_APPS_DIR, FLUX_APP_KUSTOMIZATION

if TYPE_CHECKING:
    from scaffold.models import TemplateSource
    from scaffold.services.fleet import AddedApp, Fleet

#: the registry token of an image pull Secret (never an option: it would be logged)
REGISTRY_TOKEN_ENV = "SCAFFOLD_REGISTRY_TOKEN"

fleet_app = typer.Typer(
    name="fleet",
    help="Work inside a fleet (infra) repo: register apps, add an example secret.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(fleet_app, name="fleet")


def _summary(added: AddedApp) -> str:
    where = (
        FLUX_APP_KUSTOMIZATION.format(env="<env>", name=added.name)
        + " (Flux Kustomizations)"
        if added.fleet.engine == "flux"
        else "the apps-<env> ApplicationSets (Argo CD)"
    )
    line = (
        f"Added app {added.name} to fleet {added.fleet.path} "
        f"({FLEET_APPS_DIR}/{added.name}, registered via {where})"
    )
    if added.commit:
        line += f"; committed {added.commit[:12]}"
    return line


@fleet_app.command("add-app")
def add_app_command(
    fleet: Annotated[Path, typer.Argument(help="Path of the fleet (infra) repo.")],
    *,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Answer KEY=VALUE (repeatable): name, app_image, app_tag, "
            "container_port, replicas, health_path, ready_path, autoscaling, "
            "description.",
        ),
    ] = None,
    answers: Annotated[
        Path | None,
        typer.Option("--answers", metavar="FILE", help="YAML file of answers."),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(
            "--template", metavar="SRC", help="Template source (git URL or path)."
        ),
    ] = None,
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref", metavar="REF", help="Template version (git tag); default: latest."
        ),
    ] = None,
    no_commit: Annotated[
        bool, typer.Option("--no-commit", help="Write the files but do not commit.")
    ] = False,
    registry_username: Annotated[
        str | None,
        typer.Option(
            "--registry-username",
            metavar="USER",
            help="Registry user of the image pull Secret (image_pull_secret in a "
            f"SOPS fleet); the token comes from ${REGISTRY_TOKEN_ENV}.",
        ),
    ] = None,
) -> None:
    """Register an app in a fleet, also a third-party image without an app repo."""
    from scaffold.adapters.sops import Sops
    from scaffold.adapters.templates import CopierTemplates
    from scaffold.config import resolve_template
    from scaffold.services.fleet import PullSecretMaker, RegistryAuth, add_app

    with handle_errors():
        data = {**load_answers(answers), **parse_set(set_ or [])}
        source = resolve_template(template, ref, os.environ)
        git = Git()
        token = os.environ.get(REGISTRY_TOKEN_ENV)
        auth = (
            RegistryAuth(username=registry_username, token=token)
            if registry_username and token
            else None
        )
        added = add_app(
            fleet_path=fleet,
            answers=data,
            source=source,
            templates=CopierTemplates(git=git),
            git=None if no_commit else git,
            pull_secrets=PullSecretMaker(encryptor=Sops(), auth=auth),
        )
        typer.echo(_summary(added))


@fleet_app.command("example-secret")
def example_secret_command(
    fleet: Annotated[Path, typer.Argument(help="Path of the fleet (infra) repo.")],
    *,
    force: Annotated[
        bool, typer.Option("--force", help="Replace existing example secrets.")
    ] = False,
) -> None:
    """Write a SOPS-encrypted example Secret to secrets/<env>/ (Flux + sops)."""
    from scaffold.adapters.sops import Sops
    from scaffold.services.fleet import write_example_secret

    with handle_errors():
        written = write_example_secret(
            fleet_path=fleet, encryptor=Sops(), git=Git(), force=force
        )
        for rel in written:
            typer.echo(f"Encrypted {rel}")


# --- used by `scaffold new app DEST --infra FLEET` ---------------------------------


def check_infra_kind(kind: str | None) -> None:
    """``--infra`` registers app repos only."""
    if kind is not None and kind != "app":
        raise UsageError("--infra: only `scaffold new app` can register into a fleet")


def infra_answers(infra: Path, given: dict[str, Any], *, git: bool) -> dict[str, Any]:
    """``given`` with the fleet's own ``infra_repo`` (exit 2 on a different one).

    Without git there is no first commit whose image the fleet could deploy.
    """
    from scaffold.layout import IMAGE_TAG
    from scaffold.services.fleet import app_answers_for, read_fleet

    if not git:
        raise UsageError(
            "--infra: the fleet deploys the image of the app repo's first commit "
            f"({IMAGE_TAG}, built by its first push); drop --no-git"
        )
    return app_answers_for(read_fleet(infra, field="--infra"), given)


def check_infra(infra: Path, kind: str, data: dict[str, Any]) -> Fleet:
    """Fail fast (exit 2, nothing written) before the app repo is generated."""
    from scaffold.services.fleet import preflight

    check_infra_kind(kind)
    return preflight(infra, data.get("name"), git=Git())


def register_new_app(
    infra: Path,
    app_answers: dict[str, Any],
    source: TemplateSource,
    *,
    commit: bool,
    app_commit: str | None,
) -> str:
    """Register the freshly generated app repo in the fleet; return a summary.

    Every env deploys ``sha-<app_commit>`` at first, the image the app's release
    workflow builds on the first push (see the fleet README).
    """
    from scaffold.adapters.templates import CopierTemplates
    from scaffold.services.fleet import add_app, fleet_answers_from_app

    git = Git()
    added = add_app(
        fleet_path=infra,
        answers=fleet_answers_from_app(app_answers, commit=app_commit),
        source=source,
        templates=CopierTemplates(git=git),
        git=git if commit else None,
    )
    return _summary(added)
