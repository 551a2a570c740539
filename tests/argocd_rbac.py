"""A small casbin-compatible enforcer for Argo CD's RBAC model (tests only).

Implements exactly the model vendored in tests/data/argocd/model.conf (checked on
load): request ``(sub, res, act, obj)``, policies ``p, sub, res, act, obj, eft``,
role inheritance ``g, member, role`` (transitive), effect "some allow and no deny",
and Argo CD's ``globOrRegexMatch`` in its default glob mode (``*`` matches any run of
characters, including ``/``). Argo CD tries the user and each of its groups, then the
``policy.default`` role.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "argocd"
MATCHER = (
    "m = g(r.sub, p.sub) && globOrRegexMatch(r.res, p.res) && "
    "globOrRegexMatch(r.act, p.act) && globOrRegexMatch(r.obj, p.obj)"
)
EFFECT = "e = some(where (p.eft == allow)) && !some(where (p.eft == deny))"


def check_model() -> None:
    """The vendored model is the one this enforcer implements."""
    lines = {ln.strip() for ln in (DATA / "model.conf").read_text().splitlines()}
    for expected in (
        "r = sub, res, act, obj",
        "p = sub, res, act, obj, eft",
        "g = _, _",
        EFFECT,
        MATCHER,
    ):
        assert expected in lines, f"model.conf changed: {expected!r} missing"


@dataclass
class Enforcer:
    policies: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    groups: dict[str, set[str]] = field(default_factory=dict)
    default_role: str | None = None

    def load_csv(self, text: str) -> None:
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            kind, *fields = [f.strip() for f in line.split(",")]
            if kind == "p":
                assert len(fields) == 5, line
                sub, res, act, obj, eft = fields
                assert eft in ("allow", "deny"), line
                self.policies.append((sub, res, act, obj, eft))
            elif kind == "g":
                assert len(fields) == 2, line
                self.groups.setdefault(fields[0], set()).add(fields[1])
            else:
                raise AssertionError(f"not a casbin policy line: {line!r}")

    def load_project(self, project: dict[str, Any]) -> None:
        """An AppProject's roles, as Argo CD turns them into policy lines."""
        name = project["metadata"]["name"]
        for role in project["spec"].get("roles", []):
            subject = f"proj:{name}:{role['name']}"
            for line in role.get("policies", []):
                fields = [f.strip() for f in line.split(",")]
                # Argo CD rejects project policies for other subjects or projects
                assert fields[1] == subject, line
                assert fields[4].startswith(f"{name}/"), line
            self.load_csv("\n".join(role.get("policies", [])))
            for group in role.get("groups", []):
                self.groups.setdefault(group, set()).add(subject)

    def roles_of(self, subject: str) -> set[str]:
        seen, todo = {subject}, [subject]
        while todo:
            for role in self.groups.get(todo.pop(), set()):
                if role not in seen:
                    seen.add(role)
                    todo.append(role)
        return seen

    def enforce(self, sub: str, res: str, act: str, obj: str) -> bool:
        roles = self.roles_of(sub)
        effects = [
            eft
            for p_sub, p_res, p_act, p_obj, eft in self.policies
            if p_sub in roles
            and fnmatch.fnmatchcase(res, p_res)
            and fnmatch.fnmatchcase(act, p_act)
            and fnmatch.fnmatchcase(obj, p_obj)
        ]
        return "allow" in effects and "deny" not in effects

    def can(self, user: str, groups: list[str], res: str, act: str, obj: str) -> bool:
        subjects = [user, *groups]
        if self.default_role:
            subjects.append(self.default_role)
        return any(self.enforce(s, res, act, obj) for s in subjects)


def builtin() -> str:
    return (DATA / "builtin-policy.csv").read_text()
