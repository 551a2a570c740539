"""``scaffold check``: prove a GitOps repo builds, validates and follows the rules."""

from scaffold.services.check.engine import check_repo
from scaffold.services.check.report import (
    REPORT_VERSION,
    CheckReport,
    Finding,
    RootResult,
    RootStatus,
)
from scaffold.services.check.settings import (
    DEFAULT_KUBERNETES_VERSION,
    CheckOptions,
    CheckSettings,
    resolve_settings,
)

__all__ = [
    "DEFAULT_KUBERNETES_VERSION",
    "REPORT_VERSION",
    "CheckOptions",
    "CheckReport",
    "CheckSettings",
    "Finding",
    "RootResult",
    "RootStatus",
    "check_repo",
    "resolve_settings",
]
