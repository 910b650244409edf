"""``agentgym/BFCL-*-v0``: the Berkeley Function Calling Leaderboard v4 multi-turn tasks.

An episode is one BFCL entry: a user makes several requests, one per turn, to an assistant that
acts through the functions of BFCL's stateful API simulators (file system, math, messaging,
posting, tickets, trading, travel, vehicle control). The calls run against BFCL's own simulator
classes, and the episode is graded by BFCL's own ``multi_turn_checker``, so ``success`` is the
leaderboard's verdict on the same calls.

Protocol (one *step* = one model reply):

* The first observation is a short instruction and the first request (``User: …``); the tools
  are JSON schemas in ``env.tools`` and reset ``info["tools"]`` (BFCL's function docs in OpenAI
  format, plus ``respond``).
* An action is raw model text with one or more tool calls (``<tool_call>{…}</tool_call>`` or
  OpenAI JSON; see :mod:`agentgym.core.tool_calls`). The calls run in order and the
  observation is their results, one ``<tool_response>`` block each.
* ``respond(message)`` answers the user and ends the turn (it may close a reply that also holds
  calls); the next observation is the next request. BFCL ends a turn when the model answers
  without calls; agentgym needs the explicit call because text without a call is an invalid
  action here, never a silent end of turn.
* Malformed calls — unparsable JSON, an unknown function, missing or undeclared arguments, wrong
  types (``validation="schema"``) — are invalid actions: nothing runs, the state is unchanged
  and the observation says what is wrong. ``validation="bfcl"`` accepts what BFCL's executor
  accepts (any method of the involved classes, any identifier keyword, any JSON value), which
  matches the leaderboard on the few entries whose ground truth breaks BFCL's own schemas.
* As in BFCL's inference loop, more than 20 steps with calls in one turn force-quit the entry
  (``terminated``, failed).

Reward parts, given when a turn ends (zero on other steps), in the ToolRL/StepTool mould:
``format`` (1 if every reply of the turn was well-formed), ``tool_name`` and ``arguments``
(agreement of the turn's calls with that turn's ground truth, see
:mod:`agentgym.envs.tool.bfcl.reward`), ``state`` (BFCL's ``state_checker`` on the live
simulators vs the ground truth's after this turn), and on the last turn ``outcome`` (1 when
BFCL's ``multi_turn_checker`` accepts the whole episode). The reward is
``Σ weight·part`` with default weights format 0.1, tool_name 0.1, arguments 0.1, state 0.2,
outcome 1.0 (override with ``reward_weights``).
"""

from __future__ import annotations

import functools
import keyword
from typing import Any

from agentgym.core.env import TextEnv
from agentgym.core.tool_calls import (
    ToolCall,
    ToolCallError,
    ToolSet,
    parse_tool_calls,
    render_tool_calls,
)
from agentgym.envs.tool.bfcl import data
from agentgym.envs.tool.bfcl.reward import argument_score, name_score
from agentgym.envs.tool.bfcl.runtime import (
    Simulators,
    bfcl_verdict,
    responses_match,
    state_matches,
)

#: The pseudo-function that answers the user and ends the turn.
RESPOND = "respond"
RESPOND_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": RESPOND,
        "description": (
            "Answer the user in words and end your turn. Call it when the request is done, when "
            "you need more information from the user, or when no available function can do "
            "what was asked."
        ),
        "parameters": {
            "type": "object",
            "properties": {"message": {"type": "string", "description": "Your reply."}},
            "required": ["message"],
        },
    },
}
_RESPOND_SET = ToolSet([RESPOND_TOOL])

INTRO = (
    "You help a user by calling functions. The user makes requests one turn at a time. For each "
    "request, call the functions it needs (several calls in one reply run in order), read their "
    "results, then call respond(message) to answer the user and end the turn. If you need more "
    "information, or no function can do what was asked, call respond to say so."
)

#: BFCL's step limit per turn (``constants/default_prompts.py`` ``MAXIMUM_STEP_LIMIT``).
MAX_STEPS_PER_TURN = 20
#: Default weights of the reward parts.
DEFAULT_WEIGHTS = {"format": 0.1, "tool_name": 0.1, "arguments": 0.1, "state": 0.2, "outcome": 1.0}
PART_NAMES = tuple(DEFAULT_WEIGHTS)
VALIDATIONS = ("schema", "bfcl")


@functools.cache
def _toolset(key: tuple[Any, ...]) -> ToolSet:
    return ToolSet([*data._offered(*key)[0], RESPOND_TOOL])


def _missed_prompt() -> str:
    from bfcl_eval.constants.default_prompts import DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC

    return DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC


