"""``agentgym/Collab-v0``: write a function whose exact specification only a collaborator knows.

ColBench's backend-programming setting (SWEET-RL, Zhou et al. 2025, arXiv 2503.15478) as a
two-seat PettingZoo game:

* ``coder_0`` (role ``coder``) sees the function's signature and a one-line purpose. On each turn
  it either asks — ``ask <question>`` — or submits — ``submit`` followed by the code (a fenced
  ```` ```python ```` block or the code itself). At most ``max_questions`` questions.
* ``collaborator_0`` (role ``collaborator``) sees the hidden specification and the question, and
  answers in plain words (any printable text up to 2,000 characters). By default the seat is
  played by :class:`~agentgym.envs.multiagent.collab.simulator.ScriptedCollaborator`
  (``default_policies()``), a deterministic simulator; any policy or OpenAI-compatible endpoint
  can play it instead.

A submission ends the game: the hidden unit tests run in a docker sandbox
(:mod:`~agentgym.envs.multiagent.collab.grading`) and both seats get the fraction of tests passed
(reward part ``tests_passed``); ``success`` means every test passed. The hidden specification,
tests and reference solution are training-time information in every ``info``
(``hidden_spec``, ``hidden_tests``, ``reference_solution``) and never in the coder's
observation.

Each environment owns at most one sandbox container, started at the first submission, wiped
before every grading and removed by :meth:`CollabEnv.close` (the rollout closes every
environment it made, also after an error), so no container outlives a run.

The expert (the spec-reader): as the coder it asks the question of each hidden fact in turn, as
long as questions remain, then submits the reference solution; as the collaborator it is the
scripted simulator.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from agentgym.envs.multiagent.base import TextAECEnv, clean_action
from agentgym.envs.multiagent.collab.grading import GradeResult, grade, tests_text
from agentgym.envs.multiagent.collab.simulator import ScriptedCollaborator, answer
from agentgym.envs.multiagent.collab.tasks import Task, tasks_for

MAX_CODE_CHARS = 20_000
MAX_ANSWER_CHARS = 2_000
_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_ASK = re.compile(r"^(?:ask|question)\s*:?\s*", re.IGNORECASE)
_SUBMIT = re.compile(r"^submit\b\s*:?", re.IGNORECASE)


def extract_code(text: str) -> str:
    """The code of a submission: the first fenced block, else everything after ``submit``."""
    fenced = _FENCE.search(text)
    if fenced:
        return fenced.group(1).strip() + "\n"
    return _SUBMIT.sub("", text.strip(), count=1).strip() + "\n"


class CollabEnv(TextAECEnv):
    """Collaborative programming with a hidden specification (see the module doc).

    Args:
        split: task pool: ``"train"``, ``"test"`` or ``"all"``; the seed indexes it (modulo).
        max_questions: questions the coder may ask before it must submit.
        max_turns: steps of both seats (invalid ones included) before truncation.
        image: docker image of the grading sandbox.
        sandbox_limits: a :class:`~agentgym.sandboxes.docker.SandboxLimits` (default: 256 MB,
            one CPU, 64 processes).
        render_mode: None or ``"ansi"``.
    """

    metadata: ClassVar[dict[str, Any]] = {**TextAECEnv.metadata, "name": "agentgym_collab_v0"}
    max_action_chars = MAX_CODE_CHARS

    def __init__(
        self,
        *,
        split: str = "train",
        max_questions: int = 5,
        max_turns: int | None = None,
        image: str | None = None,
        sandbox_limits: Any = None,
        render_mode: str | None = None,
    ) -> None:
        if max_questions < 0:
            raise ValueError(f"max_questions must be >= 0, got {max_questions}")
        self.tasks = tasks_for(split)
        self.split = split
        self.max_questions = int(max_questions)
        self.image = image
        self.sandbox_limits = sandbox_limits
        self.possible_agents = ["coder_0", "collaborator_0"]
        self.roles = {"coder_0": "coder", "collaborator_0": "collaborator"}
        self._sandbox: Any = None
        self.task: Task = self.tasks[0]
        self.last_grade: GradeResult | None = None
        super().__init__(max_turns=max_turns, render_mode=render_mode)

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Remove the grading container, if one was started."""
        sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            sandbox.close()

    def default_policies(self) -> dict[str, Any]:
        """Policies for seats a rollout leaves unassigned: the scripted collaborator."""
        return {"collaborator_0": ScriptedCollaborator()}

    def _grade(self, code: str) -> GradeResult:
        from agentgym.sandboxes.docker import DEFAULT_IMAGE, DockerSandbox, SandboxLimits

        if self._sandbox is None:
            limits = self.sandbox_limits or SandboxLimits(memory="256m", cpus=1.0, pids=64,
                                                          timeout=30.0)
            self._sandbox = DockerSandbox(self.image or DEFAULT_IMAGE, limits=limits)
        elif self._sandbox.started:
            self._sandbox.reset()
        try:
            return grade(self._sandbox, self.task, code)
        except BaseException:
            self.close()  # a broken sandbox is not reused
            raise

    # -- hooks -------------------------------------------------------------------------------
    def _new_game(self, seed: int | None, options: dict[str, Any] | None) -> None:
        index = 0 if seed is None else int(seed) % len(self.tasks)
        if options and "task_index" in options:
            index = int(options["task_index"]) % len(self.tasks)
        self.task = self.tasks[index]
        self._mover = "coder_0"
        self._questions: list[tuple[str, str | None]] = []  # (question, answer)
        self.last_grade = None

    def _to_move(self) -> str:
        return self._mover

    def _task_id(self) -> str:
        return f"collab/{self.task.task_id}"

    def _instruction(self, agent: str) -> str:
        task = self.task
        if agent == "coder_0":
            return (
                f"Write the Python function `{task.signature}`: {task.summary} Its exact "
                "behaviour is known only to your collaborator. On each turn either ask one "
                "question ('ask <question>') or submit your code ('submit' followed by a "
                f"```python code block). You may ask at most {self.max_questions} questions. "
                "Your submission is graded by hidden unit tests; you score the fraction they pass."
            )
        return (
            f"You are the collaborator of a programmer writing `{task.signature}`. You know the "
            "exact specification below. Answer the programmer's questions truthfully and in "
            "plain words, one detail at a time; do not write code.\nSpecification:\n" + task.spec
        )

    def legal_actions(self, agent: str) -> list[str]:
        if agent != self._to_move():
            return []
        if agent == "collaborator_0":
            return ["<answer>"]
        asked = len(self._questions)
        questions = [f"ask What about the {fact.topic}?" for fact in self.task.facts]
        return (questions if asked < self.max_questions else []) + ["submit <code>"]

    def _play(self, agent: str, action: str) -> str | None:
        if agent == "collaborator_0":
            return self._answer(action)
        text = action.strip()
        if _SUBMIT.match(text):
            code = extract_code(text)
            if not code.strip():
                return "the submission has no code; write 'submit' and a ```python block"
            result = self._grade(code)
            self.last_grade = result
            for a in self.possible_agents:
                self._give(a, "tests_passed", result.fraction)
            note = f" ({result.error})" if result.error else ""
            self._announce(f"Submitted. Hidden tests passed: {result.passed}/{result.total}"
                           f"{note}.")
            self._finish(dict.fromkeys(self.possible_agents, result.success))
            return None
        match = _ASK.match(text)
        if match is None or not clean_action(text).startswith(("ask", "question")):
            return "write 'ask <question>' or 'submit' followed by a ```python code block"
        question = text[match.end():].strip()
        if not question:
            return "ask what? write 'ask <question>'"
        if len(question) > MAX_ANSWER_CHARS:
            return f"questions are at most {MAX_ANSWER_CHARS} characters"
        if len(self._questions) >= self.max_questions:
            return f"you have asked {self.max_questions} questions, the most allowed; submit now"
        self._questions.append((question, None))
        self._announce(f"Coder asks: {question}", to="collaborator_0")
        self._mover = "collaborator_0"
        return None

    def _answer(self, text: str) -> str | None:
        reply = text.strip()
        if len(reply) > MAX_ANSWER_CHARS:
            return f"answers are at most {MAX_ANSWER_CHARS} characters"
        if not reply.replace("\n", " ").isprintable():
            return "answers must be printable text"
        question, _ = self._questions[-1]
        self._questions[-1] = (question, reply)
        self._announce(f"Collaborator: {reply}", to="coder_0")
        self._mover = "coder_0"
        return None

    def _view(self, agent: str) -> str:
        if agent == "coder_0":
            left = self.max_questions - len(self._questions)
            return (
                f"Task: write `{self.task.signature}`: {self.task.summary}\n"
                f"Questions left: {left}."
            )
        pending = self._questions[-1][0] if self._questions and self._questions[-1][1] is None \
            else None
        return (
            f"Hidden specification:\n{self.task.spec}\n"
            + (f"The coder asks: {pending}" if pending else "No question is pending.")
        )

    def _state_key(self, agent: str) -> str:
        # The coder's state: what it has learned (the answers so far) and questions left.
        answers = "|".join(a or "" for _, a in self._questions)
        return f"{self.task.task_id}|{agent}|q={len(self._questions)}|{answers}"

    def _extra_info(self, agent: str) -> dict[str, Any]:
        task = self.task
        return {
            "hidden_spec": task.spec,
            "hidden_tests": tests_text(task),
            "reference_solution": task.reference,
            "split": task.split,
            "family": task.family,
        }

    def _expert(self, agent: str) -> str:
        if agent == "collaborator_0":
            question = self._questions[-1][0] if self._questions else ""
            return answer(self.task, question)
        asked = len(self._questions)
        if asked < min(self.max_questions, len(self.task.facts)):
            return "ask " + self.task.facts[asked].question
        return f"submit\n```python\n{self.task.reference}```"

    def _render(self) -> str:
        lines = [f"task {self.task.task_id}"]
        for question, reply in self._questions:
            lines.append(f"Q: {question}\nA: {reply}")
        if self.last_grade is not None:
            lines.append(f"graded {self.last_grade.passed}/{self.last_grade.total}")
        return "\n".join(lines)
