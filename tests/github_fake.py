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

Org-level commands: a :class:`FakeRepo` can be backed by a real bare repository
on disk (``add_repo(..., git=True)`` once :meth:`FakeGitHub.serve_git` named a
root). ``serve_git`` points ``url.<root>/.insteadOf https://github.com/`` in the
test-only global git config, so a repo's ``clone_url``
(``https://github.com/OWNER/NAME.git``) reaches its bare repository with the real
git CLI. The contents and branches endpoints read that repository with git; a
pull request needs its head branch pushed there (422 otherwise, as GitHub); a
second open pull request for the same head is refused (422 "A pull request
already exists"). Hooks in each bare repository log accepted pushes
(:meth:`FakeGitHub.pushes`) and refuse pushes to protected branches
(:meth:`FakeGitHub.protect_branch`) or every push (:meth:`FakeGitHub.reject_pushes`).
``write_count()`` counts API writes plus pushes: a rerun that converges adds none.
"""

from __future__ import annotations

import base64
import copy
import functools
import itertools
import json
import lzma
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.helpers import GITHUB_API_DESCRIPTION

API_VERSION = "2022-11-28"
# A token-shaped canary: tests assert it never reaches output, files or git config.
CANARY_TOKEN = "ghp_CANARY0123456789abcdefghijklmnopqrstuvwxyz"

# The operations scaffold protect, rollout and status use (method, path template).
USED_OPERATIONS = (
    ("get", "/orgs/{org}/repos"),
    ("get", "/repos/{owner}/{repo}/contents/{path}"),
    ("get", "/repos/{owner}/{repo}/branches/{branch}"),
    ("get", "/repos/{owner}/{repo}/pulls"),
    ("post", "/repos/{owner}/{repo}/pulls"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("patch", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
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
# ... and scaffold bootstrap (org repos, Actions variables and sealed secrets).
USED_OPERATIONS += (
    ("post", "/orgs/{org}/repos"),
    ("get", "/repos/{owner}/{repo}/actions/variables"),
    ("post", "/repos/{owner}/{repo}/actions/variables"),
    ("patch", "/repos/{owner}/{repo}/actions/variables/{name}"),
    ("get", "/repos/{owner}/{repo}/actions/secrets"),
    ("get", "/repos/{owner}/{repo}/actions/secrets/public-key"),
    ("put", "/repos/{owner}/{repo}/actions/secrets/{secret_name}"),
    ("get", "/repos/{owner}/{repo}/topics"),
    ("put", "/repos/{owner}/{repo}/topics"),
)


def _param_regex(template: str, group: str) -> str:
    """A path template's ``{param}``s as ``group``; ``{path}`` (contents API) may
    span slashes. ``template`` may be ``re.escape``d."""
    template = re.sub(r"\\?\{path\\?\}", group.replace("[^/]+", ".+"), template)
    return re.sub(r"\\?\{[^/]+?\\?\}", group, template)


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
            regex = re.compile("^" + _param_regex(re.escape(template), "[^/]+") + "$")
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
    archived: bool = False
    fork: bool = False
    bare: Path | None = None  # the bare repository behind it (git-backed repos)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[str]] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def clone_url(self) -> str:
        return f"{GIT_BASE}{self.full_name}.git"

    def git(self, *args: str, check: bool = True) -> str:
        """Run git in the bare repository; return stdout."""
        assert self.bare is not None, f"{self.full_name} is not git-backed"
        proc = subprocess.run(
            ["git", "--git-dir", str(self.bare), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)}: {proc.stderr}")
        return proc.stdout

    def ref(self, branch: str) -> str | None:
        """The sha of ``branch`` (None when absent)."""
        if self.bare is None:
            return "0" * 40 if branch in self.branches else None
        out = self.git(
            "rev-parse",
            "-q",
            "--verify",
            f"refs/heads/{branch}^{{commit}}",
            check=False,
        ).strip()
        return out or None

    def has_branch(self, branch: str) -> bool:
        return self.ref(branch) is not None


GIT_BASE = "https://github.com/"

# Bare-repository hooks: log accepted pushes; refuse protected refs / every push.
_PRE_RECEIVE = """#!/bin/sh
if [ -f "$GIT_DIR/fake-reject" ]; then cat "$GIT_DIR/fake-reject" >&2; exit 1; fi
status=0
while read old new ref; do
  if [ -f "$GIT_DIR/fake-protected" ] && grep -qxF "$ref" "$GIT_DIR/fake-protected"
  then
    echo "GH006: Protected branch update failed for $ref." >&2
    status=1
  fi
done
exit $status
"""
_POST_RECEIVE = """#!/bin/sh
cat >> "$GIT_DIR/fake-pushes"
"""


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
        self.git_root: Path | None = None
        self._ids = itertools.count(41)
        self._routes: dict[tuple[str, str], Callable[..., Any]] = {
            ("GET", "/orgs/{org}/repos"): self._list_org_repos,
            ("GET", "/repos/{owner}/{repo}/contents/{path}"): self._get_contents,
            ("GET", "/repos/{owner}/{repo}/branches/{branch}"): self._get_branch,
            ("GET", "/repos/{owner}/{repo}/pulls"): self._list_pulls,
            ("POST", "/repos/{owner}/{repo}/pulls"): self._create_pull,
            ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"): self._get_pull,
            ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"): self._patch_pull,
            (
                "POST",
                "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            ): self._create_comment,
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
        self._routes.update(self._bootstrap_routes())
        # Actions state per repo full name (bootstrap)
        self.variables: dict[str, dict[str, dict[str, str]]] = {}
        self.secrets: dict[str, dict[str, dict[str, str]]] = {}
        self._secret_keys: dict[str, Any] = {}  # full name -> nacl PrivateKey
        self.bad_secrets: list[str] = []  # PUTs whose value did not decrypt
        self.topics: dict[str, list[str]] = {}  # full name -> topics

    # --- set-up -----------------------------------------------------------------

    def install(self) -> FakeGitHub:
        self.server.expect_request(re.compile(r"^/.*")).respond_with_handler(
            self._handle
        )
        return self

    @property
    def url(self) -> str:
        return self.server.url_for(self.prefix).rstrip("/")

    def serve_git(self, root: Path) -> FakeGitHub:
        """Keep git-backed repos under ``root``; make ``https://github.com/...``
        clone URLs reach them (``url.<root>/.insteadOf`` in the test-only global
        git config, ``GIT_CONFIG_GLOBAL`` from tests/conftest.py)."""
        import os

        root.mkdir(parents=True, exist_ok=True)
        self.git_root = root
        gitconfig = os.environ.get("GIT_CONFIG_GLOBAL")
        assert gitconfig, "GIT_CONFIG_GLOBAL must point at the test's git config"
        subprocess.run(
            [
                "git",
                "config",
                "--file",
                gitconfig,
                f"url.{root.as_uri()}/.insteadOf",
                GIT_BASE,
            ],
            check=True,
        )
        return self

    def add_repo(
        self, owner: str, name: str, *, git: bool = False, **kwargs: Any
    ) -> FakeRepo:
        """A repository; ``git=True`` backs it with an empty bare repository
        (push to its ``clone_url`` to fill it)."""
        repo = FakeRepo(owner=owner, name=name, **kwargs)
        if git:
            assert self.git_root is not None, "call serve_git(root) first"
            repo.bare = self.git_root / owner / f"{name}.git"
            subprocess.run(
                [
                    "git",
                    "init",
                    "-q",
                    "--bare",
                    "-b",
                    repo.default_branch,
                    str(repo.bare),
                ],
                check=True,
            )
            for hook, text in (
                ("pre-receive", _PRE_RECEIVE),
                ("post-receive", _POST_RECEIVE),
            ):
                path = repo.bare / "hooks" / hook
                path.parent.mkdir(exist_ok=True)  # no hooks/ without a git template
                path.write_text(text, encoding="utf-8")
                path.chmod(0o755)
        self.repos[repo.full_name] = repo
        return repo

    def protect_branch(self, repo: FakeRepo, branch: str) -> None:
        """Refuse every push to ``branch`` from now on (as branch protection)."""
        assert repo.bare is not None
        path = repo.bare / "fake-protected"
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        path.write_text(old + f"refs/heads/{branch}\n", encoding="utf-8")

    def reject_pushes(self, repo: FakeRepo, message: str | None) -> None:
        """Refuse every push with ``message`` (None: accept pushes again)."""
        assert repo.bare is not None
        path = repo.bare / "fake-reject"
        if message is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(message + "\n", encoding="utf-8")

    def pushes(self, repo: FakeRepo | None = None) -> list[tuple[str, str, str, str]]:
        """Accepted pushes as (repo, old sha, new sha, ref), oldest first."""
        result = []
        for found in [repo] if repo is not None else list(self.repos.values()):
            if found.bare is None:
                continue
            log = found.bare / "fake-pushes"
            if not log.exists():
                continue
            for line in log.read_text(encoding="utf-8").splitlines():
                old, new, ref = line.split()
                result.append((found.full_name, old, new, ref))
        return result

    def write_count(self) -> int:
        """API writes plus accepted pushes so far (a converged rerun adds 0)."""
        return len(self.writes) + len(self.pushes())

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
            regex = "^" + _param_regex(template, "[^/]+") + "$"
            if m == method and re.match(regex, path):
                return template
        raise _error(404, "Not Found")

    @staticmethod
    def _params(template: str, path: str) -> dict[str, str]:
        names = re.findall(r"\{([^/]+?)\}", template)
        regex = "^" + _param_regex(template, "([^/]+)") + "$"
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
            "html_url": f"{GIT_BASE}{repo.full_name}",
            "clone_url": repo.clone_url,
            "archived": repo.archived,
            "fork": repo.fork,
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
        if "default_branch" in body and not found.has_branch(body["default_branch"]):
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

    def _page(
        self, request: Request, items: list[Any], path: str
    ) -> tuple[list[Any], dict[str, str]]:
        """One page of ``items`` and its ``Link`` header (GitHub's pagination)."""
        per_page = min(int(request.args.get("per_page", 30)), self.max_per_page)
        page = int(request.args.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = urlencode({**request.args.to_dict(), "page": page + 1})
            headers["Link"] = f'<{self.url}{path}?{query}>; rel="next"'
        return chunk, headers

    # --- org, contents, branches (git-backed) -------------------------------------

    def _list_org_repos(self, request: Request, body: Any, org: str) -> None:
        repos = sorted(
            (r for r in self.repos.values() if r.owner.lower() == org.lower()),
            key=lambda r: r.name.lower(),
        )
        if not repos:
            raise _error(404, "Not Found")
        items = [self._repo_json(r) for r in repos]
        raise _Reply(200, *self._page(request, items, f"/orgs/{org}/repos"))

    def _git_repo(self, owner: str, repo: str) -> FakeRepo:
        found = self._repo(owner, repo)
        assert found.bare is not None, f"{found.full_name} is not git-backed"
        return found

    def _get_contents(
        self, request: Request, body: Any, owner: str, repo: str, path: str
    ) -> None:
        found = self._git_repo(owner, repo)
        ref = request.args.get("ref") or found.default_branch
        if found.ref(ref) is None and not re.fullmatch(r"[0-9a-f]{40}", ref):
            raise _error(404, f"No commit found for the ref {ref}")
        path = path.strip("/")
        kind = found.git("cat-file", "-t", f"{ref}:{path}", check=False).strip()
        url = f"{self.url}/repos/{found.full_name}/contents/{path}?ref={ref}"
        if kind == "blob":
            sha = found.git("rev-parse", f"{ref}:{path}").strip()
            raw = subprocess.run(
                ["git", "--git-dir", str(found.bare), "cat-file", "blob", sha],
                capture_output=True,
                check=True,
            ).stdout
            encoded = base64.encodebytes(raw).decode("ascii")  # GitHub wraps at 60/76
            raise _Reply(
                200,
                {
                    "type": "file",
                    "encoding": "base64",
                    "size": len(raw),
                    "name": path.rsplit("/", 1)[-1],
                    "path": path,
                    "content": encoded,
                    "sha": sha,
                    "url": url,
                },
            )
        if kind == "tree":
            entries = []
            out = found.git("ls-tree", "-z", f"{ref}:{path}")
            for entry in out.split("\0"):
                if not entry:
                    continue
                meta, name = entry.split("\t", 1)
                _mode, typ, sha = meta.split()
                entries.append(
                    {
                        "type": "dir" if typ == "tree" else "file",
                        "name": name,
                        "path": f"{path}/{name}",
                        "sha": sha,
                    }
                )
            raise _Reply(200, entries)
        raise _error(404, "Not Found")

    def _get_branch(
        self, request: Request, body: Any, owner: str, repo: str, branch: str
    ) -> None:
        found = self._repo(owner, repo)
        sha = found.ref(branch)
        if sha is None:
            raise _error(404, "Branch not found")
        raise _Reply(
            200,
            {
                "name": branch,
                "commit": {"sha": sha},
                "protected": branch in found.protection,
            },
        )

    # --- pull requests ------------------------------------------------------------

    def _pull_json(self, repo: FakeRepo, pr: dict[str, Any]) -> dict[str, Any]:
        head_sha = repo.ref(pr["head"]) if pr["state"] == "open" else pr["head_sha"]
        return {
            "url": f"{self.url}/repos/{repo.full_name}/pulls/{pr['number']}",
            "html_url": f"{GIT_BASE}{repo.full_name}/pull/{pr['number']}",
            "number": pr["number"],
            "state": pr["state"],
            "title": pr["title"],
            "body": pr["body"],
            "draft": pr["draft"],
            "user": {"login": "scaffold-bot"},
            "head": {
                "label": f"{repo.owner}:{pr['head']}",
                "ref": pr["head"],
                "sha": head_sha or pr["head_sha"],
                "repo": {"full_name": repo.full_name},
            },
            "base": {
                "label": f"{repo.owner}:{pr['base']}",
                "ref": pr["base"],
                "sha": repo.ref(pr["base"]),
                "repo": {"full_name": repo.full_name},
            },
        }

    def _list_pulls(self, request: Request, body: Any, owner: str, repo: str) -> None:
        found = self._repo(owner, repo)
        state = request.args.get("state", "open")
        head = request.args.get("head")
        base = request.args.get("base")
        items = [
            self._pull_json(found, pr)
            for pr in sorted(found.pulls.values(), key=lambda p: -p["number"])
            if (state == "all" or pr["state"] == state)
            and (head is None or head == f"{found.owner}:{pr['head']}")
            and (base is None or base == pr["base"])
        ]
        raise _Reply(
            200, *self._page(request, items, f"/repos/{found.full_name}/pulls")
        )

    def _create_pull(self, request: Request, body: Any, owner: str, repo: str) -> None:
        found = self._repo(owner, repo)
        head = body["head"].split(":", 1)[-1]
        invalid = [
            {"resource": "PullRequest", "field": key, "code": "invalid"}
            for key, branch in (("head", head), ("base", body["base"]))
            if not found.has_branch(branch)
        ]
        if invalid:
            raise _error(422, "Validation Failed", errors=invalid)
        if any(
            pr["state"] == "open" and pr["head"] == head and pr["base"] == body["base"]
            for pr in found.pulls.values()
        ):
            raise _error(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": "A pull request already exists for "
                        f"{found.owner}:{head}.",
                    }
                ],
            )
        number = max(found.pulls, default=0) + 1  # numbered per repository
        found.pulls[number] = {
            "number": number,
            "state": "open",
            "title": body.get("title", ""),
            "body": body.get("body") or "",
            "draft": bool(body.get("draft", False)),
            "head": head,
            "base": body["base"],
            "head_sha": found.ref(head),
        }
        raise _Reply(201, self._pull_json(found, found.pulls[number]))

    def _pull(self, repo: FakeRepo, number: str) -> dict[str, Any]:
        pr = repo.pulls.get(int(number))
        if pr is None:
            raise _error(404, "Not Found")
        return pr

    def _get_pull(
        self, request: Request, body: Any, owner: str, repo: str, pull_number: str
    ) -> None:
        found = self._repo(owner, repo)
        raise _Reply(200, self._pull_json(found, self._pull(found, pull_number)))

    def _patch_pull(
        self, request: Request, body: Any, owner: str, repo: str, pull_number: str
    ) -> None:
        found = self._repo(owner, repo)
        pr = self._pull(found, pull_number)
        if body.get("state") == "closed" and pr["state"] == "open":
            pr["head_sha"] = found.ref(pr["head"])
        for key in ("title", "body", "state", "base"):
            if key in body:
                pr[key] = body[key]
        raise _Reply(200, self._pull_json(found, pr))

    def _create_comment(
        self, request: Request, body: Any, owner: str, repo: str, issue_number: str
    ) -> None:
        found = self._repo(owner, repo)
        self._pull(found, issue_number)
        found.comments.setdefault(int(issue_number), []).append(body["body"])
        raise _Reply(
            201,
            {"id": next(self._ids), "body": body["body"], "user": {"login": "bot"}},
        )

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
        if found.bare is not None and self._guards_default_branch(ruleset):
            self.protect_branch(found, found.default_branch)
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
        if not found.has_branch(branch):
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
        if found.bare is not None:  # a protected branch refuses direct pushes
            self.protect_branch(found, branch)
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

    # --- scaffold bootstrap: org repos, Actions variables and secrets -------------

    def _bootstrap_routes(self) -> dict[tuple[str, str], Callable[..., Any]]:
        return {
            ("POST", "/orgs/{org}/repos"): self._create_org_repo,
            ("GET", "/repos/{owner}/{repo}/actions/variables"): self._list_variables,
            ("POST", "/repos/{owner}/{repo}/actions/variables"): self._post_variable,
            (
                "PATCH",
                "/repos/{owner}/{repo}/actions/variables/{name}",
            ): self._patch_variable,
            ("GET", "/repos/{owner}/{repo}/actions/secrets"): self._list_secrets,
            (
                "GET",
                "/repos/{owner}/{repo}/actions/secrets/public-key",
            ): self._secrets_key,
            (
                "PUT",
                "/repos/{owner}/{repo}/actions/secrets/{secret_name}",
            ): self._put_secret,
            ("GET", "/repos/{owner}/{repo}/topics"): self._get_topics,
            ("PUT", "/repos/{owner}/{repo}/topics"): self._put_topics,
        }

    @staticmethod
    def _guards_default_branch(ruleset: dict[str, Any]) -> bool:
        """An active ruleset with a pull_request rule on the default branch: pushes
        to it are refused (as on GitHub)."""
        include = ruleset.get("conditions", {}).get("ref_name", {}).get("include", [])
        return (
            ruleset.get("enforcement") == "active"
            and "~DEFAULT_BRANCH" in include
            and any(r.get("type") == "pull_request" for r in ruleset.get("rules", []))
        )

    def _create_org_repo(self, request: Request, body: Any, org: str) -> None:
        self._need_admin()
        if f"{org}/{body['name']}" in self.repos:
            raise _error(
                422,
                "Repository creation failed.",
                errors=[
                    {
                        "resource": "Repository",
                        "code": "custom",
                        "field": "name",
                        "message": "name already exists on this account",
                    }
                ],
            )
        visibility = body.get("visibility") or (
            "private" if body.get("private") else "public"
        )
        repo = self.add_repo(org, body["name"], git=self.git_root is not None)
        repo.settings["private"] = visibility != "public"
        if "description" in body:
            repo.settings["description"] = body["description"]
        reply = self._repo_json(repo)
        reply["visibility"] = visibility
        raise _Reply(201, reply)

    def _actions_repo(self, owner: str, repo: str) -> str:
        return self._repo(owner, repo).full_name

    def _list_variables(
        self, request: Request, body: Any, owner: str, repo: str
    ) -> None:
        stored = self.variables.get(self._actions_repo(owner, repo), {})
        per_page = min(int(request.args.get("per_page", 10)), 30)
        page = int(request.args.get("page", 1))
        items = sorted(stored.values(), key=lambda v: v["name"])
        chunk = items[(page - 1) * per_page : page * per_page]
        raise _Reply(200, {"total_count": len(items), "variables": chunk})

    def _post_variable(
        self, request: Request, body: Any, owner: str, repo: str
    ) -> None:
        stored = self.variables.setdefault(self._actions_repo(owner, repo), {})
        if body["name"].upper() in {n.upper() for n in stored}:
            raise _error(409, "Already exists - Variable already exists")
        stamp = "2026-11-30T09:00:00Z"
        stored[body["name"]] = {
            "name": body["name"],
            "value": body["value"],
            "created_at": stamp,
            "updated_at": stamp,
        }
        raise _Reply(201, {})

    def _patch_variable(
        self, request: Request, body: Any, owner: str, repo: str, name: str
    ) -> None:
        stored = self.variables.get(self._actions_repo(owner, repo), {})
        if name not in stored:
            raise _error(404, "Not Found")
        entry = stored.pop(name)
        entry.update({k: v for k, v in body.items() if k in {"name", "value"}})
        stored[entry["name"]] = entry
        raise _Reply(204)

    def _list_secrets(self, request: Request, body: Any, owner: str, repo: str) -> None:
        full_name = self._actions_repo(owner, repo)
        stored = self.secrets.get(full_name, {})
        items = [
            {"name": n, "created_at": v["created_at"], "updated_at": v["updated_at"]}
            for n, v in sorted(stored.items())
        ]
        chunk, headers = self._page(
            request, items, f"/repos/{full_name}/actions/secrets"
        )
        raise _Reply(200, {"total_count": len(items), "secrets": chunk}, headers)

    def _secret_key(self, full_name: str) -> Any:
        from nacl.public import PrivateKey

        if full_name not in self._secret_keys:
            self._secret_keys[full_name] = PrivateKey.generate()
        return self._secret_keys[full_name]

    def _key_id(self, full_name: str) -> str:
        return f"key-{abs(hash(full_name)) % 10**8}"

    def _secrets_key(self, request: Request, body: Any, owner: str, repo: str) -> None:
        full_name = self._actions_repo(owner, repo)
        public = bytes(self._secret_key(full_name).public_key)
        raise _Reply(
            200,
            {
                "key_id": self._key_id(full_name),
                "key": base64.b64encode(public).decode("ascii"),
            },
        )

    def _get_topics(self, request: Request, body: Any, owner: str, repo: str) -> None:
        full_name = self._repo(owner, repo).full_name
        raise _Reply(200, {"names": self.topics.get(full_name, [])})

    def _put_topics(self, request: Request, body: Any, owner: str, repo: str) -> None:
        full_name = self._repo(owner, repo).full_name
        names = [n.lower() for n in body["names"]]
        bad = [n for n in names if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,49}", n)]
        if bad or len(names) > 20:
            raise _error(422, "Validation Failed", errors=[f"invalid topics {bad}"])
        self.topics[full_name] = names
        raise _Reply(200, {"names": names})

    def secret_value(self, full_name: str, name: str) -> str:
        """The decrypted value GitHub would hold (tests only)."""
        return self.secrets[full_name][name]["value"]

    def _put_secret(
        self, request: Request, body: Any, owner: str, repo: str, secret_name: str
    ) -> None:
        from nacl.exceptions import CryptoError
        from nacl.public import SealedBox

        full_name = self._actions_repo(owner, repo)
        if body["key_id"] != self._key_id(full_name):
            self.bad_secrets.append(f"{full_name}/{secret_name}: wrong key_id")
            raise _error(422, "Bad request - key_id does not match")
        try:
            sealed = base64.b64decode(body["encrypted_value"], validate=True)
            value = SealedBox(self._secret_key(full_name)).decrypt(sealed).decode()
        except (ValueError, CryptoError, UnicodeDecodeError):
            self.bad_secrets.append(f"{full_name}/{secret_name}: does not decrypt")
            raise _error(422, "Bad request - could not decrypt the secret") from None
        stored = self.secrets.setdefault(full_name, {})
        stamp = f"2026-11-30T09:{len(self.requests) % 60:02d}:00Z"
        created = stored.get(secret_name, {}).get("created_at", stamp)
        stored[secret_name] = {
            "value": value,
            "created_at": created,
            "updated_at": stamp,
        }
        raise _Reply(201 if created == stamp else 204)


@functools.cache
def _load_spec(path: str) -> GitHubSpec:
    return GitHubSpec(Path(path))


def load_spec() -> GitHubSpec:
    """The indexed description (vendored in the repo), loaded once per process."""
    return _load_spec(str(GITHUB_API_DESCRIPTION))


require_spec = load_spec
