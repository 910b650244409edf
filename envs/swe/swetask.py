"""The SWE task type, shared by generated bugs (:mod:`.tasks`) and SWE-bench rows
(:mod:`.swebench`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from agentgym.sandboxes.docker import DEFAULT_IMAGE


@dataclass
class SWETask:
    """One task (a generated bug or a SWE-bench instance).

    Attributes:
        instance_id: unique id, e.g. ``textkit__textkit.py:operator:L42:0``.
        repo: repository name (bundled) or ``owner/name`` (SWE-bench).
        problem_statement: the issue text shown to the agent.
        patch: the gold patch (unified diff).
        FAIL_TO_PASS: test ids that must go from failing to passing.
        PASS_TO_PASS: test ids that must keep passing.
        split: ``train`` or ``test``.
        image: docker image the task runs in.
        files: generated tasks: ``{path: buggy source}`` overriding the bundled repository.
        source_dir: SWE-bench tasks: the repository's folder inside the image (copied to the
            sandbox's work dir at reset).
        base_commit: SWE-bench: the commit the repository is at.
        test_patch: SWE-bench: tests applied before grading.
        kind: ``generated`` or ``swebench``.
        mutation: generated tasks: what the bug is (hidden from the agent).
    """

    instance_id: str
    repo: str
    problem_statement: str
    patch: str
    FAIL_TO_PASS: list[str]
    PASS_TO_PASS: list[str]
    split: str = "train"
    image: str = DEFAULT_IMAGE
    files: dict[str, str] = field(default_factory=dict)
    source_dir: str = ""
    base_commit: str = ""
    test_patch: str = ""
    kind: str = "generated"
    mutation: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SWETask:
        """The task from :meth:`to_json` output; unknown keys are an error naming them."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown SWETask field(s) {sorted(unknown)}")
        return cls(**data)
