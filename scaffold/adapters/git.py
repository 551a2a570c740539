"""git through subprocess, with a fixed, non-interactive environment.

Remote operations (clone, fetch, push, ls-remote) go through the git CLI so the
user's git config applies (``url.<base>.insteadOf``, credential helpers, proxies,
GitHub Enterprise Server). A token reaches git only through the environment of
the git process: :meth:`Git.with_token` adds an ``http.<base>.extraHeader`` entry
with ``GIT_CONFIG_COUNT`` / ``GIT_CONFIG_KEY_n`` / ``GIT_CONFIG_VALUE_n``, so it is
never in a remote URL, a ``.git/config``, the work tree, a log or an error message
(git does not print extra headers). Refs, URLs and paths can come from untrusted
files (a repo's answers file), so every method passes them after
``--end-of-options`` or ``--``: git never reads one as an option
(``--upload-pack=...``, ``--output=...``).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from scaffold.adapters.process import run as run_process
from scaffold.errors import DirtyRepoError, GitError, UsageError

#: seconds any one git command may take (a clone of a large template included)
GIT_TIMEOUT = 600.0
_SHA = re.compile(r"^[0-9a-f]{7,64}$")


def config_env(
    base: Mapping[str, str], entries: Sequence[tuple[str, str]]
) -> dict[str, str]:
    """``base`` plus git config ``entries`` given through the environment.

    Like ``git -c KEY=VALUE`` for every git process started with this environment
    (``GIT_CONFIG_COUNT``, git >= 2.31); entries already in ``base`` are kept.
    """
    env = dict(base)
    try:
        count = int(env.get("GIT_CONFIG_COUNT", "0") or "0")
    except ValueError:
        count = 0
    for key, value in entries:
        env[f"GIT_CONFIG_KEY_{count}"] = key
        env[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    env["GIT_CONFIG_COUNT"] = str(count)
    return env


def url_base(url: str) -> str:
    """``scheme://host[:port]/`` of a remote URL (what an http.<url>.* key scopes)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UsageError(f"{url!r}: expected an http(s) clone URL")
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{host}/"


def auth_header(url: str, token: str) -> tuple[str, str]:
    """The config entry that sends ``token`` to ``url``'s host, and only there.

    GitHub (and GHES) accept HTTP basic auth with the user ``x-access-token``
    and the token as password, for PATs and App installation tokens alike.
    """
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")
    return f"http.{url_base(url)}.extraHeader", f"AUTHORIZATION: basic {basic}"


