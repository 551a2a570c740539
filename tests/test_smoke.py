"""The package imports and the CLI answers --version."""

from typer.testing import CliRunner

from scaffold import __version__
from scaffold.cli import app


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"scaffold {__version__}"
