"""``scaffold fleet``: work inside a fleet (infra) repo.

``scaffold fleet add-app FLEET --set name=web --set app_image=ghcr.io/acme/web``
registers an app (also third-party images without an app repo);
``scaffold new app DEST --infra FLEET`` prints :func:`added_summary` too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scaffold.adapters.git import Git
from scaffold.cli.app import app, handle_errors
from scaffold.cli.inputs import load_answers, parse_set
from scaffold.errors import MissingTokenError
from scaffold.layout import FLEET_APPS_DIR, FLUX_APP_KUSTOMIZATION, OIDC_SECRET_ENV_VAR

if TYPE_CHECKING:
    from scaffold.services.fleet import AddedApp

#: the registry token of an image pull Secret (never an option: it would be logged)
REGISTRY_TOKEN_ENV = "SCAFFOLD_REGISTRY_TOKEN"

fleet_app = typer.Typer(
    name="fleet",
    help="Work inside a fleet (infra) repo: register apps, add encrypted secrets.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(fleet_app, name="fleet")


def added_summary(added: AddedApp) -> str:
    """One line: which app was registered in which fleet, and how."""
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
            "image_pull_secret, description, team, team_group.",
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
        typer.echo(added_summary(added))


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


@fleet_app.command("oidc-secret")
def oidc_secret_command(
    fleet: Annotated[Path, typer.Argument(help="Path of the fleet (infra) repo.")],
    *,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the existing encrypted secret.")
    ] = False,
) -> None:
    """Encrypt Argo CD's SSO client secret (from $ARGOCD_OIDC_CLIENT_SECRET) with
    SOPS into bootstrap/argo-cd/argocd-oidc.sops.yaml (Argo CD + sops fleets)."""
    from scaffold.adapters.sops import Sops
    from scaffold.services.fleet import write_oidc_secret

    with handle_errors():
        value = os.environ.get(OIDC_SECRET_ENV_VAR, "")
        if not value:
            raise MissingTokenError(
                f"{OIDC_SECRET_ENV_VAR}: set it to the OIDC client secret "
                "(it is read from the environment only)"
            )
        written = write_oidc_secret(
            fleet_path=fleet, value=value, encryptor=Sops(), git=Git(), force=force
        )
        typer.echo(f"Encrypted {written}")
