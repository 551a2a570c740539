"""The ``.github/settings.yml`` model and the desired-vs-live comparison. No I/O.

The file format is the one of the repository-settings app (formerly probot/settings)
and github/safe-settings: ``repository`` (the body of ``PATCH /repos/{o}/{r}``),
``rulesets`` (bodies of ``POST /repos/{o}/{r}/rulesets``) and ``branches`` (classic
protection, passed to ``PUT .../branches/{b}/protection``). Sections scaffold does
not apply (``teams``, ``labels`` ...) are accepted and reported as ignored; unknown
keys anywhere else are errors (``extra="forbid"``), so a typo never silently turns a
protection off.

Two scaffold rules on top of the format:

* classic ``required_status_checks`` is always sent with ``checks`` only: a file
  that lists ``contexts`` is converted, and a file with both is rejected (GitHub
  answers 422 to a body with both or neither);
* ``branches[].protection.required_signatures`` (bool) is applied through its own
  endpoint (``.../protection/required_signatures``), never sent in the PUT body.

Comparison: only what the file states is compared (a key the file leaves out is not
managed), except that a ruleset's *rule types* are compared both ways: a rule present
on GitHub but absent from the file is drift (safe-settings misses this, #655).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ABSENT = "<absent>"  # shown in diffs for a value/rule that does not exist


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- repository -------------------------------------------------------------------

SquashTitle = Literal["PR_TITLE", "COMMIT_OR_PR_TITLE"]
SquashMessage = Literal["PR_BODY", "COMMIT_MESSAGES", "BLANK"]
MergeTitle = Literal["PR_TITLE", "MERGE_MESSAGE"]
MergeMessage = Literal["PR_BODY", "PR_TITLE", "BLANK"]


class RepositorySettings(_Model):
    """The fields of ``PATCH /repos/{owner}/{repo}`` scaffold manages."""

    description: str | None = None
    homepage: str | None = None
    private: bool | None = None
    visibility: Literal["public", "private"] | None = None
    has_issues: bool | None = None
    has_projects: bool | None = None
    has_wiki: bool | None = None
    is_template: bool | None = None
    default_branch: str | None = None
    allow_squash_merge: bool | None = None
    allow_merge_commit: bool | None = None
    allow_rebase_merge: bool | None = None
    allow_auto_merge: bool | None = None
    delete_branch_on_merge: bool | None = None
    allow_update_branch: bool | None = None
    use_squash_pr_title_as_default: bool | None = None
    squash_merge_commit_title: SquashTitle | None = None
    squash_merge_commit_message: SquashMessage | None = None
    merge_commit_title: MergeTitle | None = None
    merge_commit_message: MergeMessage | None = None
    archived: bool | None = None
    allow_forking: bool | None = None
    web_commit_signoff_required: bool | None = None


# --- rulesets ---------------------------------------------------------------------


class SimpleRule(_Model):
    """A rule without parameters."""

    type: Literal[
        "creation",
        "update",
        "deletion",
        "required_linear_history",
        "required_signatures",
        "non_fast_forward",
    ]


class PullRequestParameters(_Model):
    required_approving_review_count: int = Field(ge=0, le=10)
    dismiss_stale_reviews_on_push: bool
    require_code_owner_review: bool
    require_last_push_approval: bool
    required_review_thread_resolution: bool
    allowed_merge_methods: list[Literal["merge", "squash", "rebase"]] | None = Field(
        default=None, min_length=1
    )


class PullRequestRule(_Model):
    type: Literal["pull_request"]
    parameters: PullRequestParameters


class RulesetStatusCheck(_Model):
    context: str = Field(min_length=1)
    integration_id: int | None = None


class StatusChecksParameters(_Model):
    required_status_checks: list[RulesetStatusCheck]
    strict_required_status_checks_policy: bool
    do_not_enforce_on_create: bool | None = None


class StatusChecksRule(_Model):
    type: Literal["required_status_checks"]
    parameters: StatusChecksParameters


Rule = Annotated[
    SimpleRule | PullRequestRule | StatusChecksRule, Field(discriminator="type")
]


class BypassActor(_Model):
    actor_id: int | None = None
    actor_type: Literal[
        "Integration",
        "OrganizationAdmin",
        "RepositoryRole",
        "Team",
        "DeployKey",
        "User",
    ]
    bypass_mode: Literal["always", "pull_request", "exempt"] = "always"


class RefNameCondition(_Model):
    include: list[str]
    exclude: list[str] = []


class RulesetConditions(_Model):
    ref_name: RefNameCondition


class Ruleset(_Model):
    name: str = Field(min_length=1, max_length=100)
    target: Literal["branch", "tag", "push"] = "branch"
    enforcement: Literal["disabled", "active", "evaluate"]
    bypass_actors: list[BypassActor] = []
    conditions: RulesetConditions | None = None
    rules: list[Rule] = []

    @model_validator(mode="after")
    def _unique_rule_types(self) -> Ruleset:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.type in seen:
                raise ValueError(f"rule type {rule.type!r} appears twice")
            seen.add(rule.type)
        return self

    def has_rule(self, rule_type: str) -> bool:
        return any(rule.type == rule_type for rule in self.rules)


# --- classic branch protection ----------------------------------------------------


class ClassicCheck(_Model):
    context: str = Field(min_length=1)
    app_id: int | None = None


class ClassicStatusChecks(_Model):
    strict: bool
    checks: list[ClassicCheck] | None = None
    contexts: list[str] | None = None

    @model_validator(mode="after")
    def _one_of_checks_contexts(self) -> ClassicStatusChecks:
        if (self.checks is None) == (self.contexts is None):
            raise ValueError(
                "give exactly one of 'checks' or 'contexts' (GitHub rejects both "
                "or neither; prefer 'checks')"
            )
        return self

    def as_checks(self) -> list[ClassicCheck]:
        if self.checks is not None:
            return list(self.checks)
        return [ClassicCheck(context=c) for c in self.contexts or []]


class ActorLists(_Model):
    users: list[str] = []
    teams: list[str] = []
    apps: list[str] = []


class ClassicReviews(_Model):
    required_approving_review_count: int = Field(default=1, ge=0, le=6)
    dismiss_stale_reviews: bool = False
    require_code_owner_reviews: bool = False
    require_last_push_approval: bool = False
    dismissal_restrictions: ActorLists | None = None
    bypass_pull_request_allowances: ActorLists | None = None


class ClassicProtection(_Model):
    # The first four keys are required by GitHub; null turns the feature off.
    required_status_checks: ClassicStatusChecks | None
    enforce_admins: bool | None
    required_pull_request_reviews: ClassicReviews | None
    restrictions: ActorLists | None
    required_linear_history: bool | None = None
    allow_force_pushes: bool | None = None
    allow_deletions: bool | None = None
    block_creations: bool | None = None
    required_conversation_resolution: bool | None = None
    lock_branch: bool | None = None
    allow_fork_syncing: bool | None = None
    required_signatures: bool | None = None  # own endpoint, see module docstring


class BranchSettings(_Model):
    name: str = Field(min_length=1)  # "default": the repository's default branch
    protection: ClassicProtection | None


# --- the file ---------------------------------------------------------------------

IGNORED_SECTIONS = (
    "teams",
    "collaborators",
    "environments",
    "labels",
    "milestones",
    "autolinks",
    "custom_properties",
)


class SettingsFile(_Model):
    """``.github/settings.yml``."""

    repository: RepositorySettings | None = None
    rulesets: list[Ruleset] = []
    branches: list[BranchSettings] = []
    teams: Any = None
    collaborators: Any = None
    environments: Any = None
    labels: Any = None
    milestones: Any = None
    autolinks: Any = None
    custom_properties: Any = None

    @model_validator(mode="after")
    def _consistent(self) -> SettingsFile:
        names = [r.name for r in self.rulesets]
        if len(set(names)) != len(names):
            raise ValueError("ruleset names must be unique")
        branches = [b.name for b in self.branches]
        if len(set(branches)) != len(branches):
            raise ValueError("branch names must be unique")
        linear = any(
            r.has_rule("required_linear_history") for r in self.rulesets
        ) or any(
            b.protection is not None and b.protection.required_linear_history
            for b in self.branches
        )
        repo = self.repository
        if (
            linear
            and repo is not None
            and repo.allow_squash_merge is False
            and repo.allow_rebase_merge is False
        ):
            raise ValueError(
                "required linear history needs allow_squash_merge or "
                "allow_rebase_merge to be true"
            )
        return self

    def ignored_sections(self) -> list[str]:
        return [s for s in IGNORED_SECTIONS if getattr(self, s) is not None]


class SettingsError(ValueError):
    """The settings data breaks a rule; ``str()`` is one line naming the field."""


_RULE_TAGS = frozenset(
    {
        "creation",
        "update",
        "deletion",
        "required_linear_history",
        "required_signatures",
        "non_fast_forward",
        "pull_request",
        "required_status_checks",
    }
)


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _RULE_TAGS and out.endswith("]") and ".rules[" in f".{out}":
            continue  # the discriminator tag pydantic inserts after rules[i]
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def parse_settings(data: object) -> SettingsFile:
    """Validate loaded YAML data; raise :class:`SettingsError` with one line."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SettingsError("(top level): must be a mapping")
    try:
        return SettingsFile.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        msg = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            msg = "unknown key (not part of the settings format scaffold applies)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise SettingsError(f"{_loc(tuple(first['loc']))}: {msg}{more}") from None


