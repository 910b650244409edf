"""Tic-tac-toe and connect four from ``pettingzoo.classic``, played in text.

The PettingZoo environment keeps the rules and the result (its board, legal-move mask and
rewards); this layer shows the board as text, reads moves written as words (``"5"``,
``"cell 5"``, ``"[col 4]"``) and refuses illegal ones with a message instead of PettingZoo's
assertion. Rewards: +1 to the winner and −1 to the loser on the last move (reward part
``outcome``), 0 each for a draw.

Experts: exact minimax for tic-tac-toe (never loses) and depth-limited alpha-beta for connect
four (:mod:`agentgym.envs.multiagent.solvers`).
"""

from __future__ import annotations

import random
import re
from typing import Any, ClassVar

from agentgym.core.trajectory import stable_hash
from agentgym.envs.multiagent.base import TextAECEnv, clean_action
from agentgym.envs.multiagent.solvers import (
    COLS,
    ROWS,
    connect_four_move,
    tictactoe_best_moves,
    tictactoe_move,
)

_TTT_MOVE = re.compile(r"^(?:cell|square|move|play|place|mark|position)?\s*:?\s*\[?([1-9])\]?$")
_C4_MOVE = re.compile(r"^(?:col|column|drop|move|play)?\s*:?\s*\[?(?:col\s*)?([1-7])\]?$")


class TicTacToeEnv(TextAECEnv):
    """Tic-tac-toe (``pettingzoo.classic.tictactoe_v3``) with text boards and moves.

    Agents ``player_1`` (role ``x``, moves first) and ``player_2`` (role ``o``). A move is a cell
    number 1–9, counted row by row from the top left. There is one task: the empty board.

    The expert is exact minimax. ``expert_ties="fixed"`` (default) breaks ties between equally
    good moves by a fixed preference (centre, corners, lowest cell), so expert self-play is one
    game; ``"seeded"`` draws among them from the reset seed and the board, so demonstrations
    from different seeds cover different positions (the ``env=tictactoe`` recipe's setting).
    """

    metadata: ClassVar[dict[str, Any]] = {**TextAECEnv.metadata, "name": "agentgym_tictactoe_v0"}

    def __init__(self, *, max_turns: int | None = None, render_mode: str | None = None,
                 invalid_moves_allowed: int | None = None, expert_ties: str = "fixed") -> None:
        from pettingzoo.classic.tictactoe.tictactoe import raw_env

        if expert_ties not in ("fixed", "seeded"):
            raise ValueError(f"expert_ties must be 'fixed' or 'seeded', got {expert_ties!r}")
        self.expert_ties = expert_ties
        self._inner = raw_env()
        self.possible_agents = list(self._inner.possible_agents)
        self.roles = dict(zip(self.possible_agents, ("x", "o"), strict=True))
        self._marks = dict(zip(self.possible_agents, ("X", "O"), strict=True))
        super().__init__(max_turns=max_turns, render_mode=render_mode,
                         invalid_moves_allowed=invalid_moves_allowed)

    # PettingZoo's cell i is column-major (0 3 6 / 1 4 7 / 2 5 8); ours are row-major.
    @staticmethod
    def _pz_index(cell: int) -> int:
        row, col = divmod(cell, 3)
        return col * 3 + row

    def board(self) -> str:
        """The board as 9 characters, row-major, ``X``/``O``/``.``."""
        squares = self._inner.board.squares
        return "".join(".XO"[squares[self._pz_index(i)]] for i in range(9))

    def _new_game(self, seed: int | None, options: dict[str, Any] | None) -> None:
        self._inner.reset(seed=seed)

    def _to_move(self) -> str:
        return self._inner.agent_selection

    def _task_id(self) -> str:
        return "tictactoe/empty"

    def _instruction(self, agent: str) -> str:
        mark = self._marks[agent]
        return (
            f"You play tic-tac-toe as {mark} ({'first' if mark == 'X' else 'second'} to move). "
            "Cells are numbered 1-9 row by row from the top left. On your turn answer with the "
            "number of an empty cell, e.g. 5 for the centre. Three of your marks in a row, "
            "column or diagonal win."
        )

    def legal_actions(self, agent: str) -> list[str]:
        if agent != self._to_move():
            return []
        return [str(i + 1) for i, cell in enumerate(self.board()) if cell == "."]

    def _play(self, agent: str, action: str) -> str | None:
        match = _TTT_MOVE.match(clean_action(action))
        if match is None:
            return "write the number (1-9) of an empty cell, e.g. 5"
        cell = int(match.group(1)) - 1
        if self.board()[cell] != ".":
            return f"cell {cell + 1} is taken; choose an empty cell"
        mark = self._marks[agent]
        self._inner.step(self._pz_index(cell))
        self._announce(f"{mark} played cell {cell + 1}.")
        if any(self._inner.terminations.values()):
            scores = {a: float(self._inner.rewards[a]) for a in self.possible_agents}
            for a, score in scores.items():
                self._give(a, "outcome", score)
            winner = [a for a, s in scores.items() if s > 0]
            self._announce(
                f"{self._marks[winner[0]]} wins." if winner else "The game is a draw."
            )
            self._finish({a: s > 0 for a, s in scores.items()})
        return None

    def _view(self, agent: str) -> str:
        board = self.board()
        rows = [
            " " + " | ".join(board[3 * r + c] if board[3 * r + c] != "." else str(3 * r + c + 1)
                             for c in range(3))
            for r in range(3)
        ]
        return f"You are {self._marks[agent]}. Board:\n" + "\n---+---+---\n".join(rows)

    def _state_key(self, agent: str) -> str:
        return f"{self.board()}|{self._marks.get(self._to_move(), '-')}"

    def _expert(self, agent: str) -> str:
        board, mark = self.board(), self._marks[agent]
        if self.expert_ties == "fixed":
            return str(tictactoe_move(board, mark) + 1)
        # one of the equally good moves, drawn from the game's seed and the board: the same
        # game replays the same way, and demonstrations from different seeds differ
        moves = tictactoe_best_moves(board, mark)
        draw = random.Random(stable_hash(f"{self._seed}|{board}")).randrange(len(moves))
        return str(moves[draw] + 1)

    def _render(self) -> str:
        board = self.board()
        return "\n".join(board[3 * r:3 * r + 3] for r in range(3))


