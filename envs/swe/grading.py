"""Grading a submission so that nothing the agent wrote takes part except its fix.

SWE-bench grades a model's patch by applying it to the pristine repository, applying its own
test patch, and running the FAIL_TO_PASS and PASS_TO_PASS tests (Jimenez et al., ICLR 2024).
Here the agent works *inside* the container that will grade it, so every trace it can leave must
be kept out of grading:

1. **Freeze.** The keeper SIGKILLs every process of the agent (builtins only, so a fork bomb
   cannot stop it). Nothing the agent started runs from here on.
2. **Read the work tree out** as root (modes cannot hide a file), regular files only, without
   ``.git``; paths are classified on the host (:func:`excluded_reason`). Test files, test
   configuration, import machinery (``sitecustomize``/``usercustomize``, ``.pth``, ``.pyc`` and
   ``__pycache__``, compiled modules), symlinks, special files and files over
   :data:`MAX_FILE_BYTES` are not part of the submission.
3. **Wipe and verify** the whole container (:meth:`DockerSandbox.wipe`); if that fails, the
   submission — now held on the host — is graded in a fresh container instead.
4. **Lay the pristine repository down, owned by root**, commit it, apply the submission (the
   agent's versions of non-excluded files; deleted non-excluded files are deleted) and record the
   graded diff. The tree stays root-owned and read-only to uid 1000, so code running during the
   tests cannot rewrite test files that pytest has not collected yet.
5. **Run the tests as a fresh process** of uid 1000 with an environment built from nothing
   (``env -i``: no variable the agent set, ``HOME=/nonexistent``), ``python3 -I -B`` (no user
   site-packages, no ``PYTHON*`` variables, no bytecode written), plugin autoloading off, an
   explicit ``-c`` naming the pristine test configuration (or ``/dev/null``), ``--rootdir`` and
   ``--confcutdir`` at the repository, and the repository *appended* to ``sys.path``, after the
   standard library and site-packages, so no file of the repository can shadow ``pytest``,
   ``pluggy`` or a standard module. Statuses come from pytest's own report hooks through a pipe,
   not from parsing printed text.

What this does not prevent (as in SWE-bench): the graded code itself runs inside the test
process, so a "fix" that deliberately subverts pytest from library code is not caught here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from agentgym.sandboxes.docker import (
    AS_AGENT,
    DockerSandbox,
    FileEntry,
    KeeperResult,
    SandboxError,
    make_tar,
)
from agentgym.sandboxes.docker.archive import read_regular_files
from agentgym.sandboxes.docker.keeper import SCRATCH

WORKDIR = "/work"
#: Files larger than this are not part of a submission.
MAX_FILE_BYTES = 8 << 20
#: Most files a submission may add to the repository (the rest, in path order, are dropped).
MAX_NEW_FILES = 2048
#: Directories whose contents are tests.
TEST_DIRS = frozenset({"tests", "test", "testing"})
#: Test configuration, wherever it is.
TEST_CONFIG = frozenset({"conftest.py", "pytest.ini", ".pytest.ini", "tox.ini", "setup.cfg",
                         "pyproject.toml"})
#: Files Python runs at start-up or imports instead of sources.
IMPORT_MACHINERY = frozenset({"sitecustomize.py", "usercustomize.py"})
_MACHINERY_SUFFIXES = (".pth", ".pyc", ".pyo", ".so", ".pyd")
_MACHINERY_DIRS = frozenset({"__pycache__", ".pytest_cache", ".git", ".hg", ".svn"})
_TEST_FILE = re.compile(r"^(test_.*|.*_test)\.py$")
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f]")
GIT_IDENTITY = ("GIT_AUTHOR_NAME=agentgym GIT_AUTHOR_EMAIL=agentgym@sandbox "
                "GIT_COMMITTER_NAME=agentgym GIT_COMMITTER_EMAIL=agentgym@sandbox "
                "GIT_AUTHOR_DATE=@1700000000 GIT_COMMITTER_DATE=@1700000000")


def excluded_reason(path: str) -> str | None:
    """Why ``path`` (relative to the repository) is not part of a submission, or None.

    >>> excluded_reason("tests/test_x.py"), excluded_reason("pkg/conftest.py")
    ('test file', 'test configuration')
    >>> excluded_reason("pkg/core.py") is None
    True
    """
    parts = path.split("/")
    name = parts[-1]
    if any(part in _MACHINERY_DIRS for part in parts) or name.endswith(_MACHINERY_SUFFIXES):
        return "import machinery or cache"
    if name in IMPORT_MACHINERY:
        return "import machinery"
    if name in TEST_CONFIG:
        return "test configuration"
    if any(part in TEST_DIRS for part in parts[:-1]) or _TEST_FILE.match(name):
        return "test file"
    return None


def _valid_path(path: str) -> bool:
    if not path or path.startswith("/") or _BAD_NAME.search(path):
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


@dataclass
class Submission:
    """The agent's work tree as graded.

    Attributes:
        files: ``{path: FileEntry}`` of the regular files that take part.
        excluded: ``{path: reason}`` of what was left out.
        excluded_files: the contents of the excluded regular files (to tell the agent which of
            them it changed; never graded).
    """

    files: dict[str, FileEntry] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)
    excluded_files: dict[str, FileEntry] = field(default_factory=dict)

    def note(self, pristine: dict[str, str] | None = None, limit: int = 5) -> str:
        """One line naming what was left out that differs from the pristine repository
        (``pristine``: ``{path: git blob id}``; None lists everything left out)."""
        changed = {
            path: reason for path, reason in self.excluded.items()
            if pristine is None or path not in self.excluded_files
            or pristine.get(path) != blob_id(self.excluded_files[path].data)
        }
        if not changed:
            return ""
        shown = ", ".join(f"{p} ({r})" for p, r in sorted(changed.items())[:limit])
        more = len(changed) - limit
        return f"not graded: {shown}" + (f" and {more} more" if more > 0 else "")


def blob_id(data: bytes) -> str:
    """Git's object id of a file's contents (``git hash-object``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _check(result: KeeperResult, what: str) -> bytes:
    """The output of a keeper result, or :class:`SandboxError` when the command failed."""
    if not result.ok:
        raise SandboxError(f"{what} failed: {result.text(500)}")
    return result.output


def collect_submission(sandbox: DockerSandbox) -> Submission:
    """Freeze the agent (kill every process) and read its work tree out as root."""
    sandbox.kill_processes()
    listing = _check(sandbox.run_root(
        f"cd {WORKDIR} && find . -path ./.git -prune -o ! -type d -printf '%y %s %P\\0'",
        timeout=120.0), "listing the work tree")
    submission = Submission()
    wanted, shown = [], []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        kind, size, raw = entry.decode("ascii", "replace")[:1], *entry[2:].split(b" ", 1)
        try:
            path = raw.decode("utf-8")
        except UnicodeDecodeError:
            submission.excluded[raw.decode("utf-8", "backslashreplace")] = "name is not UTF-8"
            continue
        if not _valid_path(path):
            submission.excluded[path.encode("unicode_escape").decode()] = "unusable file name"
        elif kind != "f":
            submission.excluded[path] = "not a regular file"
        elif int(size) > MAX_FILE_BYTES:
            submission.excluded[path] = f"larger than {MAX_FILE_BYTES >> 20} MB"
        elif (reason := excluded_reason(path)) is not None:
            submission.excluded[path] = reason
            shown.append(path)
        else:
            wanted.append(path)
    if wanted or shown:
        names = b"".join(f"./{p}".encode() + b"\0" for p in wanted + shown)
        archive = _check(sandbox.run_root(
            f"cd {WORKDIR} && tar -c --null --verbatim-files-from --no-recursion -T - -f -",
            names, timeout=120.0), "reading the work tree")
        files = read_regular_files(archive)
        submission.files = {p: files[p] for p in wanted if p in files}
        submission.excluded_files = {p: files[p] for p in shown if p in files}
    return submission


def _lay_pristine_script(source_dir: str) -> str:
    copy = (f"cp -a {shlex.quote(source_dir.rstrip('/'))}/. {WORKDIR}/" if source_dir
            else "tar -x --no-same-owner -f -")
    return f"""
set -eu
cd {WORKDIR}
chown 0:0 {WORKDIR}
{copy}
export {GIT_IDENTITY}
if ! git rev-parse -q --verify HEAD >/dev/null 2>&1; then
  git init -q --template= && git add -A -f && git commit -q --no-verify -m base
fi
git ls-files -s -z
"""


def _apply_script(deleted: Sequence[str]) -> str:
    removals = "\n".join(f"rm -f -- {shlex.quote('./' + p)}" for p in deleted)
    return f"""
set -eu
cd {WORKDIR}
{removals}
tar -x --no-same-owner -f -
export {GIT_IDENTITY}
git add -A -f
git diff --cached --binary --no-ext-diff --no-textconv HEAD | head -c 2000000
chmod -R u+rwX,go+rX,go-w {WORKDIR}
"""


#: Runs pytest with the repository appended to sys.path and reports statuses on fd 3.
PYTEST_RUNNER = r"""
import json, os, sys
import pytest
sys.path.append(sys.argv[1])

class Statuses:
    def __init__(self):
        self.status = {}

    def pytest_runtest_logreport(self, report):
        xfail = hasattr(report, "wasxfail")
        if report.when == "call":
            if xfail:
                self.status[report.nodeid] = "XFAIL" if report.skipped else "XPASS"
            else:
                self.status[report.nodeid] = report.outcome.upper()
        elif report.failed:
            self.status[report.nodeid] = "ERROR"
        elif report.skipped and report.nodeid not in self.status:
            self.status[report.nodeid] = "XFAIL" if xfail else "SKIPPED"

statuses = Statuses()
code = pytest.main(sys.argv[2:], plugins=[statuses])
with os.fdopen(3, "w") as out:
    json.dump({"exit": int(code), "status": statuses.status}, out)
"""


def _tests_script(tests: Sequence[str], timeout: float) -> str:
    ids = " ".join(shlex.quote(t) for t in tests)
    w = WORKDIR
    return f"""
cd {w}
ini=/dev/null
for f in pytest.ini .pytest.ini; do [ -f "$f" ] && {{ ini={w}/$f; break; }}; done
if [ $ini = /dev/null ] && [ -f pyproject.toml ] && grep -q '^\\[tool\\.pytest\\.ini_options\\]' pyproject.toml; then ini={w}/pyproject.toml; fi
if [ $ini = /dev/null ] && [ -f tox.ini ] && grep -q '^\\[pytest\\]' tox.ini; then ini={w}/tox.ini; fi
if [ $ini = /dev/null ] && [ -f setup.cfg ] && grep -q '^\\[tool:pytest\\]' setup.cfg; then ini={w}/setup.cfg; fi
: > {SCRATCH}/results
timeout -s KILL {timeout:.0f} {AS_AGENT} TMPDIR=/tmp PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 \\
  PYTHONHASHSEED=0 python3 -I -B -c {shlex.quote(PYTEST_RUNNER)} {w} -c "$ini" \\
  --rootdir={w} --confcutdir={w} -p no:cacheprovider --import-mode=append -q --tb=no -rN \\
  -- {ids} 3> {SCRATCH}/results 2>&1 | tail -c 4000
echo "@@exit ${{PIPESTATUS[0]}}"
cat {SCRATCH}/results
"""  # noqa: E501


@dataclass
class GradeResult:
    """Test statuses of a graded submission, the graded diff, and a note for the agent."""

    statuses: dict[str, str]
    patch: str
    note: str
    excluded_note: str = ""


def grade_submission(
    sandbox: DockerSandbox,
    submission: Submission,
    tests: Sequence[str],
    *,
    pristine: bytes | None,
    source_dir: str = "",
    test_patch: str = "",
    timeout: float = 120.0,
) -> GradeResult:
    """Grade ``submission`` in ``sandbox`` (wiped and verified first).

    Args:
        sandbox: a started sandbox; it is wiped here.
        submission: from :func:`collect_submission`.
        tests: the test ids to run (F2P + P2P).
        pristine: a tar of the pristine repository (generated tasks), or None to copy
            ``source_dir`` from the image (SWE-bench tasks).
        source_dir: the repository's folder inside the image (SWE-bench tasks).
        test_patch: a patch applied to the tests after the submission (SWE-bench).
        timeout: seconds the test run may take.

    Raises:
        SandboxWipeError: the wipe failed (grade in another sandbox).
        SandboxError: an internal command failed.
    """
    sandbox.wipe()
    tracked = _check(sandbox.run_root(_lay_pristine_script("" if pristine else source_dir),
                                      pristine or b"", timeout=300.0),
                     "laying the pristine repository down")
    blobs = {}
    for entry in tracked.split(b"\0"):
        meta, _, path = entry.decode("utf-8", "replace").partition("\t")
        if path:
            blobs[path] = meta.split()[1]
    new = sorted(p for p in submission.files if p not in blobs)
    for path in new[MAX_NEW_FILES:]:
        submission.excluded[path] = f"more than {MAX_NEW_FILES} new files"
    files = {p: e for p, e in submission.files.items()
             if p in blobs or p not in submission.excluded}
    excluded_note = submission.note(blobs)
    deleted = [p for p in blobs if excluded_reason(p) is None and p not in files]
    overlay = make_tar(files, uid=0, gid=0)
    applied = sandbox.run_root(_apply_script(deleted), overlay, timeout=120.0)
    if not applied.ok:  # e.g. the submission does not fit the work dir: the agent's doing
        return GradeResult({}, "", f"the submission cannot be applied: {applied.text(300)}",
                           excluded_note)
    patch = applied.output.decode("utf-8", "replace")
    if test_patch.strip():
        applied = sandbox.run_root(
            f"cd {WORKDIR} && git apply --whitespace=nowarn - && chmod -R go+rX,go-w .",
            test_patch.encode(), timeout=120.0)
        if not applied.ok:
            return GradeResult({}, patch, f"the test patch does not apply: {applied.text(300)}",
                               excluded_note)
    output = _check(sandbox.run_root(_tests_script(tests, timeout), timeout=timeout + 60.0),
                    "running the tests").decode("utf-8", "replace")
    log, _, tail = output.rpartition("@@exit ")
    code, _, results = tail.partition("\n")
    try:
        statuses = dict(json.loads(results)["status"]) if results.strip() else {}
    except (ValueError, KeyError, TypeError):
        statuses = {}
    statuses = {str(k): str(v) for k, v in statuses.items()}
    if code.strip() == "137":
        note = "tests timed out."
    elif not statuses:
        note = f"no test ran (pytest: {' '.join(log.split()[-30:])[:300]})"
    else:
        note = f"{len(statuses)} tests ran."
    _stop_leftovers(sandbox)
    return GradeResult(statuses, patch, note, excluded_note)


def _stop_leftovers(sandbox: DockerSandbox) -> None:
    """Kill whatever the test run left running (the pool wipes the rest on release)."""
    with contextlib.suppress(SandboxError):
        sandbox.kill_processes()