# --- request bodies ---------------------------------------------------------------


def repository_body(repo: RepositorySettings) -> dict[str, Any]:
    """The managed repository fields (``PATCH /repos/{o}/{r}``)."""
    return repo.model_dump(exclude_none=True)


def ruleset_body(ruleset: Ruleset) -> dict[str, Any]:
    """``POST /repos/{o}/{r}/rulesets`` body."""
    body = ruleset.model_dump(exclude_none=True)
    return body


#: Classic protection's on/off switches, sent only when the file sets them (the
#: required-signatures switch has its own endpoint).
CLASSIC_TOGGLES = (
    "required_linear_history",
    "allow_force_pushes",
    "allow_deletions",
    "block_creations",
    "required_conversation_resolution",
    "lock_branch",
    "allow_fork_syncing",
)


def classic_body(protection: ClassicProtection) -> dict[str, Any]:
    """``PUT .../branches/{b}/protection`` body: ``checks`` only, no signatures."""
    body: dict[str, Any] = {}
    rsc = protection.required_status_checks
    body["required_status_checks"] = (
        None
        if rsc is None
        else {
            "strict": rsc.strict,
            "checks": [c.model_dump(exclude_none=True) for c in rsc.as_checks()],
        }
    )
    body["enforce_admins"] = protection.enforce_admins
    reviews = protection.required_pull_request_reviews
    body["required_pull_request_reviews"] = (
        None if reviews is None else reviews.model_dump(exclude_none=True)
    )
    restrictions = protection.restrictions
    body["restrictions"] = (
        None if restrictions is None else restrictions.model_dump(exclude_none=True)
    )
    for key in CLASSIC_TOGGLES:
        value = getattr(protection, key)
        if value is not None:
            body[key] = value
    return body