class ConnectFourEnv(TextAECEnv):
    """Connect four (``pettingzoo.classic.connect_four_v3``) with text boards and moves.

    Agents ``player_0`` (role ``first``, disc ``X``) and ``player_1`` (role ``second``, disc
    ``O``). A move is a column number 1–7. The expert searches ``expert_depth`` plies.
    """

    metadata: ClassVar[dict[str, Any]] = {**TextAECEnv.metadata, "name": "agentgym_connect_four_v0"}

    def __init__(
        self,
        *,
        max_turns: int | None = None,
        render_mode: str | None = None,
        expert_depth: int = 4,
        invalid_moves_allowed: int | None = None,
    ) -> None:
        from pettingzoo.classic.connect_four.connect_four import raw_env

        if expert_depth < 1:
            raise ValueError(f"expert_depth must be >= 1, got {expert_depth}")
        self._inner = raw_env()
        self.possible_agents = list(self._inner.possible_agents)
        self.roles = dict(zip(self.possible_agents, ("first", "second"), strict=True))
        self._discs = dict(zip(self.possible_agents, ("X", "O"), strict=True))
        self.expert_depth = int(expert_depth)
        super().__init__(max_turns=max_turns, render_mode=render_mode,
                         invalid_moves_allowed=invalid_moves_allowed)

    def board(self) -> str:
        """The board as 42 characters: 6 rows, top row first, ``X``/``O``/``.``."""
        return "".join(".XO"[v] for v in self._inner.board)

    def _new_game(self, seed: int | None, options: dict[str, Any] | None) -> None:
        self._inner.reset(seed=seed)

    def _to_move(self) -> str:
        return self._inner.agent_selection

    def _task_id(self) -> str:
        return "connect_four/empty"

    def _instruction(self, agent: str) -> str:
        disc = self._discs[agent]
        return (
            f"You play connect four with the {disc} discs "
            f"({'first' if disc == 'X' else 'second'} to move). The board has 6 rows and 7 "
            "columns numbered 1-7; a disc falls to the lowest empty cell of its column. On your "
            "turn answer with a column number, e.g. 4. Four of your discs in a row, column or "
            "diagonal win."
        )

    def legal_actions(self, agent: str) -> list[str]:
        if agent != self._to_move():
            return []
        board = self.board()
        return [str(c + 1) for c in range(COLS) if board[c] == "."]

    def _play(self, agent: str, action: str) -> str | None:
        match = _C4_MOVE.match(clean_action(action))
        if match is None:
            return "write a column number (1-7), e.g. 4"
        col = int(match.group(1)) - 1
        if self.board()[col] != ".":
            return f"column {col + 1} is full; choose another column"
        self._inner.step(col)
        self._announce(f"{self._discs[agent]} dropped a disc in column {col + 1}.")
        if any(self._inner.terminations.values()):
            scores = {a: float(self._inner.rewards[a]) for a in self.possible_agents}
            for a, score in scores.items():
                self._give(a, "outcome", score)
            winner = [a for a, s in scores.items() if s > 0]
            self._announce(
                f"{self._discs[winner[0]]} wins." if winner else "The game is a draw."
            )
            self._finish({a: s > 0 for a, s in scores.items()})
        return None

    def _view(self, agent: str) -> str:
        board = self.board()
        rows = [" ".join(board[r * COLS:(r + 1) * COLS]) for r in range(ROWS)]
        return (
            f"You are {self._discs[agent]}. Board (top row first):\n"
            + "\n".join(rows)
            + "\n" + " ".join(str(c + 1) for c in range(COLS))
        )

    def _state_key(self, agent: str) -> str:
        return f"{self.board()}|{self._discs.get(self._to_move(), '-')}"

    def _expert(self, agent: str) -> str:
        return str(connect_four_move(self.board(), self._discs[agent], self.expert_depth) + 1)

    def _render(self) -> str:
        board = self.board()
        return "\n".join(board[r * COLS:(r + 1) * COLS] for r in range(ROWS))
