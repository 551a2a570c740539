"""Object rules: the generated Kyverno policies plus repo hygiene, one module per
rule (``latest_tag``, ``privileged``, ``requests_limits``, ``pod_probes``,
``run_as_nonroot``, ``secrets``, ``source_refs``; ``pods`` scopes and runs the pod
rules). Each check yields ``(rule_id, path, message)``: ``path`` is the JSON path
inside the object used to find the source line."""

from scaffold.services.check.policies.common import Hit, value_at
from scaffold.services.check.policies.latest_tag import image_problem
from scaffold.services.check.policies.pods import (
    POD_RULES,
    PolicyScope,
    pod_checks,
    policy_scopes,
)
from scaffold.services.check.policies.secrets import (
    is_secret_reference,
    is_sops_encrypted,
    secret_checks,
    secret_generator_checks,
)
from scaffold.services.check.policies.source_refs import (
    fleet_repo_urls,
    is_prod_context,
    normalize_repo_url,
    source_checks,
)

__all__ = [
    "POD_RULES",
    "Hit",
    "PolicyScope",
    "fleet_repo_urls",
    "image_problem",
    "is_prod_context",
    "is_secret_reference",
    "is_sops_encrypted",
    "normalize_repo_url",
    "pod_checks",
    "policy_scopes",
    "secret_checks",
    "secret_generator_checks",
    "source_checks",
    "value_at",
]
