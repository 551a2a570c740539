"""A stateful fake of the GitHub REST API on loopback (pytest-httpserver).

It keeps repositories, branches, repository settings, rulesets and classic branch
protection, answers in GitHub's response shapes, and validates every request body
it receives against GitHub's published OpenAPI description
(vendored as ``tests/data/github/api.github.com.json.xz``), with two documented patches:

1. ``PUT .../branches/{branch}/protection``: the description marks the deprecated
   ``required_status_checks.contexts`` as required, but GitHub answers 422 to a
   body with both ``contexts`` and ``checks`` or with neither (go-github #2276,
   ossf/allstar #155) and accepts ``checks`` alone (go-github #2976). The patch
   requires exactly one of the two.
2. Unknown keys are rejected (``additionalProperties: false`` on every object
   schema of the request bodies we send, except inside ``allOf``): GitHub may
   silently ignore an unknown key, which would hide a typo in our bodies.

A request body that breaks the schema gets a 422 *and* is recorded in
``violations`` (the ``fake_github`` fixture fails the test if any were recorded).
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import lzma
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.helpers import GITHUB_API_DESCRIPTION

API_VERSION = "2022-11-28"

# The operations scaffold protect uses (method, path template).
USED_OPERATIONS = (
    ("get", "/repos/{owner}/{repo}"),
    ("patch", "/repos/{owner}/{repo}"),
    ("get", "/repos/{owner}/{repo}/rulesets"),
    ("post", "/repos/{owner}/{repo}/rulesets"),
    ("get", "/repos/{owner}/{repo}/rulesets/{ruleset_id}"),
    ("put", "/repos/{owner}/{repo}/rulesets/{ruleset_id}"),
    ("get", "/repos/{owner}/{repo}/branches/{branch}/protection"),
    ("put", "/repos/{owner}/{repo}/branches/{branch}/protection"),
    ("delete", "/repos/{owner}/{repo}/branches/{branch}/protection"),
    ("post", "/repos/{owner}/{repo}/branches/{branch}/protection/required_signatures"),
    (
        "delete",
        "/repos/{owner}/{repo}/branches/{branch}/protection/required_signatures",
    ),
)


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class GitHubSpec:
    """GitHub's OpenAPI description, indexed by (method, path), with validators."""

    URI = "urn:github-rest-api"

    def __init__(self, path: Path) -> None:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        self.doc: dict[str, Any] = json.loads(lzma.decompress(path.read_bytes()))
        self._ops: dict[str, list[tuple[re.Pattern[str], str]]] = {}
        for template, item in self.doc["paths"].items():
            regex = re.compile(
                "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
            )
            for method in item:
                if method in {"get", "put", "post", "patch", "delete"}:
                    self._ops.setdefault(method, []).append((regex, template))
        for entries in self._ops.values():  # literal segments beat parameters
            entries.sort(key=lambda e: e[1].count("{"))
        self._patch()
        self._registry = Registry().with_resource(
            self.URI, Resource.from_contents(self.doc, default_specification=DRAFT4)
        )
        self._validators: dict[tuple[str, str], Any] = {}

    def _patch(self) -> None:
        put = self.doc["paths"]["/repos/{owner}/{repo}/branches/{branch}/protection"][
            "put"
        ]
        rsc = put["requestBody"]["content"]["application/json"]["schema"]["properties"][
            "required_status_checks"
        ]
        rsc["required"] = ["strict"]
        rsc["oneOf"] = [
            {"required": ["checks"], "not": {"required": ["contexts"]}},
            {"required": ["contexts"], "not": {"required": ["checks"]}},
        ]
        seen: set[int] = set()
        for method, template in USED_OPERATIONS:
            body = self.doc["paths"][template][method].get("requestBody")
            if body:
                self._close(body["content"]["application/json"]["schema"], seen)

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.doc
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            schema = node
        return schema

    def _close(self, schema: dict[str, Any], seen: set[int]) -> None:
        """Patch 2: additionalProperties false on object schemas (not under allOf)."""
        schema = self._resolve(schema)
        if id(schema) in seen:
            return
        seen.add(id(schema))
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        for sub in schema.get("properties", {}).values():
            self._close(sub, seen)
        if isinstance(schema.get("items"), dict):
            self._close(schema["items"], seen)
        for key in ("oneOf", "anyOf"):
            for sub in schema.get(key, []):
                self._close(sub, seen)

    def operation(self, method: str, path: str) -> str | None:
        """The path template of the documented operation, or None."""
        for regex, template in self._ops.get(method.lower(), []):
            if regex.match(path):
                return template
        return None

    def has_body(self, method: str, template: str) -> bool:
        return "requestBody" in self.doc["paths"][template][method.lower()]

    def body_errors(self, method: str, template: str, body: Any) -> list[str]:
        """Schema violations of a request body (empty list: valid)."""
        from openapi_schema_validator import OAS30WriteValidator

        key = (method.lower(), template)
        validator = self._validators.get(key)
        if validator is None:
            ref = "#/" + _pointer(
                "paths",
                template,
                method.lower(),
                "requestBody",
                "content",
                "application/json",
                "schema",
            )
            validator = OAS30WriteValidator(
                {"$ref": self.URI + ref}, registry=self._registry
            )
            self._validators[key] = validator
        return [
            f"{'/'.join(str(p) for p in err.absolute_path) or '(body)'}: {err.message}"
            for err in validator.iter_errors(body)
        ]

    def validate(self, method: str, template: str, body: Any) -> None:
        """Raise AssertionError if ``body`` breaks the schema."""
        errors = self.body_errors(method, template, body)
        assert not errors, f"{method.upper()} {template}: {errors}"


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    body: Any
    authorization: str | None


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int


