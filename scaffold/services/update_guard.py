"""What keeps ``scaffold update`` safe against kills and concurrent runs.

* an exclusive per-repo lock (``flock`` on ``.git/scaffold-update.lock``; the
  kernel drops it when its holder dies, so a stale lock is simply taken over);
* an in-progress marker (``.git/scaffold-update.json``) written before the work
  tree is touched and removed once the run has finished or rolled back: its
  presence on the next run means the last one was killed half-way;
* a scratch directory named ``scaffold-update-<pid>-*`` holding every temporary
  file of the run (copier's included); those of dead processes are removed on
  the next run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from scaffold.adapters.git import Git
from scaffold.errors import UpdateBusyError, UpdateInterruptedError

LOCK_FILE = "scaffold-update.lock"
MARKER_FILE = "scaffold-update.json"
SCRATCH_PREFIX = "scaffold-update-"


@dataclass(frozen=True, slots=True, kw_only=True)
class Marker:
    """Where an update started, to tell the user how to get back there."""

    pid: int
    branch: str  # the update branch
    original: str | None  # the branch checked out at the start (None: detached)
    start: str  # HEAD at the start
    resume: bool  # the run started on the update branch itself


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_scratch(root: Path | None = None) -> list[Path]:
    """Remove the scratch directories of dead ``scaffold update`` processes."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    for entry in root.glob(f"{SCRATCH_PREFIX}*-*"):
        pid_text = entry.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if not pid_text.isdigit() or not entry.is_dir() or entry.is_symlink():
            continue
        if int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


class UpdateGuard:
    """The lock is held for the guard's lifetime (see :func:`guard`)."""

    def __init__(self, *, repo: Path, git_dir: Path, git: Git) -> None:
        self.repo = repo
        self._marker = git_dir / MARKER_FILE
        self._git = git

    # --- the in-progress marker ------------------------------------------------

    def begin(self, marker: Marker) -> None:
        """Record ``marker`` durably before the work tree is touched."""
        tmp = self._marker.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(asdict(marker), fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self._marker)

    def end(self) -> None:
        """The run finished or rolled back: nothing is half-applied."""
        self._marker.unlink(missing_ok=True)

    def _read(self) -> Marker | None:
        try:
            data = json.loads(self._marker.read_text(encoding="utf-8"))
            return Marker(**data)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            # unreadable: written by a run killed mid-write, before any change
            self.end()
            return None

    def check_not_interrupted(self) -> None:
        """Refuse to go on over the remains of a killed run.

        When the repo is back where that run started (the user ran the printed
        command), the marker is stale and removed.
        """
        marker = self._read()
        if marker is None:
            return
        git, repo = self._git, self.repo
        branch_there = marker.branch in git.branches(repo)
        at_start = (
            not git.is_dirty(repo)
            and git.head(repo) == marker.start
            and git.current_branch(repo)
            == (marker.branch if marker.resume else marker.original)
            and (marker.resume or not branch_there)
        )
        if at_start:
            self.end()
            return
        raise UpdateInterruptedError(
            path=str(repo),
            branch=marker.branch,
            restore=restore_command(repo, marker, branch_exists=branch_there),
        )

    # --- temporary files -----------------------------------------------------------

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        """A recognisable temporary directory for this run; while it is open it is
        also :func:`tempfile.gettempdir`, so copier's temporary files land in it
        and a killed run leaves one directory the next run removes."""
        base = Path(tempfile.gettempdir())
        path = Path(
            tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=base)
        )
        previous = tempfile.tempdir
        tempfile.tempdir = str(path)
        try:
            yield path
        finally:
            tempfile.tempdir = previous
            shutil.rmtree(path, ignore_errors=True)


def restore_command(repo: Path, marker: Marker, *, branch_exists: bool) -> str:
    """The shell command that puts ``repo`` back where ``marker``'s run started."""
    git = f"git -C {shlex.quote(str(repo))}"
    if marker.resume:
        steps = [f"{git} reset -q --hard {marker.start}", f"{git} clean -fdq"]
    else:
        back = (
            f"{git} switch -q --discard-changes {shlex.quote(marker.original)}"
            if marker.original
            else f"{git} switch -q --discard-changes --detach {marker.start}"
        )
        steps = [f"{git} reset -q --hard", f"{git} clean -fdq", back]
        if branch_exists:
            steps.append(f"{git} branch -q -D {shlex.quote(marker.branch)}")
    return " && ".join(steps)


@contextlib.contextmanager
def guard(repo: Path, *, git: Git) -> Iterator[UpdateGuard]:
    """Hold ``repo``'s update lock (exit 2 naming the holder's pid when taken)."""
    import fcntl

    git_dir = git.git_dir(repo)
    lock_path = git_dir / LOCK_FILE
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            raise UpdateBusyError(
                path=str(repo), pid=int(text) if text.isdigit() else None
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        clean_stale_scratch()
        try:
            yield UpdateGuard(repo=repo, git_dir=git_dir, git=git)
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
