"""git through subprocess, with a fixed, non-interactive environment."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from scaffold.errors import GitError


class Git:
    """Runs git commands; failures become :class:`GitError` carrying stderr."""

    def __init__(self, *, env: Mapping[str, str] | None = None) -> None:
        base = dict(os.environ if env is None else env)
        base.setdefault("GIT_TERMINAL_PROMPT", "0")
        self._env = base

    def run(self, repo: Path, *args: str, check: bool = True) -> str:
        """Run ``git -C repo args``; return stdout."""
        cmd = ["git", "-C", str(repo), *args]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, env=self._env, check=False
            )
        except FileNotFoundError as exc:  # git not installed
            raise GitError(args=list(args), returncode=127, stderr=str(exc)) from exc
        if check and proc.returncode != 0:
            raise GitError(
                args=list(args), returncode=proc.returncode, stderr=proc.stderr
            )
        return proc.stdout

    def is_repo_root(self, path: Path) -> bool:
        """True if ``path`` is the top of a git work tree."""
        if not (path / ".git").exists():
            return False
        top = self.run(path, "rev-parse", "--show-toplevel", check=False).strip()
        return bool(top) and Path(top).resolve() == path.resolve()

    def init(self, path: Path, *, branch: str) -> None:
        """``git init -b branch``."""
        self.run(path, "init", "-q", "-b", branch)

    def commit_all(self, path: Path, message: str, *, author: str | None = None) -> str:
        """Stage everything and commit; return the new commit sha."""
        self.run(path, "add", "-A")
        args = ["commit", "-q", "--no-verify", "-m", message]
        if author:
            args += ["--author", author]
        self.run(path, *args)
        return self.run(path, "rev-parse", "HEAD").strip()

    def is_dirty(self, path: Path) -> bool:
        """True if the work tree has staged, unstaged or untracked changes."""
        return bool(self.run(path, "status", "--porcelain").strip())

    def tags(self, path: Path) -> list[str]:
        """Tags of the repository at ``path``."""
        return self.run(path, "tag", "--list").split()

    def user_identity(self, path: Path) -> tuple[str, str] | None:
        """(name, email) from git config, or None when either is unset."""
        name = self.run(path, "config", "user.name", check=False).strip()
        email = self.run(path, "config", "user.email", check=False).strip()
        return (name, email) if name and email else None
