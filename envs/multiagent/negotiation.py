"""Negotiation over a split of items with private valuations, where talking matters.

Deal-or-no-deal style (Lewis et al. 2017, "Deal or No Deal? End-to-End Learning for Negotiation
Dialogues"): a pool of books, hats and balls is split between ``player_0`` (role ``first``,
moves first) and ``player_1`` (role ``second``). Each player privately values every kind of item
(whole numbers, the whole pool is worth 10 to each) and sees only its own values. The players
alternate; on its turn a player either

* ``say <message>`` — talks (up to 300 printable characters),
* ``propose <books> <hats> <balls>`` — offers a split: the numbers are what the *proposer* keeps,
  the partner gets the rest (also ``propose books=1 hats=2 balls=0``); it replaces any earlier
  offer, or
* ``accept`` — accepts the partner's standing offer, which ends the game with a deal.

A deal pays each player the value of its share over 10 (reward part ``outcome``, in [0, 1]);
no deal after ``max_rounds`` valid turns pays nothing. Info ``success`` is True for both players
after a deal. The partner's values are training-time information (``info["partner_values"]``),
never in the observation.

Talking matters: neither player can tell which split is good for both without learning the
other's values. The expert says its values first (``say my values are books 2 hats 1 balls 3``),
reads the partner's values from what the partner says, then proposes and accepts the split that
maximizes the product of the two players' values (the Nash bargaining solution, Nash 1950); a
silent player can only guess.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, ClassVar

import numpy as np

from agentgym.envs.multiagent.base import TextAECEnv, clean_action

ITEMS = ("books", "hats", "balls")
TOTAL_VALUE = 10
MAX_MESSAGE_CHARS = 300

_PROPOSE_NUMBERS = re.compile(r"^propose\s*:?\s*(\d+)[\s,]+(\d+)[\s,]+(\d+)$")
_PROPOSE_NAMED = re.compile(
    r"^propose\s*:?\s*books?\s*[=:]?\s*(\d+)[\s,]+hats?\s*[=:]?\s*(\d+)[\s,]+balls?\s*[=:]?\s*(\d+)$"
)
_VALUES_IN_TEXT = re.compile(
    r"books?\D{0,12}?(\d+)\D+?hats?\D{0,12}?(\d+)\D+?balls?\D{0,12}?(\d+)", re.IGNORECASE
)


def generate_task(seed: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """``(counts, values_0, values_1)`` of task ``seed``: 5–7 items of 3 kinds, each player's
    values sum to 10 over the pool, each player values at least two kinds and the two value
    vectors differ (so there is something to gain from talking)."""
    rng = np.random.default_rng([20170616, int(seed)])
    while True:
        counts = tuple(int(c) for c in rng.integers(1, 5, size=3))
        if not 5 <= sum(counts) <= 7:
            continue
        options = [
            v for v in itertools.product(range(TOTAL_VALUE + 1), repeat=3)
            if sum(c * x for c, x in zip(counts, v, strict=True)) == TOTAL_VALUE
            and sum(1 for x in v if x > 0) >= 2
        ]
        if len(options) < 2:
            continue
        first, second = rng.choice(len(options), size=2, replace=False)
        return counts, tuple(options[first]), tuple(options[second])


def share_value(share: tuple[int, ...], values: tuple[int, ...]) -> int:
    """The value of ``share`` (items of each kind) under ``values``."""
    return sum(s * v for s, v in zip(share, values, strict=True))


def nash_split(
    counts: tuple[int, ...], proposer_values: tuple[int, ...], partner_values: tuple[int, ...]
) -> tuple[int, ...]:
    """The proposer's share maximizing the product of both values (Nash bargaining), ties broken
    by the joint value, then the smaller gap between the two values, then the share itself."""
    best: tuple[Any, ...] | None = None
    for share in itertools.product(*(range(c + 1) for c in counts)):
        rest = tuple(c - s for c, s in zip(counts, share, strict=True))
        mine, theirs = share_value(share, proposer_values), share_value(rest, partner_values)
        key = (mine * theirs, mine + theirs, -abs(mine - theirs), share)
        if best is None or key > best:
            best = key
    assert best is not None
    return best[-1]


def parse_values(text: str) -> tuple[int, ...] | None:
    """Values stated in a message (``"... books 2 hats 1 balls 3 ..."``), or None."""
    match = _VALUES_IN_TEXT.search(text)
    return None if match is None else tuple(int(g) for g in match.groups())


class NegotiationEnv(TextAECEnv):
    """Split books, hats and balls with private values (see the module doc).

    Args:
        max_rounds: valid turns (both players together) before the game ends without a deal.
        max_turns: steps including invalid ones before both players are truncated.
        render_mode: None or ``"ansi"``.
    """

    metadata: ClassVar[dict[str, Any]] = {**TextAECEnv.metadata, "name": "agentgym_negotiation_v0"}

    def __init__(
        self, *, max_rounds: int = 10, max_turns: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        if max_rounds < 2:
            raise ValueError(f"max_rounds must be >= 2, got {max_rounds}")
        self.possible_agents = ["player_0", "player_1"]
        self.roles = {"player_0": "first", "player_1": "second"}
        self.max_rounds = int(max_rounds)
        super().__init__(max_turns=max_turns, render_mode=render_mode)

    # -- hooks -------------------------------------------------------------------------------
    def _new_game(self, seed: int | None, options: dict[str, Any] | None) -> None:
        self._task_seed = 0 if seed is None else int(seed)
        counts, v0, v1 = generate_task(self._task_seed)
        self.counts = counts
        self.values = {"player_0": v0, "player_1": v1}
        self._offer: tuple[str, tuple[int, ...]] | None = None  # (proposer, proposer's share)
        # listener -> the values its partner stated (None until stated)
        self._heard: dict[str, tuple[int, ...] | None] = dict.fromkeys(self.possible_agents)
        self._said_values: dict[str, bool] = dict.fromkeys(self.possible_agents, False)
        self._valid_turns = 0
        self._mover = "player_0"
        self._deal: dict[str, tuple[int, ...]] | None = None

    def _to_move(self) -> str:
        return self._mover

    def _task_id(self) -> str:
        return f"negotiation/{self._task_seed}"

    def _instruction(self, agent: str) -> str:
        pool = ", ".join(f"{c} {name}" for c, name in zip(self.counts, ITEMS, strict=True))
        values = ", ".join(
            f"{name} {v}" for name, v in zip(ITEMS, self.values[agent], strict=True)
        )
        return (
            f"You negotiate with a partner how to split a pool of items: {pool}. Your values "
            f"per item: {values} (the whole pool is worth {TOTAL_VALUE} to you). The partner "
            "values the items differently and you do not know how. You score the value of the "
            f"items you get, over {TOTAL_VALUE}, if you agree; nothing if there is no deal after "
            f"{self.max_rounds} turns. On your turn do one of: 'say <message>' to talk, "
            "'propose <books> <hats> <balls>' with the numbers you keep (the partner gets the "
            "rest), or 'accept' to accept the partner's standing offer."
        )

    def legal_actions(self, agent: str) -> list[str]:
        """Accept (when the partner has an offer out), telling one's values, and every
        proposal."""
        if agent != self._to_move():
            return []
        actions = []
        if self._offer is not None and self._offer[0] != agent:
            actions.append("accept")
        actions.append("say my values are " + " ".join(
            f"{n} {v}" for n, v in zip(ITEMS, self.values[agent], strict=True)))
        actions += [
            "propose " + " ".join(str(x) for x in share)
            for share in itertools.product(*(range(c + 1) for c in self.counts))
        ]
        return actions

    def _play(self, agent: str, action: str) -> str | None:
        text = action.strip()
        head = clean_action(text)
        partner = self._partner(agent)
        if head.startswith("say"):
            message = text[3:].lstrip(" :").strip()
            if not message:
                return "say what? write 'say <message>'"
            if len(message) > MAX_MESSAGE_CHARS:
                return f"messages are at most {MAX_MESSAGE_CHARS} characters"
            if not message.isprintable():
                return "messages must be printable text (no control characters)"
            self._announce(f"{agent} says: {message}", to=partner)
            self._announce(f"You said: {message}", to=agent)
            stated = parse_values(message)
            if stated is not None:
                self._heard[partner] = stated
            if stated == self.values[agent]:
                self._said_values[agent] = True
        elif head.startswith("propose"):
            match = _PROPOSE_NUMBERS.match(head) or _PROPOSE_NAMED.match(head)
            if match is None:
                return ("write 'propose <books> <hats> <balls>', the numbers you keep, "
                        "e.g. propose 1 2 0")
            share = tuple(int(g) for g in match.groups())
            if any(s > c for s, c in zip(share, self.counts, strict=True)):
                pool = " ".join(str(c) for c in self.counts)
                return f"you cannot keep more than the pool ({pool} books, hats, balls)"
            self._offer = (agent, share)
            rest = tuple(c - s for c, s in zip(self.counts, share, strict=True))
            self._announce(
                f"{agent} proposes: {agent} keeps {self._describe(share)}; "
                f"{partner} gets {self._describe(rest)}.",
            )
        elif head == "accept":
            if self._offer is None or self._offer[0] == agent:
                return "there is no offer from your partner to accept; say or propose instead"
            proposer, share = self._offer
            rest = tuple(c - s for c, s in zip(self.counts, share, strict=True))
            self._deal = {proposer: share, agent: rest}
            for a in self.possible_agents:
                self._give(a, "outcome", share_value(self._deal[a], self.values[a]) / TOTAL_VALUE)
            self._announce(
                f"{agent} accepts. Deal: "
                + "; ".join(f"{a} gets {self._describe(self._deal[a])}" for a in self._deal)
                + "."
            )
            self._finish(dict.fromkeys(self.possible_agents, True))
            return None
        else:
            return "start with say, propose or accept (e.g. 'say hello', 'propose 1 2 0', 'accept')"
        self._valid_turns += 1
        self._mover = partner
        if self._valid_turns >= self.max_rounds:
            for a in self.possible_agents:
                self._give(a, "outcome", 0.0)
            self._announce(f"No deal after {self.max_rounds} turns: nobody scores.")
            self._finish({})
        return None

    def _view(self, agent: str) -> str:
        lines = [
            f"You are {agent}. Pool: {self._describe(self.counts)}.",
            "Your values per item: "
            + ", ".join(f"{n} {v}" for n, v in zip(ITEMS, self.values[agent], strict=True)) + ".",
        ]
        if self._offer is None:
            lines.append("No offer is on the table.")
        else:
            proposer, share = self._offer
            rest = tuple(c - s for c, s in zip(self.counts, share, strict=True))
            mine = share if proposer == agent else rest
            who = "Your" if proposer == agent else "The partner's"
            lines.append(
                f"{who} offer: you get {self._describe(mine)} "
                f"(worth {share_value(mine, self.values[agent])} to you)."
            )
        lines.append(f"Turns left: {self.max_rounds - self._valid_turns}.")
        return "\n".join(lines)

    def _state_key(self, agent: str) -> str:
        offer = "-" if self._offer is None else f"{self._offer[0]}:{self._offer[1]}"
        heard = self._heard.get(agent)
        return (
            f"{self.counts}|{self.values[agent]}|offer={offer}|heard={heard}|"
            f"left={self.max_rounds - self._valid_turns}|move={self._mover}"
        )

    def _extra_info(self, agent: str) -> dict[str, Any]:
        return {
            "values": list(self.values[agent]),
            "partner_values": list(self.values[self._partner(agent)]),
            "counts": list(self.counts),
        }

    def _expert(self, agent: str) -> str:
        partner = self._partner(agent)
        mine = self.values[agent]
        heard = self._heard.get(agent)  # what the partner told this agent
        knows = heard is not None and self._consistent(heard)
        if knows:
            # Both sides compute the same split (from player_0's side), so they agree on it.
            known = {agent: mine, partner: heard}
            first_share = nash_split(self.counts, known["player_0"], known["player_1"])
            share = first_share if agent == "player_0" else self._rest(first_share)
            target = share_value(share, mine)
        else:  # no idea of the partner's values: keep what I value, give the rest
            share = tuple(c if v > 0 else 0 for c, v in zip(self.counts, mine, strict=True))
            target = TOTAL_VALUE // 2
        offered = self._offer is not None and self._offer[0] == partner
        if offered and share_value(self._rest(self._offer[1]), mine) >= target:
            return "accept"
        if not self._said_values[agent]:
            return "say my values are " + " ".join(
                f"{n} {v}" for n, v in zip(ITEMS, mine, strict=True)
            )
        return "propose " + " ".join(str(s) for s in share)

    def _render(self) -> str:
        return (
            f"pool {self.counts} values {self.values} offer {self._offer} deal {self._deal} "
            f"turns {self._valid_turns}/{self.max_rounds}"
        )

    @property
    def standing_offer(self) -> tuple[str, tuple[int, ...]] | None:
        """``(proposer, proposer's share)`` of the offer on the table, or None."""
        return self._offer

    # -- helpers -----------------------------------------------------------------------------
    def _partner(self, agent: str) -> str:
        return "player_1" if agent == "player_0" else "player_0"

    def _rest(self, share: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(c - s for c, s in zip(self.counts, share, strict=True))

    def _consistent(self, values: tuple[int, ...]) -> bool:
        return share_value(self.counts, values) == TOTAL_VALUE

    @staticmethod
    def _describe(share: tuple[int, ...]) -> str:
        return ", ".join(f"{n} {name}" for n, name in zip(share, ITEMS, strict=True))
