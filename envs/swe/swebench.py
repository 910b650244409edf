"""SWE-bench rows (Jimenez et al., "SWE-bench", ICLR 2024) as agentgym tasks.

A published row (``princeton-nlp/SWE-bench`` and its Lite / Verified subsets) has the string
fields :data:`SWEBENCH_FIELDS`: ``instance_id``, ``repo``, ``base_commit``, ``patch``,
``test_patch``, ``problem_statement``, ``hints_text``, ``created_at``, ``version``,
``FAIL_TO_PASS``, ``PASS_TO_PASS`` and ``environment_setup_commit``. ``FAIL_TO_PASS`` and
``PASS_TO_PASS`` are JSON-encoded lists of test names in the published data (plain lists, as
some derived datasets store them, are accepted too).

:class:`SWEBenchInstance` keeps a row as published; :meth:`SWEBenchInstance.to_task` makes the
:class:`~agentgym.envs.swe.swetask.SWETask` that ``SWEEnv`` runs. Loading works for every row;
*running* one needs, and :func:`offline_problems` checks:

1. its evaluation image in the local docker daemon: SWE-bench's name for the instance
   (:func:`swebench_image`, built by the SWE-bench harness or pulled from Docker Hub, so not
   available offline unless built here) or the row's extra ``image`` key;
2. the repository inside that image at ``source_dir`` (``/testbed``), checked out at
   ``base_commit``, with its dependencies and pytest;
3. pytest node ids in ``FAIL_TO_PASS`` / ``PASS_TO_PASS``: ``SWEEnv`` grades with pytest, so rows
   of repositories with their own test runners (django's ``test_x (app.tests.Case)``) load but
   cannot be graded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentgym.envs.swe.swetask import SWETask

#: The fields of a published SWE-bench row.
SWEBENCH_FIELDS = (
    "instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement",
    "hints_text", "created_at", "version", "FAIL_TO_PASS", "PASS_TO_PASS",
    "environment_setup_commit",
)
#: The fields without which a row cannot become a task.
REQUIRED_FIELDS = ("instance_id", "repo", "base_commit", "patch", "FAIL_TO_PASS")
_LIST_FIELDS = ("FAIL_TO_PASS", "PASS_TO_PASS")


def swebench_image(instance_id: str) -> str:
    """SWE-bench's conventional evaluation image name of an instance."""
    return f"sweb.eval.x86_64.{instance_id.lower().replace('__', '_1776_')}:latest"


def is_pytest_id(test_id: str) -> bool:
    """Whether ``test_id`` is a pytest node id (``path.py::name`` or a test file)."""
    return "::" in test_id or test_id.endswith(".py")


def _test_list(instance_id: str, name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as exc:
            raise ValueError(f"SWE-bench row {instance_id}: {name} is not a JSON list "
                             f"({exc.msg})") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"SWE-bench row {instance_id}: {name} must be a list of test names, "
                         f"got {str(value)[:80]}")
    return tuple(value)


