"""The ``.github/settings.yml`` model (pydantic, strict, unknown keys forbidden so a
typo never silently turns a protection off); the format is the README's "Branch
protection as code"."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


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
    required_signatures: bool | None = None  # own endpoint, never in the PUT body


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