# --- comparison -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """One field that differs: ``path`` within its target, live and desired value."""

    path: str
    live: Any
    desired: Any


def flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    """Nested dicts as ``a.b.c`` -> leaf (lists and empty dicts are leaves)."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def _compare(desired: dict[str, Any], live: dict[str, Any]) -> list[Change]:
    """Flatten both; report every desired leaf whose live value differs."""
    want: dict[str, Any] = {}
    have: dict[str, Any] = {}
    flatten(desired, "", want)
    flatten(live, "", have)
    changes = []
    for path, value in want.items():
        current = have.get(path, ABSENT)
        if isinstance(current, dict) and not isinstance(value, dict):
            current = current or ABSENT
        if current != value:
            changes.append(Change(path=path, live=current, desired=value))
    return changes


def compare_repository(repo: RepositorySettings, live: dict[str, Any]) -> list[Change]:
    """Changed repository fields (live comes from ``GET /repos/{o}/{r}``)."""
    return [
        Change(path=key, live=live.get(key, ABSENT), desired=value)
        for key, value in repository_body(repo).items()
        if live.get(key, ABSENT) != value
    ]


def _canon_checks(
    items: list[dict[str, Any]], ids: dict[str, Any], id_key: str
) -> list[str]:
    """Status checks as sorted strings; the integration/app id only when desired."""
    out = []
    for item in items:
        context = str(item.get("context"))
        wanted = ids.get(context)
        out.append(f"{context}@{item.get(id_key)}" if wanted is not None else context)
    return sorted(out)


def _canon_actor(actor: dict[str, Any]) -> str:
    actor_id = actor.get("actor_id")
    if actor.get("actor_type") in {"OrganizationAdmin", "DeployKey"}:
        actor_id = None
    return f"{actor.get('actor_type')}:{actor_id}:{actor.get('bypass_mode', 'always')}"


# Booleans GitHub may leave out of a rule's parameters when they are false.
_PARAM_DEFAULTS: dict[str, dict[str, Any]] = {
    "pull_request": {
        "dismiss_stale_reviews_on_push": False,
        "require_code_owner_review": False,
        "require_last_push_approval": False,
        "required_review_thread_resolution": False,
    },
    "required_status_checks": {"do_not_enforce_on_create": False},
}


def _canon_ruleset(
    data: dict[str, Any], desired: Ruleset
) -> tuple[dict[str, Any], set[str]]:
    """A ruleset body (desired or live) in comparable form, and its rule types."""
    wanted_ids = {}
    for rule in desired.rules:
        if isinstance(rule, StatusChecksRule):
            wanted_ids = {
                c.context: c.integration_id
                for c in rule.parameters.required_status_checks
            }
    out: dict[str, Any] = {
        "name": data.get("name", ABSENT),
        "target": data.get("target", "branch"),
        "enforcement": data.get("enforcement", ABSENT),
    }
    if "bypass_actors" in data:  # non-admin tokens do not see bypass actors
        out["bypass_actors"] = sorted(
            _canon_actor(a) for a in data.get("bypass_actors") or []
        )
    ref = ((data.get("conditions") or {}).get("ref_name")) or {}
    out["conditions"] = {
        "ref_name": {
            "include": sorted(ref.get("include") or []),
            "exclude": sorted(ref.get("exclude") or []),
        }
    }
    rules: dict[str, Any] = {}
    for rule in data.get("rules") or []:
        params = {
            **_PARAM_DEFAULTS.get(str(rule.get("type")), {}),
            **(rule.get("parameters") or {}),
        }
        if "allowed_merge_methods" in params:
            params["allowed_merge_methods"] = sorted(params["allowed_merge_methods"])
        if "required_status_checks" in params:
            params["required_status_checks"] = _canon_checks(
                params["required_status_checks"], wanted_ids, "integration_id"
            )
        rules[str(rule.get("type"))] = params
    out["rules"] = rules
    return out, set(rules)


def compare_ruleset(desired: Ruleset, live: dict[str, Any]) -> list[Change]:
    """Differences between the file's ruleset and GitHub's (``GET .../rulesets/{id}``).

    Paths are ``rules.<type>.<parameter>``; an added or removed rule is
    ``rules.<type>`` with ``<absent>`` on one side.
    """
    want, want_types = _canon_ruleset(ruleset_body(desired), desired)
    have, have_types = _canon_ruleset(live, desired)
    if "bypass_actors" not in have:
        want.pop("bypass_actors", None)
    want_rules = want.pop("rules")
    have_rules = have.pop("rules")
    changes = _compare(want, have)
    for rule_type in sorted(want_types | have_types):
        if rule_type not in have_types:
            changes.append(Change(f"rules.{rule_type}", ABSENT, "present"))
        elif rule_type not in want_types:
            changes.append(Change(f"rules.{rule_type}", "present", ABSENT))
        else:
            for change in _compare(want_rules[rule_type], have_rules[rule_type]):
                changes.append(
                    Change(
                        f"rules.{rule_type}.{change.path}", change.live, change.desired
                    )
                )
    return changes


def ruleset_fields(ruleset: Ruleset) -> list[tuple[str, Any]]:
    """The ruleset as (path, value) leaves, with the paths diffs use."""
    canon, _ = _canon_ruleset(ruleset_body(ruleset), ruleset)
    rules = canon.pop("rules")
    flat: dict[str, Any] = {}
    flatten(canon, "", flat)
    for rule_type, params in rules.items():
        if params:
            flatten(params, f"rules.{rule_type}", flat)
        else:
            flat[f"rules.{rule_type}"] = "present"
    return list(flat.items())


def ruleset_update_body(desired: Ruleset, changes: list[Change]) -> dict[str, Any]:
    """The top-level fields of the ruleset that changed (``PUT`` replaces each)."""
    body = ruleset_body(desired)
    changed = {c.path.split(".", 1)[0] for c in changes}
    if "conditions" in changed and "conditions" not in body:
        body["conditions"] = {"ref_name": {"include": [], "exclude": []}}
    return {key: value for key, value in body.items() if key in changed}


def _enabled(live: dict[str, Any], key: str) -> Any:
    value = live.get(key)
    if isinstance(value, dict):
        return bool(value.get("enabled"))
    return False if value is None else value


def _names(items: list[Any] | None, key: str) -> list[str]:
    return sorted(
        str(i.get(key)) if isinstance(i, dict) else str(i) for i in (items or [])
    )


def _canon_actor_lists(value: Any) -> Any:
    if value is None:
        return None
    return {
        "users": _names(value.get("users"), "login"),
        "teams": _names(value.get("teams"), "slug"),
        "apps": _names(value.get("apps"), "slug"),
    }


def canon_live_protection(
    live: dict[str, Any] | None, desired: ClassicProtection
) -> dict[str, Any]:
    """``GET .../branches/{b}/protection`` (None: not protected) in desired shape."""
    live = live or {}
    wanted_ids = {}
    if desired.required_status_checks is not None:
        wanted_ids = {
            c.context: c.app_id for c in desired.required_status_checks.as_checks()
        }
    out: dict[str, Any] = {}
    rsc = live.get("required_status_checks")
    out["required_status_checks"] = (
        None
        if not rsc
        else {
            "strict": bool(rsc.get("strict")),
            "checks": _canon_checks(
                rsc.get("checks")
                or [{"context": c} for c in rsc.get("contexts") or []],
                wanted_ids,
                "app_id",
            ),
        }
    )
    out["enforce_admins"] = _enabled(live, "enforce_admins")
    reviews = live.get("required_pull_request_reviews")
    if not reviews:
        out["required_pull_request_reviews"] = None
    else:
        out["required_pull_request_reviews"] = {
            "required_approving_review_count": reviews.get(
                "required_approving_review_count", 0
            ),
            "dismiss_stale_reviews": bool(reviews.get("dismiss_stale_reviews")),
            "require_code_owner_reviews": bool(
                reviews.get("require_code_owner_reviews")
            ),
            "require_last_push_approval": bool(
                reviews.get("require_last_push_approval")
            ),
            "dismissal_restrictions": _canon_actor_lists(
                reviews.get("dismissal_restrictions")
            ),
            "bypass_pull_request_allowances": _canon_actor_lists(
                reviews.get("bypass_pull_request_allowances")
            ),
        }
    out["restrictions"] = _canon_actor_lists(live.get("restrictions"))
    for key in (*CLASSIC_TOGGLES, "required_signatures"):
        out[key] = _enabled(live, key)
    return out


def canon_desired_protection(desired: ClassicProtection) -> dict[str, Any]:
    """The file's protection in the same shape as :func:`canon_live_protection`."""
    body = classic_body(desired)
    rsc = body["required_status_checks"]
    if rsc is not None:
        wanted_ids = {c["context"]: c.get("app_id") for c in rsc["checks"]}
        body["required_status_checks"] = {
            "strict": rsc["strict"],
            "checks": _canon_checks(rsc["checks"], wanted_ids, "app_id"),
        }
    reviews = body["required_pull_request_reviews"]
    if reviews is not None:
        for key in ("dismissal_restrictions", "bypass_pull_request_allowances"):
            if key in reviews:
                reviews[key] = _canon_actor_lists(reviews[key])
    body["restrictions"] = _canon_actor_lists(body["restrictions"])
    body["enforce_admins"] = bool(body["enforce_admins"])  # null turns it off
    if desired.required_signatures is not None:
        body["required_signatures"] = desired.required_signatures
    return body


def compare_protection(
    desired: ClassicProtection, live: dict[str, Any] | None
) -> list[Change]:
    """Differences between the file's classic protection and GitHub's."""
    want = canon_desired_protection(desired)
    have = canon_live_protection(live, desired)
    changes: list[Change] = []
    for key, value in want.items():
        current = have.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            changes.extend(
                Change(f"{key}.{c.path}", c.live, c.desired)
                for c in _compare(value, current)
            )
        elif value != current:
            changes.append(
                Change(key, ABSENT if current is None else current, value)
                if value is not None
                else Change(key, current, None)
            )
    return changes