@dataclass(frozen=True)
class SWEBenchInstance:
    """One SWE-bench row, fields as published (the two test lists decoded).

    ``extra`` holds keys outside the published format (e.g. ``image``).
    """

    instance_id: str
    repo: str
    base_commit: str
    patch: str
    FAIL_TO_PASS: tuple[str, ...]
    PASS_TO_PASS: tuple[str, ...] = ()
    test_patch: str = ""
    problem_statement: str = ""
    hints_text: str = ""
    created_at: str = ""
    version: str = ""
    environment_setup_commit: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SWEBenchInstance:
        """Validate and decode one row.

        Raises:
            ValueError: a required field is missing, a field has the wrong type, or a test list
                is not a (JSON-encoded) list of strings; the message names the row and field.
        """
        if not isinstance(row, Mapping):
            raise ValueError(f"a SWE-bench row must be a JSON object, got {str(row)[:80]}")
        instance_id = str(row.get("instance_id", "<no instance_id>"))
        missing = [name for name in REQUIRED_FIELDS if name not in row]
        if missing:
            raise ValueError(f"SWE-bench row {instance_id} is missing {missing}")
        values: dict[str, Any] = {}
        for name in SWEBENCH_FIELDS:
            value = row.get(name)
            if name in _LIST_FIELDS:
                values[name] = _test_list(instance_id, name, [] if value is None else value)
            elif value is None:
                values[name] = ""
            elif isinstance(value, str):
                values[name] = value
            else:
                raise ValueError(f"SWE-bench row {instance_id}: {name} must be a string, "
                                 f"got {type(value).__name__}")
        extra = {k: v for k, v in row.items() if k not in SWEBENCH_FIELDS}
        return cls(**values, extra=extra)

    def to_row(self) -> dict[str, str]:
        """The row in the published format (test lists JSON-encoded)."""
        row = {name: getattr(self, name) for name in SWEBENCH_FIELDS}
        for name in _LIST_FIELDS:
            row[name] = json.dumps(list(row[name]))
        return row

    @property
    def image(self) -> str:
        """The evaluation image: the row's ``image`` key, else SWE-bench's name for it."""
        return str(self.extra.get("image") or swebench_image(self.instance_id))

    def to_task(self, *, source_dir: str = "/testbed", split: str = "test") -> SWETask:
        """The task ``SWEEnv`` runs (see the module docstring for what it needs)."""
        return SWETask(
            instance_id=self.instance_id,
            repo=self.repo,
            problem_statement=self.problem_statement,
            patch=self.patch,
            FAIL_TO_PASS=list(self.FAIL_TO_PASS),
            PASS_TO_PASS=list(self.PASS_TO_PASS),
            split=split,
            image=self.image,
            source_dir=source_dir,
            base_commit=self.base_commit,
            test_patch=self.test_patch,
            kind="swebench",
        )


def read_rows(source: str | os.PathLike[str] | Iterable[Mapping[str, Any]]
              ) -> list[Mapping[str, Any]]:
    """Rows from a JSON list file, a JSON Lines file, or an iterable of dicts."""
    if not isinstance(source, str | os.PathLike):
        return list(source)
    path = Path(source)
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("["):
        return json.loads(text)
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not a JSON object ({exc.msg})") from None
    return rows


def load_swebench(source: str | os.PathLike[str] | Iterable[Mapping[str, Any]]
                  ) -> list[SWEBenchInstance]:
    """Validated rows from ``source`` (see :func:`read_rows`); ids must be unique."""
    instances = [SWEBenchInstance.from_row(row) for row in read_rows(source)]
    seen: set[str] = set()
    for instance in instances:
        if instance.instance_id in seen:
            raise ValueError(f"duplicate SWE-bench instance_id {instance.instance_id}")
        seen.add(instance.instance_id)
    return instances


def load_swebench_instances(
    source: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    *,
    source_dir: str = "/testbed",
    split: str = "test",
) -> list[SWETask]:
    """Tasks from SWE-bench rows (:func:`load_swebench` then
    :meth:`SWEBenchInstance.to_task`)."""
    return [instance.to_task(source_dir=source_dir, split=split)
            for instance in load_swebench(source)]


def offline_problems(task: SWETask,
                     image_exists: Callable[[str], bool] | None = None) -> list[str]:
    """Why ``task`` cannot run here (empty when it can, as far as can be told without
    starting it).

    Args:
        task: a SWE-bench task.
        image_exists: predicate on an image name (default: ask the local docker daemon).
    """
    problems = []
    not_pytest = [t for t in [*task.FAIL_TO_PASS, *task.PASS_TO_PASS] if not is_pytest_id(t)]
    if not_pytest:
        problems.append(f"{len(not_pytest)} test id(s) are not pytest node ids (e.g. "
                        f"{not_pytest[0]!r}); SWEEnv grades with pytest")
    if image_exists is None:
        from agentgym.sandboxes.docker.image import image_exists as daemon_has

        image_exists = daemon_has
    if not image_exists(task.image):
        problems.append(f"the evaluation image {task.image} is not in the local docker daemon "
                        "(build it with the SWE-bench harness; it cannot be pulled offline)")
    return problems