@dataclass
class FakeRepo:
    owner: str
    name: str
    default_branch: str = "main"
    branches: set[str] = field(default_factory=lambda: {"main"})
    settings: dict[str, Any] = field(
        default_factory=lambda: {
            "description": None,
            "private": False,
            "has_issues": True,
            "has_projects": True,
            "has_wiki": True,
            "allow_squash_merge": True,
            "allow_merge_commit": True,
            "allow_rebase_merge": True,
            "allow_auto_merge": False,
            "delete_branch_on_merge": False,
            "allow_update_branch": False,
            "use_squash_pr_title_as_default": False,
            "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
            "squash_merge_commit_message": "COMMIT_MESSAGES",
            "merge_commit_title": "MERGE_MESSAGE",
            "merge_commit_message": "PR_TITLE",
            "web_commit_signoff_required": False,
        }
    )
    rulesets: dict[int, dict[str, Any]] = field(default_factory=dict)
    protection: dict[str, dict[str, Any]] = field(default_factory=dict)
    signatures: dict[str, bool] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class _Reply(Exception):
    def __init__(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


def _error(status: int, message: str, **extra: Any) -> _Reply:
    return _Reply(
        status,
        {
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": str(status),
            **extra,
        },
    )


class FakeGitHub:
    """State + request handler; register with :meth:`install`."""

    def __init__(
        self,
        server: HTTPServer,
        *,
        token: str,
        spec: GitHubSpec | None,
        prefix: str = "",
    ) -> None:
        self.server = server
        self.token = token
        self.spec = spec
        self.prefix = prefix
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        self.admin = True  # False: the token lacks "Administration" permission
        self.max_per_page = 100
        self._ids = itertools.count(41)
        self._routes: dict[tuple[str, str], Callable[..., Any]] = {
            ("GET", "/repos/{owner}/{repo}"): self._get_repo,
            ("PATCH", "/repos/{owner}/{repo}"): self._patch_repo,
            ("GET", "/repos/{owner}/{repo}/rulesets"): self._list_rulesets,
            ("POST", "/repos/{owner}/{repo}/rulesets"): self._create_ruleset,
            ("GET", "/repos/{owner}/{repo}/rulesets/{ruleset_id}"): self._get_ruleset,
            ("PUT", "/repos/{owner}/{repo}/rulesets/{ruleset_id}"): self._put_ruleset,
            (
                "GET",
                "/repos/{owner}/{repo}/branches/{branch}/protection",
            ): self._get_protection,
            (
                "PUT",
                "/repos/{owner}/{repo}/branches/{branch}/protection",
            ): self._put_protection,
            (
                "DELETE",
                "/repos/{owner}/{repo}/branches/{branch}/protection",
            ): self._delete_protection,
            (
                "POST",
                "/repos/{owner}/{repo}/branches/{branch}/protection/required_signatures",
            ): self._post_signatures,
            (
                "DELETE",
                "/repos/{owner}/{repo}/branches/{branch}/protection/required_signatures",
            ): self._delete_signatures,
        }

    # --- set-up -----------------------------------------------------------------

    def install(self) -> FakeGitHub:
        self.server.expect_request(re.compile(r"^/.*")).respond_with_handler(
            self._handle
        )
        return self

    @property
    def url(self) -> str:
        return self.server.url_for(self.prefix).rstrip("/")

    def add_repo(self, owner: str, name: str, **kwargs: Any) -> FakeRepo:
        repo = FakeRepo(owner=owner, name=name, **kwargs)
        self.repos[repo.full_name] = repo
        return repo

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        message: str = "error",
        body: Any = None,
        **extra: Any,
    ) -> None:
        """The next ``times`` requests matching method and path regex get this
        reply (``body`` replaces the default ``{"message": ...}``)."""
        self.faults.append(
            Fault(
                method=method,
                path=re.compile(path),
                status=status,
                headers=headers or {},
                body={"message": message, **extra} if body is None else body,
                times=times,
            )
        )

    @property
    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    # --- dispatch ---------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        try:
            self._dispatch(request)
        except _Reply as reply:
            return Response(
                "" if reply.body is None else json.dumps(reply.body),
                status=reply.status,
                headers=reply.headers,
                content_type="application/json; charset=utf-8",
            )
        raise AssertionError("handlers always reply")  # pragma: no cover

    def _dispatch(self, request: Request) -> None:
        raw = request.get_data()
        body = json.loads(raw) if raw else None
        path = request.path
        self.requests.append(
            Recorded(
                method=request.method,
                path=path,
                query=request.query_string.decode(),
                body=body,
                authorization=request.headers.get("Authorization"),
            )
        )
        if request.headers.get("X-GitHub-Api-Version") != API_VERSION:
            self.violations.append(f"{request.method} {path}: API version header")
        if not path.startswith(self.prefix + "/"):
            raise _error(404, "Not Found")
        path = path[len(self.prefix) :]
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            raise _error(401, "Bad credentials")
        for fault in self.faults:
            if (
                fault.times > 0
                and fault.method == request.method
                and fault.path.search(path)
            ):
                fault.times -= 1
                raise _Reply(fault.status, fault.body, fault.headers)
        template = self._template(request.method, path)
        if self.spec is not None and body is not None:
            if not self.spec.has_body(request.method, template):
                self.violations.append(f"{request.method} {template}: unexpected body")
            errors = self.spec.body_errors(request.method, template, body)
            if errors:
                self.violations.append(f"{request.method} {template}: {errors}")
                raise _error(422, "Invalid request.\n\n" + "\n".join(errors))
        handler = self._routes.get((request.method, template))
        if handler is None:
            self.violations.append(f"{request.method} {template}: not faked")
            raise _error(404, "Not Found")
        params = self._params(template, path)
        handler(request, body, **params)

    def _template(self, method: str, path: str) -> str:
        if self.spec is not None:
            template = self.spec.operation(method, path)
            if template is None:
                self.violations.append(f"{method} {path}: not in the API description")
                raise _error(404, "Not Found")
            return template
        for m, template in self._routes:
            regex = "^" + re.sub(r"\{[^/]+?\}", "[^/]+", template) + "$"
            if m == method and re.match(regex, path):
                return template
        raise _error(404, "Not Found")

    @staticmethod
    def _params(template: str, path: str) -> dict[str, str]:
        names = re.findall(r"\{([^/]+?)\}", template)
        regex = "^" + re.sub(r"\{[^/]+?\}", "([^/]+)", template) + "$"
        match = re.match(regex, path)
        assert match is not None
        return dict(zip(names, match.groups(), strict=True))

    def _repo(self, owner: str, repo: str) -> FakeRepo:
        found = self.repos.get(f"{owner}/{repo}")
        if found is None:
            raise _error(404, "Not Found")
        return found

    def _need_admin(self) -> None:
        if not self.admin:
            reply = _error(403, "Resource not accessible by personal access token")
            reply.headers["X-Accepted-GitHub-Permissions"] = "administration=write"
            raise reply

    # --- repository -------------------------------------------------------------

    def _repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        return {
            "id": 1000 + len(repo.name),
            "node_id": "R_kgDO",
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": {"login": repo.owner, "type": "Organization"},
            "default_branch": repo.default_branch,
            "visibility": "private" if repo.settings.get("private") else "public",
            "permissions": {"admin": self.admin, "push": True, "pull": True},
            **repo.settings,
        }

    def _get_repo(self, request: Request, body: Any, owner: str, repo: str) -> None:
        raise _Reply(200, self._repo_json(self._repo(owner, repo)))

    def _patch_repo(self, request: Request, body: Any, owner: str, repo: str) -> None:
        found = self._repo(owner, repo)
        self._need_admin()
        if "default_branch" in body and body["default_branch"] not in found.branches:
            raise _error(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "Repository",
                        "code": "invalid",
                        "field": "default_branch",
                        "message": f"The branch {body['default_branch']} was not "
                        "found. Please push that ref first or create it via the "
                        "Git Data API.",
                    }
                ],
            )
        for key, value in body.items():
            if key == "default_branch":
                found.default_branch = value
            else:
                found.settings[key] = value
        raise _Reply(200, self._repo_json(found))

    # --- rulesets ---------------------------------------------------------------

    def _ruleset_json(self, repo: FakeRepo, ruleset: dict[str, Any]) -> dict[str, Any]:
        base = f"{self.url}/repos/{repo.full_name}/rulesets/{ruleset['id']}"
        return {
            **copy.deepcopy(ruleset),
            "source_type": "Repository",
            "source": repo.full_name,
            "node_id": f"RRS_{ruleset['id']}",
            "current_user_can_bypass": "never",
            "_links": {"self": {"href": base}},
            "created_at": "2026-11-26T12:00:00.000Z",
            "updated_at": "2026-11-26T12:00:00.000Z",
        }

    def _list_rulesets(
        self, request: Request, body: Any, owner: str, repo: str
    ) -> None:
        found = self._repo(owner, repo)
        per_page = min(int(request.args.get("per_page", 30)), self.max_per_page)
        page = int(request.args.get("page", 1))
        items = [
            {
                k: v
                for k, v in self._ruleset_json(found, r).items()
                if k not in {"rules", "conditions", "bypass_actors"}
            }
            for r in found.rulesets.values()
        ]
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = urlencode({**request.args.to_dict(), "page": page + 1})
            nxt = f"{self.url}/repos/{found.full_name}/rulesets?{query}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        raise _Reply(200, chunk, headers)

    @staticmethod
    def _fill_rule_defaults(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """GitHub stores defaults for parameters a request leaves out."""
        out = []
        for rule in copy.deepcopy(rules):
            params = rule.get("parameters")
            if rule["type"] == "pull_request":
                params.setdefault(
                    "allowed_merge_methods", ["merge", "squash", "rebase"]
                )
                params.setdefault("required_reviewers", [])
            if rule["type"] == "required_status_checks":
                params.setdefault("do_not_enforce_on_create", False)
            out.append(rule)
        return out

    def _create_ruleset(
        self, request: Request, body: Any, owner: str, repo: str
    ) -> None:
        found = self._repo(owner, repo)
        self._need_admin()
        if any(r["name"] == body["name"] for r in found.rulesets.values()):
            raise _error(
                422,
                "Validation Failed",
                errors=["Name must be unique"],
            )
        ruleset_id = next(self._ids)
        ruleset = {
            "id": ruleset_id,
            "name": body["name"],
            "target": body.get("target", "branch"),
            "enforcement": body["enforcement"],
            "bypass_actors": copy.deepcopy(body.get("bypass_actors", [])),
            "conditions": copy.deepcopy(
                body.get("conditions", {"ref_name": {"include": [], "exclude": []}})
            ),
            "rules": self._fill_rule_defaults(body.get("rules", [])),
        }
        found.rulesets[ruleset_id] = ruleset
        raise _Reply(201, self._ruleset_json(found, ruleset))

    def _ruleset(self, repo: FakeRepo, ruleset_id: str) -> dict[str, Any]:
        ruleset = repo.rulesets.get(int(ruleset_id))
        if ruleset is None:
            raise _error(404, "Not Found")
        return ruleset

    def _get_ruleset(
        self, request: Request, body: Any, owner: str, repo: str, ruleset_id: str
    ) -> None:
        found = self._repo(owner, repo)
        raise _Reply(200, self._ruleset_json(found, self._ruleset(found, ruleset_id)))

    def _put_ruleset(
        self, request: Request, body: Any, owner: str, repo: str, ruleset_id: str
    ) -> None:
        found = self._repo(owner, repo)
        self._need_admin()
        ruleset = self._ruleset(found, ruleset_id)
        for key, value in body.items():
            ruleset[key] = (
                self._fill_rule_defaults(value)
                if key == "rules"
                else copy.deepcopy(value)
            )
        raise _Reply(200, self._ruleset_json(found, ruleset))

    # --- classic protection -----------------------------------------------------

    def _branch(self, owner: str, repo: str, branch: str) -> FakeRepo:
        found = self._repo(owner, repo)
        self._need_admin()
        if branch not in found.branches:
            raise _error(404, "Branch not found")
        return found

    def _protection_json(
        self, repo: FakeRepo, branch: str, stored: dict[str, Any]
    ) -> dict[str, Any]:
        url = f"{self.url}/repos/{repo.full_name}/branches/{branch}/protection"
        out: dict[str, Any] = {"url": url}
        rsc = stored["required_status_checks"]
        if rsc is not None:
            checks = rsc.get("checks")
            if checks is None:
                checks = [{"context": c} for c in rsc["contexts"]]
            out["required_status_checks"] = {
                "url": f"{url}/required_status_checks",
                "strict": rsc["strict"],
                "contexts": [c["context"] for c in checks],
                "checks": [
                    {"context": c["context"], "app_id": c.get("app_id")} for c in checks
                ],
                "contexts_url": f"{url}/required_status_checks/contexts",
            }
        out["enforce_admins"] = {
            "url": f"{url}/enforce_admins",
            "enabled": bool(stored["enforce_admins"]),
        }
        reviews = stored["required_pull_request_reviews"]
        if reviews is not None:
            out["required_pull_request_reviews"] = {
                "url": f"{url}/required_pull_request_reviews",
                "dismiss_stale_reviews": reviews.get("dismiss_stale_reviews", False),
                "require_code_owner_reviews": reviews.get(
                    "require_code_owner_reviews", False
                ),
                "required_approving_review_count": reviews.get(
                    "required_approving_review_count", 0
                ),
                "require_last_push_approval": reviews.get(
                    "require_last_push_approval", False
                ),
            }
        restrictions = stored["restrictions"]
        if restrictions is not None:
            out["restrictions"] = {
                "url": f"{url}/restrictions",
                "users": [{"login": u} for u in restrictions.get("users", [])],
                "teams": [{"slug": t} for t in restrictions.get("teams", [])],
                "apps": [{"slug": a} for a in restrictions.get("apps", [])],
            }
        for key in (
            "required_linear_history",
            "allow_force_pushes",
            "allow_deletions",
            "block_creations",
            "required_conversation_resolution",
            "lock_branch",
            "allow_fork_syncing",
        ):
            out[key] = {"enabled": bool(stored.get(key, False))}
        out["required_signatures"] = {
            "url": f"{url}/required_signatures",
            "enabled": repo.signatures.get(branch, False),
        }
        return out

    def _get_protection(
        self, request: Request, body: Any, owner: str, repo: str, branch: str
    ) -> None:
        found = self._branch(owner, repo, branch)
        stored = found.protection.get(branch)
        if stored is None:
            raise _error(404, "Branch not protected")
        raise _Reply(200, self._protection_json(found, branch, stored))

    def _put_protection(
        self, request: Request, body: Any, owner: str, repo: str, branch: str
    ) -> None:
        found = self._branch(owner, repo, branch)
        rsc = body.get("required_status_checks")
        if rsc is not None and ("checks" in rsc) == ("contexts" in rsc):
            raise _error(
                422,
                'Invalid request.\n\nNo subschema in "anyOf" matched. '
                "Send exactly one of contexts or checks.",
            )
        if body.get("required_linear_history") and not (
            found.settings.get("allow_squash_merge")
            or found.settings.get("allow_rebase_merge")
        ):
            raise _error(
                422,
                "Validation Failed",
                errors=["Required linear history needs squash or rebase merging"],
            )
        found.protection[branch] = copy.deepcopy(body)
        raise _Reply(200, self._protection_json(found, branch, body))

    def _delete_protection(
        self, request: Request, body: Any, owner: str, repo: str, branch: str
    ) -> None:
        found = self._branch(owner, repo, branch)
        if found.protection.pop(branch, None) is None:
            raise _error(404, "Branch not protected")
        found.signatures.pop(branch, None)
        raise _Reply(204)

    def _post_signatures(
        self, request: Request, body: Any, owner: str, repo: str, branch: str
    ) -> None:
        found = self._branch(owner, repo, branch)
        if branch not in found.protection:
            raise _error(404, "Branch not protected")
        found.signatures[branch] = True
        raise _Reply(200, {"url": request.url, "enabled": True})

    def _delete_signatures(
        self, request: Request, body: Any, owner: str, repo: str, branch: str
    ) -> None:
        found = self._branch(owner, repo, branch)
        if branch not in found.protection:
            raise _error(404, "Branch not protected")
        found.signatures[branch] = False
        raise _Reply(204)


@functools.cache
def _load_spec(path: str) -> GitHubSpec:
    return GitHubSpec(Path(path))


def load_spec() -> GitHubSpec:
    """The indexed description (vendored in the repo), loaded once per process."""
    return _load_spec(str(GITHUB_API_DESCRIPTION))


require_spec = load_spec