class BFCLEnv(TextEnv):
    """BFCL v4 multi-turn entries as a text environment (see the module docstring).

    Args:
        category: ``base``, ``miss_func``, ``miss_param``, ``long_context``, a tuple of them, or
            ``"all"``.
        split: ``train`` (150 entries per category), ``test`` (50: entry numbers divisible by
            4) or ``all``.
        validation: ``"schema"`` (calls must match the offered tools' JSON schemas) or
            ``"bfcl"`` (what BFCL's executor runs).
        max_steps_per_turn: steps with calls allowed in one turn before the entry is
            force-quit (BFCL: 20).
        reward_weights: weights of the reward parts (default :data:`DEFAULT_WEIGHTS`).
        render_mode: ``None`` or ``"ansi"``.

    ``reset(seed=i)`` plays entry ``i mod n`` of the split (seeds ``0..n−1`` cover it);
    ``options={"task_id": "multi_turn_base_4"}`` picks an entry by id.
    """

    def __init__(
        self,
        category: str | tuple[str, ...] = "base",
        split: str = "train",
        validation: str = "schema",
        max_steps_per_turn: int = MAX_STEPS_PER_TURN,
        reward_weights: dict[str, float] | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(reward_weights={**DEFAULT_WEIGHTS, **(reward_weights or {})},
                         render_mode=render_mode)
        if validation not in VALIDATIONS:
            raise ValueError(f"validation must be one of {VALIDATIONS}, got {validation!r}")
        if max_steps_per_turn < 1:
            raise ValueError(f"max_steps_per_turn must be >= 1, got {max_steps_per_turn}")
        self.entries = data.load_entries(category, split)
        if not self.entries:
            raise ValueError(f"no BFCL entries for category={category!r}, split={split!r}")
        self.validation = validation
        self.max_steps_per_turn = int(max_steps_per_turn)
        self.entry: data.Entry | None = None
        self._live: Simulators | None = None
        self._truth: Simulators | None = None
        self._reset_episode_state()

    # -- episode state -------------------------------------------------------------------------
    def _reset_episode_state(self) -> None:
        self.turn = 0
        self.done = False
        self._decoded: list[list[list[str]]] = []
        self._turn_calls: list[ToolCall] = []
        self._turn_clean = True
        self._call_steps = 0
        self._all_results: list[str] = []
        self._state_key = ""
        self._last_obs = ""
        self.verdict: dict[str, Any] | None = None

    def _release(self) -> None:
        for sims in (self._live, self._truth):
            if sims is not None:
                sims.close()
        self._live = self._truth = None

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The functions offered now (BFCL's docs as OpenAI tool specs) plus ``respond``."""
        if self.entry is None:
            return [RESPOND_TOOL]
        return [*data.entry_tools(self.entry, self.turn), RESPOND_TOOL]

    def _current_toolset(self) -> ToolSet:
        assert self.entry is not None
        return _toolset(data._offer_key(self.entry, self.turn))

    def _compute_state_key(self) -> str:
        assert self.entry is not None and self._live is not None
        return f"turn {self.turn}/{self.entry.n_turns} | {self._live.state_digest()}"

    def _question(self, turn: int) -> str:
        assert self.entry is not None
        text = self.entry.questions[turn]
        return text if text.strip() or turn not in self.entry.missed else _missed_prompt()

    # -- gymnasium API -------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        entry = self.choose_task(self.entries, seed=seed, options=options)
        self._release()
        self._reset_episode_state()
        self.entry = entry
        self._live = Simulators(entry, "live")
        self._truth = Simulators(entry, "truth")
        self._decoded = [[]]
        self._state_key = self._compute_state_key()
        self._last_obs = f"{INTRO}\n\nUser: {self._question(0)}"
        info = self.reset_info(
            task_id=entry.id,
            instruction=self._question(0),
            state_key=self._state_key,
            tools=self.tools,
            category=entry.category,
            split=entry.split,
            n_turns=entry.n_turns,
        )
        return self._last_obs, info

    def _invalid(self, message: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        self._turn_clean = False
        parts = dict.fromkeys(PART_NAMES, 0.0)
        obs = f"Invalid action: {message}\nNothing was run; reply again with valid tool calls."
        info = self.step_info(state_key=self._state_key, action_valid=False, reward_parts=parts,
                              error=message)
        return obs, self.reward_from_parts(parts), False, False, info

    def _parse(self, action: str) -> list[ToolCall]:
        if self.validation == "schema":
            return parse_tool_calls(action, self._current_toolset())
        assert self.entry is not None
        calls = parse_tool_calls(action)
        methods = data.class_methods(tuple(self.entry.raw["involved_classes"]))
        for call in calls:
            if call.name == RESPOND:
                _RESPOND_SET.validate(call)
            elif call.name not in methods:
                raise ToolCallError(f"unknown function {call.name!r}")
            for key in call.arguments:
                if not key.isidentifier() or keyword.iskeyword(key):
                    raise ToolCallError(f"{call.name}: {key!r} is not a valid argument name")
        return calls

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self.entry is None or self._live is None:
            raise RuntimeError("call reset() before step()")
        if self.done:
            return self._invalid("the conversation has ended; call reset() for a new one")
        if not isinstance(action, str):
            return self._invalid(f"the action must be text, got {type(action).__name__}")
        try:
            calls = self._parse(action)
        except ToolCallError as err:
            return self._invalid(str(err))
        responds = [i for i, c in enumerate(calls) if c.name == RESPOND]
        if responds and (len(responds) > 1 or responds[0] != len(calls) - 1):
            return self._invalid("call respond at most once, as the last call of a reply")

        function_calls = [c for c in calls if c.name != RESPOND]
        pieces: list[str] = []
        parts = dict.fromkeys(PART_NAMES, 0.0)
        extra: dict[str, Any] = {}
        terminated = False
        if function_calls:
            strings = [data.to_bfcl_call(c) for c in function_calls]
            results = self._live.execute(strings)
            self._decoded[self.turn].append(strings)
            self._all_results.extend(results)
            self._turn_calls.extend(function_calls)
            self._call_steps += 1
            pieces += [f"<tool_response>\n{r}\n</tool_response>" for r in results]
            if self._call_steps > self.max_steps_per_turn:
                terminated = True
                self.done = True
                self.verdict = {"valid": False, "error_type": "multi_turn:force_terminated"}
                extra["force_quit"] = True
                pieces.append(
                    f"More than {self.max_steps_per_turn} steps in one turn: the conversation "
                    "was stopped."
                )
        if responds and not terminated:
            parts.update(self._end_turn(extra))
            if self.turn + 1 >= self.entry.n_turns:
                terminated = True
                self.done = True
                self.verdict = bfcl_verdict(self.entry, self._decoded)
                parts["outcome"] = 1.0 if self.verdict.get("valid") else 0.0
                extra["bfcl_verdict"] = _summary(self.verdict)
                pieces.append("The conversation has ended.")
            else:
                self.turn += 1
                self._decoded.append([])
                self._turn_calls, self._turn_clean, self._call_steps = [], True, 0
                pieces.append(f"User: {self._question(self.turn)}")
                if self.turn in self.entry.missed:
                    extra["tools"] = self.tools
        self._state_key = self._compute_state_key()
        self._last_obs = "\n".join(pieces)
        info = self.step_info(
            state_key=self._state_key,
            action_valid=True,
            reward_parts=parts,
            success=bool(terminated and self.verdict and self.verdict.get("valid")),
            turn=self.turn,
            **extra,
        )
        return self._last_obs, self.reward_from_parts(parts), terminated, False, info

    def _end_turn(self, extra: dict[str, Any]) -> dict[str, float]:
        """Score the turn that just ended against its ground truth."""
        assert self.entry is not None and self._live is not None and self._truth is not None
        truth_strings = list(self.entry.ground_truth[self.turn])
        truth_results = self._truth.execute(truth_strings)
        gold = [data.ground_truth_call(self.entry, s) for s in truth_strings]
        state_ok, _ = state_matches(self._live, self._truth)
        response_ok = responses_match(self._all_results, truth_results)
        extra["turn_check"] = {"turn": self.turn, "state": state_ok, "response": response_ok}
        return {
            "format": 1.0 if self._turn_clean else 0.0,
            "tool_name": name_score(self._turn_calls, gold),
            "arguments": argument_score(self._turn_calls, gold),
            "state": 1.0 if state_ok else 0.0,
        }

    # -- optional API --------------------------------------------------------------------------
    def expert_action(self) -> str:
        """Replay the ground truth: the turn's calls in one reply, then ``respond``."""
        if self.entry is None or self.done:
            return render_tool_calls([ToolCall(RESPOND, {"message": "Goodbye."})])
        truth = self.entry.ground_truth[self.turn]
        if truth and self._call_steps == 0:
            return render_tool_calls([data.ground_truth_call(self.entry, s) for s in truth])
        message = "Done." if truth else "I cannot do that with these functions; please say more."
        return render_tool_calls([ToolCall(RESPOND, {"message": message})])

    def render(self) -> str | None:
        return self._last_obs if self.render_mode == "ansi" else None

    def close(self) -> None:
        self._release()
        super().close()


def _summary(verdict: dict[str, Any]) -> dict[str, Any]:
    return {k: verdict[k] for k in ("valid", "error_type", "error_message") if k in verdict}
