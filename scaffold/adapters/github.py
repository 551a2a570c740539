"""The GitHub REST client: the only module that imports httpx (why not githubkit:
docs/ARCHITECTURE.md). ``sleep`` and ``clock`` are injected so tests never wait."""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from scaffold import __version__
from scaffold.errors import (
    ForgeAuthError,
    ForgeError,
    ForgeNotFoundError,
    ForgePermissionError,
    ForgeRateLimitError,
    ForgeServerError,
    ForgeValidationError,
)

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
# The REST API version we are written against. Requests without the header get
# 2022-11-28 too; 2026-03-10 is the first version with breaking changes, so pin.
API_VERSION = "2022-11-28"
ADMIN_READ = "Administration: read"
ADMIN_WRITE = "Administration: write"
METADATA_READ = "Metadata: read"
CONTENTS_READ = "Contents: read"
PULLS_WRITE = "Pull requests: write"
_IDEMPOTENT = frozenset({"GET", "PUT", "PATCH", "DELETE"})


class _BearerAuth(httpx.Auth):
    """Adds the token per request; the client object never holds it as a header."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return "_BearerAuth(token=**********)"


def _message(resp: httpx.Response) -> str:
    """GitHub's ``message`` (plus ``errors`` details for 422), one line."""
    try:
        data = resp.json()
    except ValueError:
        text = resp.text.strip().splitlines()
        return text[0][:200] if text else resp.reason_phrase
    if not isinstance(data, dict):
        return resp.reason_phrase
    message = str(data.get("message") or resp.reason_phrase)
    details = []
    for err in data.get("errors") or []:
        if isinstance(err, dict):
            details.append(
                str(err.get("message") or err.get("code") or err.get("field") or err)
            )
        else:
            details.append(str(err))
    if details:
        message += ": " + "; ".join(details)
    return " ".join(message.split())


def _permission_from_header(resp: httpx.Response) -> str | None:
    """``X-Accepted-GitHub-Permissions: administration=write``.

    becomes ``Administration: write``.
    """
    raw = resp.headers.get("x-accepted-github-permissions")
    if not raw:
        return None
    names = []
    for part in raw.split(";")[0].split(","):
        key, _, level = part.strip().partition("=")
        if key:
            names.append(f"{key.replace('_', ' ').capitalize()}: {level or 'read'}")
    return ", ".join(names) or None