class Git:
    """Runs git commands; failures become :class:`GitError` carrying stderr."""

    def __init__(
        self, *, env: Mapping[str, str] | None = None, timeout: float = GIT_TIMEOUT
    ) -> None:
        base = dict(os.environ if env is None else env)
        base.setdefault("GIT_TERMINAL_PROMPT", "0")
        self._env = base
        self._timeout = timeout

    def with_config(self, entries: Sequence[tuple[str, str]]) -> Git:
        """A Git whose every process also sees these config entries (env only)."""
        return Git(env=config_env(self._env, entries), timeout=self._timeout)

    def with_token(self, url: str, token: str) -> Git:
        """A Git that authenticates to ``url``'s host with ``token`` (env only)."""
        return self.with_config([auth_header(url, token)])

    def run(
        self,
        repo: Path,
        *args: str,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> str:
        """Run ``git -C repo args`` (``env`` adds variables); return stdout."""
        cmd = ["git", "-C", str(repo), *args]
        full_env = {**self._env, **env} if env else self._env
        try:
            proc = run_process(cmd, timeout=self._timeout, env=full_env, error=GitError)
        except GitError as exc:
            if check or exc.returncode is None:  # a timeout is never "no output"
                raise
            return ""
        return proc.stdout

    def is_repo_root(self, path: Path) -> bool:
        """True if ``path`` is the top of a git work tree."""
        if not (path / ".git").exists():
            return False
        top = self.run(path, "rev-parse", "--show-toplevel", check=False).strip()
        return bool(top) and Path(top).resolve() == path.resolve()

    def git_dir(self, path: Path) -> Path:
        """The absolute ``.git`` directory of the work tree at ``path``."""
        return Path(self.run(path, "rev-parse", "--absolute-git-dir").strip())

    def init(self, path: Path, *, branch: str) -> None:
        """``git init -b branch``."""
        self.run(path, "init", "-q", "-b", branch)

    def commit_all(self, path: Path, message: str, *, author: str | None = None) -> str:
        """Stage everything and commit; return the new commit sha.

        ``author`` is ``"Name <email>"``; it is also the committer when git has no
        committer identity configured.
        """
        self.run(path, "add", "-A")
        env: dict[str, str] = {}
        if author:
            name, email = parse_ident(author)
            env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
            if not self.has_identity(path, "GIT_COMMITTER_IDENT"):
                env |= {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
        self.run(path, "commit", "-q", "--no-verify", "-m", message, env=env)
        return self.run(path, "rev-parse", "HEAD").strip()

    def has_identity(self, path: Path, which: str = "GIT_AUTHOR_IDENT") -> bool:
        """True if git can name the author (or committer) without guessing.

        Uses ``git var``, which fails exactly when ``git commit`` would ("Please tell
        me who you are"); it honours config and ``GIT_AUTHOR_*`` variables.
        """
        try:
            self.run(path, "var", which)
        except GitError:
            return False
        return True

    def is_dirty(self, path: Path) -> bool:
        """True if the work tree has staged, unstaged or untracked changes."""
        return bool(self.run(path, "status", "--porcelain").strip())

    def require_clean(self, path: Path) -> None:
        """Raise :class:`DirtyRepoError` when ``path`` (a work tree) is dirty."""
        if self.is_dirty(path):
            raise DirtyRepoError(path=str(path))

    def tags(self, path: Path) -> list[str]:
        """Tags of the repository at ``path``."""
        return self.run(path, "tag", "--list").split()

    def head(self, path: Path) -> str:
        """The sha of HEAD."""
        return self.run(path, "rev-parse", "HEAD").strip()

    def current_branch(self, path: Path) -> str | None:
        """The checked-out branch, or None on a detached HEAD."""
        out = self.run(path, "symbolic-ref", "-q", "--short", "HEAD", check=False)
        return out.strip() or None

    def branches(self, path: Path) -> list[str]:
        """Local branch names."""
        out = self.run(path, "for-each-ref", "--format=%(refname:short)", "refs/heads")
        return out.split()

    def switch_new(self, path: Path, branch: str) -> None:
        """Create ``branch`` at HEAD and switch to it (works with a dirty tree)."""
        self.run(path, "switch", "-q", f"--create={branch}", "--end-of-options")

    def restore(self, path: Path, *, branch: str | None, sha: str) -> None:
        """Throw away every change and go back to ``branch`` (or detached ``sha``)."""
        self.run(path, "reset", "-q", "--hard")
        self.run(path, "clean", "-q", "-fd")
        if branch:
            self.run(
                path, "switch", "-q", "--discard-changes", "--end-of-options", branch
            )
        else:
            self.run(
                path,
                "switch",
                "-q",
                "--discard-changes",
                "--detach",
                "--end-of-options",
                _sha(sha),
            )

    def reset_to(self, path: Path, sha: str) -> None:
        """Throw away every change and move the current branch back to ``sha``."""
        # git reset takes no --end-of-options (2.39); a checked sha cannot be one
        self.run(path, "reset", "-q", "--hard", _sha(sha), "--")
        self.run(path, "clean", "-q", "-fd")

    def delete_branch(self, path: Path, branch: str) -> None:
        """Delete a local branch, merged or not."""
        self.run(path, "branch", "-q", "-D", "--", branch)

    def changed_paths(self, path: Path) -> list[str]:
        """Paths with staged, unstaged or untracked changes (renames as new path)."""
        out = self.run(path, "status", "--porcelain", "-z", "--untracked-files=all")
        entries = out.split("\0")
        result: list[str] = []
        i = 0
        while i < len(entries):
            entry = entries[i]
            i += 1
            if not entry:
                continue
            result.append(entry[3:])
            if entry[0] in "RC":  # rename/copy: the next entry is the source
                i += 1
        return result

    def unmerged_paths(self, path: Path) -> list[str]:
        """Paths with unmerged index entries (conflicts)."""
        out = self.run(path, "diff", "--name-only", "--diff-filter=U")
        return [line for line in out.splitlines() if line]

    def staged_diff(self, path: Path) -> str:
        """Stage everything and return the diff against HEAD (for throwaway clones)."""
        self.run(path, "add", "-A")
        return self.run(path, "diff", "--cached", "--no-color", "HEAD")

    def show(self, path: Path, rev: str = "HEAD") -> str:
        """``git show`` of one commit (message and patch)."""
        return self.run(
            path, "show", "--no-color", "--format=%s", "--end-of-options", rev, "--"
        )

    def show_file(self, path: Path, rev: str, file: str) -> str:
        """The content of ``file`` at ``rev`` (``git show REV:FILE``)."""
        return self.run(path, "show", "--end-of-options", f"{rev}:{file}")

    def diff_status(self, repo: Path, old: str, new: str) -> list[tuple[str, str]]:
        """``(status, path)`` of every file that differs between two revisions
        (renames reported as a deletion plus an addition)."""
        out = self.run(
            repo,
            "diff",
            "--no-renames",
            "--name-status",
            "-z",
            "--end-of-options",
            old,
            new,
            "--",
        )
        fields = out.split("\0")
        return [(fields[i], fields[i + 1]) for i in range(0, len(fields) - 1, 2)]

    def clone(self, src: Path, dest: Path) -> None:
        """A local clone of ``src`` at its checked-out commit."""
        self.run(
            dest.parent, "clone", "-q", "--no-hardlinks", "--", str(src), dest.name
        )

    def clone_shallow(self, url: str, dest: Path, *, ref: str | None) -> None:
        """A depth-1 clone of ``url`` (at branch or tag ``ref``) into ``dest``."""
        args = ["clone", "-q", "--depth", "1"]
        if ref:
            args.append(f"--branch={ref}")
        self.run(dest.parent, *args, "--", url, dest.name)

    # --- remotes ------------------------------------------------------------------

    def clone_remote(
        self,
        url: str,
        dest: Path,
        *,
        branch: str | None = None,
        depth: int | None = None,
        bare: bool = False,
    ) -> None:
        """``git clone`` of a remote ``url`` into ``dest`` (which must not exist).

        ``branch`` checks that branch out (and, with ``depth``, fetches only it);
        ``bare`` makes a bare mirror-style clone (all branches and tags).
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        args = ["clone", "-q", "--no-tags"] if not bare else ["clone", "-q", "--bare"]
        if branch:
            args.append(f"--branch={branch}")
        if depth:
            args += ["--depth", str(depth)]
        self.run(dest.parent, *args, "--end-of-options", url, dest.name)

    def fetch(
        self, repo: Path, remote: str, *refspecs: str, prune: bool = False
    ) -> None:
        """``git fetch`` of ``refspecs`` (default: the configured ones)."""
        args = ["fetch", "-q", "--no-tags"]
        if prune:
            args.append("--prune")
        self.run(repo, *args, "--end-of-options", remote, *refspecs)

    def push(
        self,
        repo: Path,
        remote: str,
        *,
        local: str,
        branch: str,
        expect: str | None,
    ) -> None:
        """Push ``local`` (a commit or ref) to ``refs/heads/<branch>`` on ``remote``.

        ``--force-with-lease``: the remote branch must still be at ``expect``
        (``None``: must not exist yet), so a concurrent push is never overwritten.
        """
        ref = f"refs/heads/{branch}"
        lease = f"--force-with-lease={ref}:{expect or ''}"
        self.run(
            repo,
            "push",
            "-q",
            "--no-verify",
            lease,
            "--end-of-options",
            remote,
            f"{local}:{ref}",
        )

    def ls_remote(
        self, remote: str, *patterns: str, cwd: Path | None = None
    ) -> dict[str, str]:
        """``git ls-remote`` of ``remote``: ref name -> sha (``patterns`` filter)."""
        out = self.run(
            cwd or Path.cwd(),
            "ls-remote",
            "--refs",
            "--end-of-options",
            remote,
            *patterns,
        )
        refs: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            if name:
                refs[name] = sha
        return refs

    def tag_message(self, repo: Path, tag: str) -> str:
        """An annotated tag's message (a lightweight tag: its commit's message)."""
        out = self.run(repo, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")
        return out.strip()

    def tree_of(self, repo: Path, rev: str) -> str | None:
        """The tree sha of ``rev`` (None when ``rev`` does not name a commit)."""
        out = self.run(
            repo,
            "rev-parse",
            "-q",
            "--verify",
            "--end-of-options",
            f"{rev}^{{tree}}",
            check=False,
        )
        return out.strip() or None

    def remote_tags(self, remote: str, *, cwd: Path | None = None) -> list[str]:
        """Tag names of ``remote`` (a URL or a local repository path)."""
        refs = self.ls_remote(remote, "refs/tags/*", cwd=cwd)
        return [name.removeprefix("refs/tags/") for name in refs]


def _sha(sha: str) -> str:
    if not _SHA.match(sha):
        raise UsageError(f"git: {sha!r} is not a commit sha")
    return sha


_IDENT = re.compile(r"^(?P<name>[^<>\n]+?)\s*<(?P<email>[^<>\s]+@[^<>\s]+)>$")


def parse_ident(text: str) -> tuple[str, str]:
    """Split ``"Name <email>"``; raise UsageError when it is not that shape."""
    match = _IDENT.match(text.strip())
    if not match:
        raise UsageError(f"--author {text!r}: expected 'Name <email@host>'")
    return match["name"].strip(), match["email"]
