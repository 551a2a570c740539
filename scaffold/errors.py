"""The scaffold error hierarchy.

No I/O and no framework imports here. ``str(error)`` is the one-line message shown to
the user; ``exit_code`` is what the CLI exits with. Adapters translate third-party
exceptions into these (``raise ... from exc``).
"""

from typing import ClassVar


class ScaffoldError(Exception):
    """Base class; an operation failed (exit 1)."""

    exit_code: ClassVar[int] = 1


class UsageError(ScaffoldError):
    """Bad input, bad configuration or a refused precondition (exit 2)."""

    exit_code: ClassVar[int] = 2


class InvalidAnswerError(UsageError):
    """A template answer breaks a rule. The message names the key and the rule."""

    def __init__(self, *, key: str, rule: str) -> None:
        self.key = key
        self.rule = rule
        super().__init__(f"{key}: {rule}")


class MissingAnswersError(UsageError):
    """Required answers are missing and there is no terminal to ask them on."""

    def __init__(self, *, keys: list[str]) -> None:
        self.keys = keys
        super().__init__(
            "missing answers (no terminal to ask): "
            + ", ".join(keys)
            + "; pass them with --set KEY=VALUE or --answers FILE"
        )


class DestinationExistsError(UsageError):
    """The destination is not empty and --force was not given."""

    def __init__(self, *, path: str) -> None:
        self.path = path
        super().__init__(f"destination {path} is not empty (use --force to overwrite)")


class DirtyRepoError(UsageError):
    """The repository has uncommitted or untracked changes."""

    def __init__(self, *, path: str) -> None:
        self.path = path
        super().__init__(
            f"{path} has uncommitted or untracked changes; commit or stash them first"
        )


class ConfigError(UsageError):
    """Invalid or missing configuration."""


class ToolMissingError(UsageError):
    """An external tool the command needs is not installed."""


class TemplateError(ScaffoldError):
    """Copier failed to render or update."""


class GitError(ScaffoldError):
    """A git subprocess failed."""

    def __init__(self, *, args: list[str], returncode: int, stderr: str) -> None:
        self.args_ = args
        self.returncode = returncode
        self.stderr = stderr
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
        super().__init__(f"git {' '.join(args[:2])} failed ({returncode}): {detail}")


class Aborted(ScaffoldError):
    """The user declined to go on (exit 1, nothing written)."""


class UpdateConflictError(ScaffoldError):
    """A template update left conflicts for the user to resolve (exit 3)."""

    exit_code: ClassVar[int] = 3

    def __init__(self, *, count: int, branch: str | None) -> None:
        self.count = count
        self.branch = branch
        if branch is None:
            message = f"the update would leave {count} conflict(s) (dry run)"
        else:
            message = (
                f"the update left {count} conflict(s) on branch {branch}; "
                "resolve them, then commit (nothing was committed)"
            )
        super().__init__(message)


class Interrupted(ScaffoldError):
    """The user interrupted an interactive session (exit 130)."""

    exit_code: ClassVar[int] = 130


class MissingTokenError(UsageError):
    """No API token in the environment."""


class ForgeError(ScaffoldError):
    """A forge (GitHub) API call failed (exit 1). Messages never carry the token."""


class ForgeAuthError(ForgeError):
    """401: the token is missing, expired or wrong."""


class ForgePermissionError(ForgeError):
    """403: the token lacks a permission (the message names it)."""


class ForgeNotFoundError(ForgeError):
    """404: the repository, branch or feature does not exist or is not visible."""


class ForgeValidationError(ForgeError):
    """422: GitHub rejected the request body (the message is GitHub's)."""


class ForgeRateLimitError(ForgeError):
    """Rate limited for longer than we are willing to wait."""


class ForgeServerError(ForgeError):
    """5xx or network failure that persisted through the retries."""