class GitHubClient:
    """Small GitHub REST client with the calls ``scaffold protect`` needs."""

    def __init__(
        self,
        *,
        token: SecretStr,
        api_url: str = DEFAULT_API_URL,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 4,
        max_wait: float = 120.0,
        backoff: float = 1.0,
        write_interval: float = 1.0,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._sleep = sleep
        self._clock = clock
        self._max_attempts = max(1, max_attempts)
        self._max_wait = max_wait
        self._backoff = backoff
        self._write_interval = write_interval
        self._last_write: float | None = None
        self._write_lock = threading.Lock()  # pacing holds across threads
        self._http = httpx.Client(
            base_url=self.api_url,
            auth=_BearerAuth(token),
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": f"gitops-scaffold/{__version__}",
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------

    def _pace(self, method: str) -> None:
        """Serial writes at least ``write_interval`` apart (secondary limits).

        GitHub asks for content-creating calls (pull requests, comments) to be
        made serially, at least a second apart; the lock keeps that true when
        several threads share one client.
        """
        if method == "GET":
            return
        with self._write_lock:
            now = self._clock()
            if self._last_write is not None:
                gap = self._write_interval - (now - self._last_write)
                if gap > 0:
                    self._sleep(gap)
                    now += gap
            self._last_write = now

    def _rate_limit_wait(self, resp: httpx.Response) -> float | None:
        """Seconds to wait before retrying, or None if this is not a rate limit."""
        if resp.status_code not in (403, 429):
            return None
        retry_after = resp.headers.get("retry-after")
        if retry_after is not None:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                return 60.0
        if resp.headers.get("x-ratelimit-remaining") == "0":
            reset = resp.headers.get("x-ratelimit-reset")
            try:
                return max(0.0, float(reset or 0) - self._clock()) + 1.0
            except ValueError:
                return 60.0
        if resp.status_code == 429 or "rate limit" in _message(resp).lower():
            return 60.0  # GitHub: secondary limit without headers -> wait >= 1 min
        return None

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        permission: str = ADMIN_WRITE,
        not_found: str | None = None,
        accept_404: bool = False,
    ) -> httpx.Response:
        """One API call with retries; raise a :class:`ForgeError` on failure.

        ``permission`` names what a 403 means; ``not_found`` is the message for 404
        (``accept_404`` returns the 404 response instead).
        """
        try:
            return self._request(
                method,
                path,
                json=json,
                params=params,
                permission=permission,
                not_found=not_found,
                accept_404=accept_404,
            )
        except ForgeError as exc:  # a server may echo the token back
            raise type(exc)(self._scrub(str(exc))) from None

    def _scrub(self, value: Any) -> Any:
        """``value`` (text or parsed JSON) with every copy of the token masked."""
        token = self._token.get_secret_value()
        if isinstance(value, str):
            return value.replace(token, "***") if token else value
        if isinstance(value, list):
            return [self._scrub(v) for v in value]
        if isinstance(value, dict):
            return {self._scrub(k): self._scrub(v) for k, v in value.items()}
        return value

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: dict[str, Any] | None,
        permission: str,
        not_found: str | None,
        accept_404: bool,
    ) -> httpx.Response:
        what = f"{method} {urlsplit(path).path}"
        attempt = 0
        while True:
            attempt += 1
            self._pace(method)
            try:
                resp = self._http.request(method, path, json=json, params=params)
            except httpx.TransportError as exc:
                log.debug("%s: %s", what, type(exc).__name__)
                if method in _IDEMPOTENT and attempt < self._max_attempts:
                    self._sleep(self._backoff * 2 ** (attempt - 1))
                    continue
                host = urlsplit(self.api_url).netloc
                raise ForgeServerError(
                    f"{what}: cannot reach {host} ({type(exc).__name__}) "
                    f"after {attempt} attempt(s)"
                ) from None
            log.debug("%s -> %s", what, resp.status_code)
            if resp.status_code < 300 or (accept_404 and resp.status_code == 404):
                return resp
            if resp.status_code < 400:
                moved = urlsplit(resp.headers.get("location", "")).path or "?"
                raise ForgeError(
                    f"{what}: {resp.status_code} moved to {moved}; the repository "
                    "was renamed or transferred, use its new OWNER/NAME"
                )
            wait = self._rate_limit_wait(resp)
            if wait is not None:
                if wait > self._max_wait or attempt >= self._max_attempts:
                    raise ForgeRateLimitError(
                        f"{what}: rate limited by GitHub (asked to wait {wait:.0f}s; "
                        f"cap {self._max_wait:.0f}s, attempt {attempt}); "
                        "try again later"
                    )
                log.info("%s: rate limited, waiting %.0fs", what, wait)
                self._sleep(wait)
                continue
            if resp.status_code >= 500:
                if method in _IDEMPOTENT and attempt < self._max_attempts:
                    self._sleep(self._backoff * 2 ** (attempt - 1))
                    continue
                raise ForgeServerError(
                    f"{what}: GitHub answered {resp.status_code} "
                    f"after {attempt} attempt(s): {_message(resp)}"
                )
            raise self._error(resp, what, permission=permission, not_found=not_found)

    def _error(
        self,
        resp: httpx.Response,
        what: str,
        *,
        permission: str,
        not_found: str | None,
    ) -> ForgeError:
        code = resp.status_code
        message = _message(resp)
        if code == 401:
            return ForgeAuthError(
                f"{what}: GitHub rejected the token (401 {message}); "
                "set GITHUB_TOKEN or GH_TOKEN to a valid, unexpired token"
            )
        if code == 403:
            if "upgrade to github pro" in message.lower():
                return ForgePermissionError(f"{what}: 403 {message}")
            needed = _permission_from_header(resp) or permission
            return ForgePermissionError(
                f"{what}: 403 forbidden; the token needs the '{needed}' permission "
                f"on this repository (fine-grained token) or the 'repo' scope as an "
                f"admin (classic token) (GitHub: {message})"
            )
        if code == 404:
            return ForgeNotFoundError(
                f"{what}: 404 {not_found}" if not_found else f"{what}: 404 {message}"
            )
        if code == 422:
            return ForgeValidationError(
                f"{what}: GitHub rejected the request (422): {message}"
            )
        return ForgeError(f"{what}: HTTP {code}: {message}")

    def _json(self, resp: httpx.Response) -> Any:
        try:
            return self._scrub(resp.json())
        except ValueError:
            path = urlsplit(str(resp.request.url)).path
            raise ForgeError(
                f"{resp.request.method} {path}: the answer is not JSON"
            ) from None

    def _object(self, resp: httpx.Response) -> dict[str, Any]:
        data = self._json(resp)
        if not isinstance(data, dict):
            path = urlsplit(str(resp.request.url)).path
            raise ForgeError(f"{resp.request.method} {path}: expected a JSON object")
        return data

    def _paginate(
        self,
        path: str,
        *,
        params: dict[str, Any],
        not_found: str,
        permission: str = METADATA_READ,
    ) -> Iterator[dict[str, Any]]:
        """Items of a list endpoint, following ``Link: rel="next"`` on our host."""
        url: str | None = path
        query: dict[str, Any] | None = {**params, "per_page": 100}
        base = urlsplit(self.api_url)
        pages = 0
        while url is not None:
            resp = self.request(
                "GET", url, params=query, permission=permission, not_found=not_found
            )
            data = self._json(resp)
            if not isinstance(data, list):
                raise ForgeError(f"GET {urlsplit(path).path}: expected a JSON list")
            yield from data
            pages += 1
            nxt = resp.links.get("next", {}).get("url")
            if nxt is None or pages >= 100:
                break
            target = urlsplit(nxt)
            if (target.scheme, target.netloc) != (base.scheme, base.netloc):
                raise ForgeError(
                    f"GET {urlsplit(path).path}: refusing to follow a pagination "
                    f"link to another host ({target.netloc})"
                )
            url, query = nxt, None  # the next link carries its own query

    # --- the calls scaffold protect makes -----------------------------------------

    def get_repo(self, owner: str, repo: str) -> dict[str, Any]:
        return self._object(
            self.request(
                "GET",
                f"/repos/{owner}/{repo}",
                permission=METADATA_READ,
                not_found=f"repository {owner}/{repo} not found "
                "(or the token cannot see it)",
            )
        )

    def update_repo(self, owner: str, repo: str, fields: dict[str, Any]) -> None:
        self.request(
            "PATCH",
            f"/repos/{owner}/{repo}",
            json=fields,
            not_found=f"repository {owner}/{repo} not found",
        )

    def list_rulesets(self, owner: str, repo: str) -> list[dict[str, Any]]:
        return list(
            self._paginate(
                f"/repos/{owner}/{repo}/rulesets",
                params={"includes_parents": "false"},
                not_found="rulesets are not available here (GitHub Enterprise "
                "Server before 3.11?); use --mode classic",
            )
        )

    def get_ruleset(self, owner: str, repo: str, ruleset_id: int) -> dict[str, Any]:
        return self._object(
            self.request(
                "GET",
                f"/repos/{owner}/{repo}/rulesets/{ruleset_id}",
                permission=METADATA_READ,
                not_found=f"ruleset {ruleset_id} not found",
            )
        )

    def create_ruleset(
        self, owner: str, repo: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        return self._object(
            self.request("POST", f"/repos/{owner}/{repo}/rulesets", json=body)
        )

    def update_ruleset(
        self, owner: str, repo: str, ruleset_id: int, body: dict[str, Any]
    ) -> None:
        self.request(
            "PUT",
            f"/repos/{owner}/{repo}/rulesets/{ruleset_id}",
            json=body,
            not_found=f"ruleset {ruleset_id} not found",
        )

    def get_branch_protection(
        self, owner: str, repo: str, branch: str
    ) -> dict[str, Any] | None:
        """Classic protection of ``branch``; None when the branch is not protected."""
        what = f"GET /repos/{owner}/{repo}/branches/{branch}/protection"
        resp = self.request("GET", what[4:], permission=ADMIN_READ, accept_404=True)
        if resp.status_code == 404:
            if "not protected" in _message(resp).lower():
                return None
            raise ForgeNotFoundError(
                f"{what}: 404 branch {branch!r} not found in {owner}/{repo} "
                "(or the token cannot see the repository)"
            )
        return self._object(resp)

    def update_branch_protection(
        self, owner: str, repo: str, branch: str, body: dict[str, Any]
    ) -> None:
        self.request(
            "PUT",
            f"/repos/{owner}/{repo}/branches/{branch}/protection",
            json=body,
            not_found=f"branch {branch!r} not found in {owner}/{repo} "
            "(push it before protecting it)",
        )

    def delete_branch_protection(self, owner: str, repo: str, branch: str) -> None:
        self.request(
            "DELETE",
            f"/repos/{owner}/{repo}/branches/{branch}/protection",
            not_found=f"branch {branch!r} not found in {owner}/{repo}",
        )

    def set_required_signatures(
        self, owner: str, repo: str, branch: str, *, enabled: bool
    ) -> None:
        self.request(
            "POST" if enabled else "DELETE",
            f"/repos/{owner}/{repo}/branches/{branch}/protection/required_signatures",
            not_found=f"branch {branch!r} not found or not protected",
        )

    # --- the calls scaffold rollout / status make ---------------------------------

    def list_org_repos(self, org: str) -> list[dict[str, Any]]:
        """Every repository of ``org`` the token can see (all pages)."""
        return list(
            self._paginate(
                f"/orgs/{org}/repos",
                params={"type": "all", "sort": "full_name"},
                not_found=f"organization {org} not found (or the token cannot see it)",
            )
        )

    def get_contents(
        self, owner: str, repo: str, path: str, *, ref: str | None = None
    ) -> dict[str, Any] | list[dict[str, Any]] | None:
        """The contents API answer for ``path`` at ``ref``; None when absent.

        A file is an object (``content`` base64-encoded), a directory a list.
        """
        resp = self.request(
            "GET",
            f"/repos/{owner}/{repo}/contents/{path}",
            params={"ref": ref} if ref else None,
            permission=CONTENTS_READ,
            accept_404=True,
        )
        if resp.status_code == 404:
            return None
        data = self._json(resp)
        if isinstance(data, list):
            return [item for item in data if isinstance(item, dict)]
        if isinstance(data, dict):
            return data
        raise ForgeError(
            f"GET /repos/{owner}/{repo}/contents/{path}: unexpected answer"
        )

    def get_file(
        self, owner: str, repo: str, path: str, *, ref: str | None = None
    ) -> str | None:
        """The text of file ``path`` at ``ref`` (UTF-8); None when absent."""
        data = self.get_contents(owner, repo, path, ref=ref)
        if data is None:
            return None
        what = f"GET /repos/{owner}/{repo}/contents/{path}"
        if not isinstance(data, dict) or data.get("type") != "file":
            raise ForgeError(f"{what}: not a file")
        if data.get("encoding") != "base64":
            raise ForgeError(f"{what}: unexpected encoding {data.get('encoding')!r}")
        try:
            raw = base64.b64decode(str(data.get("content", "")), validate=False)
            return raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ForgeError(f"{what}: content is not UTF-8 text") from None

    def get_branch(self, owner: str, repo: str, branch: str) -> dict[str, Any]:
        """One branch (``commit.sha`` is its head)."""
        return self._object(
            self.request(
                "GET",
                f"/repos/{owner}/{repo}/branches/{branch}",
                permission=CONTENTS_READ,
                not_found=f"branch {branch!r} not found in {owner}/{repo}",
            )
        )

    def list_pulls(
        self,
        owner: str,
        repo: str,
        *,
        state: str = "open",
        head: str | None = None,
        base: str | None = None,
    ) -> list[dict[str, Any]]:
        """Pull requests of ``owner/repo``; ``head`` is ``branch`` of this repo."""
        params: dict[str, Any] = {"state": state}
        if head:
            params["head"] = f"{owner}:{head}"
        if base:
            params["base"] = base
        return list(
            self._paginate(
                f"/repos/{owner}/{repo}/pulls",
                params=params,
                permission="Pull requests: read",
                not_found=f"repository {owner}/{repo} not found",
            )
        )

    def create_pull(
        self,
        owner: str,
        repo: str,
        *,
        title: str,
        head: str,
        base: str,
        body: str,
        draft: bool = False,
    ) -> dict[str, Any]:
        """Open a pull request from branch ``head`` into ``base``."""
        return self._object(
            self.request(
                "POST",
                f"/repos/{owner}/{repo}/pulls",
                json={
                    "title": title,
                    "head": head,
                    "base": base,
                    "body": body,
                    "draft": draft,
                    "maintainer_can_modify": True,
                },
                permission=PULLS_WRITE,
                not_found=f"repository {owner}/{repo} not found",
            )
        )

    def update_pull(
        self, owner: str, repo: str, number: int, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """Change a pull request's ``title``, ``body``, ``state`` or ``base``."""
        return self._object(
            self.request(
                "PATCH",
                f"/repos/{owner}/{repo}/pulls/{number}",
                json=fields,
                permission=PULLS_WRITE,
                not_found=f"pull request #{number} not found in {owner}/{repo}",
            )
        )

    def comment(self, owner: str, repo: str, number: int, body: str) -> None:
        """Add a comment to issue or pull request ``number``."""
        self.request(
            "POST",
            f"/repos/{owner}/{repo}/issues/{number}/comments",
            json={"body": body},
            permission=PULLS_WRITE,
            not_found=f"pull request #{number} not found in {owner}/{repo}",
        )

    # --- the calls scaffold bootstrap makes ---------------------------------------

    def create_org_repo(
        self, org: str, name: str, *, visibility: str, description: str = ""
    ) -> dict[str, Any]:
        """Create an empty repository (no README, no licence) in ``org``."""
        body: dict[str, Any] = {
            "name": name,
            "visibility": visibility,
            "auto_init": False,
        }
        if description:
            body["description"] = description
        return self._object(
            self.request(
                "POST",
                f"/orgs/{org}/repos",
                json=body,
                permission="Administration: write (organization repositories)",
                not_found=f"organization {org} not found (or the token cannot see it)",
            )
        )

    def find_repo(self, owner: str, repo: str) -> dict[str, Any] | None:
        """The repository, or None when it does not exist (or is invisible)."""
        resp = self.request(
            "GET", f"/repos/{owner}/{repo}", permission=METADATA_READ, accept_404=True
        )
        return None if resp.status_code == 404 else self._object(resp)

    def list_variables(self, owner: str, repo: str) -> dict[str, str]:
        """Actions variables of the repository: name -> value (all pages)."""
        result: dict[str, str] = {}
        page = 1
        while True:
            data = self._object(
                self.request(
                    "GET",
                    f"/repos/{owner}/{repo}/actions/variables",
                    params={"per_page": 30, "page": page},
                    permission="Variables: read",
                    not_found=f"repository {owner}/{repo} not found",
                )
            )
            items = data.get("variables") or []
            for item in items:
                result[str(item["name"])] = str(item.get("value", ""))
            if len(items) < 30 or len(result) >= int(data.get("total_count", 0)):
                return result
            page += 1

    def set_variable(
        self, owner: str, repo: str, name: str, value: str, *, exists: bool
    ) -> None:
        """Create (``exists=False``) or update an Actions variable."""
        base = f"/repos/{owner}/{repo}/actions/variables"
        if exists:
            self.request(
                "PATCH",
                f"{base}/{name}",
                json={"name": name, "value": value},
                permission="Variables: write",
                not_found=f"variable {name} not found in {owner}/{repo}",
            )
        else:
            self.request(
                "POST",
                base,
                json={"name": name, "value": value},
                permission="Variables: write",
                not_found=f"repository {owner}/{repo} not found",
            )

    def list_secret_names(self, owner: str, repo: str) -> list[str]:
        """Names of the repository's Actions secrets (values are never readable)."""
        names: list[str] = []
        page = 1
        while True:
            data = self._object(
                self.request(
                    "GET",
                    f"/repos/{owner}/{repo}/actions/secrets",
                    params={"per_page": 30, "page": page},
                    permission="Secrets: read",
                    not_found=f"repository {owner}/{repo} not found",
                )
            )
            items = data.get("secrets") or []
            names += [str(item["name"]) for item in items]
            if len(items) < 30 or len(names) >= int(data.get("total_count", 0)):
                return names

            page += 1

    def secrets_public_key(self, owner: str, repo: str) -> tuple[str, str]:
        """``(key_id, key)``: the key Actions secrets are sealed to (base64)."""
        data = self._object(
            self.request(
                "GET",
                f"/repos/{owner}/{repo}/actions/secrets/public-key",
                permission="Secrets: read",
                not_found=f"repository {owner}/{repo} not found",
            )
        )
        return str(data["key_id"]), str(data["key"])

    def put_secret(
        self, owner: str, repo: str, name: str, *, encrypted_value: str, key_id: str
    ) -> None:
        """Create or replace an Actions secret with an already sealed value."""
        self.request(
            "PUT",
            f"/repos/{owner}/{repo}/actions/secrets/{name}",
            json={"encrypted_value": encrypted_value, "key_id": key_id},
            permission="Secrets: write",
            not_found=f"repository {owner}/{repo} not found",
        )

    def get_topics(self, owner: str, repo: str) -> list[str]:
        """The repository's topics."""
        data = self._object(
            self.request(
                "GET",
                f"/repos/{owner}/{repo}/topics",
                permission=METADATA_READ,
                not_found=f"repository {owner}/{repo} not found",
            )
        )
        return [str(name) for name in data.get("names") or []]

    def replace_topics(self, owner: str, repo: str, names: list[str]) -> None:
        """Replace the repository's topics with ``names``."""
        self.request(
            "PUT",
            f"/repos/{owner}/{repo}/topics",
            json={"names": names},
            not_found=f"repository {owner}/{repo} not found",
        )
