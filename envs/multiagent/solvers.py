"""Game solvers behind the experts: exact minimax for tic-tac-toe, alpha-beta for connect four.

Boards use the text games' own layout (row-major, ``"."`` for empty):

* tic-tac-toe: a 9-character string, cells 1–9 are indices 0–8, marks ``"X"``/``"O"``;
* connect four: a 42-character string of 6 rows (top row first) × 7 columns, discs
  ``"X"``/``"O"``.

:func:`tictactoe_values` is exact (the whole game tree, memoized): a player who always picks a
move of best value never loses. :func:`connect_four_move` is a depth-limited negamax with
alpha-beta pruning, a centre-first move order and a window-count heuristic (Allis 1988 style);
it wins every won position within its horizon and blocks every threat it can see. The search
runs on bitboards (two ints) and is memoized by position.
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np

_TTT_LINES = (
    (0, 1, 2), (3, 4, 5), (6, 7, 8),
    (0, 3, 6), (1, 4, 7), (2, 5, 8),
    (0, 4, 8), (2, 4, 6),
)


def tictactoe_winner(board: str) -> str | None:
    """``"X"`` or ``"O"`` when that mark has three in a line, ``"draw"`` on a full board, else
    None."""
    for a, b, c in _TTT_LINES:
        if board[a] != "." and board[a] == board[b] == board[c]:
            return board[a]
    return "draw" if "." not in board else None


@cache
def _ttt_score(board: str, mark: str) -> int:
    """Score for ``mark`` to move under perfect play: ``10 − plies`` for a win in that many
    plies (sooner is better), minus that for a loss (later is better), 0 for a draw."""
    result = tictactoe_winner(board)
    if result is not None:
        # The side that just moved made the line: a loss for ``mark``, now.
        return 0 if result == "draw" else (10 if result == mark else -10)
    other = "O" if mark == "X" else "X"
    best = -100
    for i, cell in enumerate(board):
        if cell == ".":
            child = -_ttt_score(board[:i] + mark + board[i + 1:], other)
            best = max(best, child - 1 if child > 0 else child + 1 if child < 0 else 0)
    return best


def _move_scores(board: str, mark: str) -> dict[int, int]:
    other = "O" if mark == "X" else "X"
    out = {}
    for i, cell in enumerate(board):
        if cell == ".":
            score = -_ttt_score(board[:i] + mark + board[i + 1:], other)
            out[i] = score - 1 if score > 0 else score + 1 if score < 0 else 0
    return out


def tictactoe_values(board: str, mark: str) -> dict[int, int]:
    """``{cell index: value}`` of every empty cell for ``mark`` to move (+1 win, 0 draw, −1
    loss under perfect play)."""
    return {i: int(np.sign(v)) for i, v in _move_scores(board, mark).items()}


def tictactoe_best_moves(board: str, mark: str) -> list[int]:
    """Every best move (cell indices 0–8, ascending): the highest value and, among those, the
    fastest win (or slowest loss) — the moves :func:`tictactoe_move` chooses from."""
    scores = _move_scores(board, mark)
    if not scores:
        raise ValueError("no empty cell: the game is over")
    best = max(scores.values())
    return [i for i in sorted(scores) if scores[i] == best]


def tictactoe_move(board: str, mark: str) -> int:
    """A best move (cell index 0–8): the highest value, the fastest win (or slowest loss) among
    those, then the centre, corners, lowest index (deterministic)."""
    preference = {4: 0, 0: 1, 2: 1, 6: 1, 8: 1}
    return min(tictactoe_best_moves(board, mark), key=lambda i: (preference.get(i, 2), i))


# -- connect four --------------------------------------------------------------------------------
ROWS, COLS = 6, 7
_ORDER = (3, 2, 4, 1, 5, 0, 6)  # centre first: better pruning and a better tie-break
_WIN = 1_000_000


def _windows() -> list[tuple[int, int, int, int]]:
    out = []
    for r in range(ROWS):
        for c in range(COLS):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + k * dr, c + k * dc) for k in range(4)]
                if all(0 <= rr < ROWS and 0 <= cc < COLS for rr, cc in cells):
                    out.append(tuple(rr * COLS + cc for rr, cc in cells))
    return out


_WINDOWS = _windows()


def connect_four_drop(board: str, col: int, disc: str) -> str | None:
    """The board after dropping ``disc`` in column ``col`` (0–6), or None when it is full."""
    for r in range(ROWS - 1, -1, -1):
        i = r * COLS + col
        if board[i] == ".":
            return board[:i] + disc + board[i + 1:]
    return None


def connect_four_winner(board: str) -> str | None:
    """``"X"``/``"O"`` with four in a line, ``"draw"`` on a full board, else None."""
    for a, b, c, d in _WINDOWS:
        if board[a] != "." and board[a] == board[b] == board[c] == board[d]:
            return board[a]
    return "draw" if "." not in board else None


# The search runs on bitboards: bit ``col * 7 + row`` (row 0 at the bottom; the 7th bit of each
# column is a sentinel that keeps shifted lines from wrapping into the next column).
_SHIFTS = (1, 7, 6, 8)  # vertical, horizontal, two diagonals
_WINDOW_MASKS = tuple(
    sum(1 << ((i % COLS) * 7 + (ROWS - 1 - i // COLS)) for i in window) for window in _WINDOWS
)
_CENTRE_MASK = sum(1 << (3 * 7 + r) for r in range(ROWS))
_WEIGHTS = (0, 1, 4, 32)


def _won(bits: int) -> bool:
    for shift in _SHIFTS:
        pairs = bits & (bits >> shift)
        if pairs & (pairs >> (2 * shift)):
            return True
    return False


def _evaluate(me: int, opp: int) -> int:
    score = 3 * (me & _CENTRE_MASK).bit_count()
    for mask in _WINDOW_MASKS:
        mine, theirs = (me & mask).bit_count(), (opp & mask).bit_count()
        if mine and not theirs:
            score += _WEIGHTS[mine]
        elif theirs and not mine:
            score -= _WEIGHTS[theirs]
    return score


def _search(me: int, opp: int, heights: list[int], depth: int, alpha: int, beta: int) -> int:
    """Negamax value for the side to move (``me``); the other side has not won yet."""
    if depth == 0:
        return _evaluate(me, opp)
    best = None
    for col in _ORDER:
        if heights[col] >= ROWS:
            continue
        moved = me | (1 << (col * 7 + heights[col]))
        if _won(moved):
            return _WIN + depth  # a win now beats anything later
        heights[col] += 1
        value = -_search(opp, moved, heights, depth - 1, -beta, -alpha)
        heights[col] -= 1
        if best is None or value > best:
            best = value
        alpha = max(alpha, value)
        if alpha >= beta:
            break
    return 0 if best is None else best  # no move left: a draw


def _bitboards(board: str, disc: str) -> tuple[int, int, list[int]]:
    me = opp = 0
    heights = [0] * COLS
    for i, cell in enumerate(board):
        if cell == ".":
            continue
        col, row = i % COLS, ROWS - 1 - i // COLS
        bit = 1 << (col * 7 + row)
        if cell == disc:
            me |= bit
        else:
            opp |= bit
        heights[col] = max(heights[col], row + 1)
    return me, opp, heights


@lru_cache(maxsize=200_000)
def connect_four_move(board: str, disc: str, depth: int = 4) -> int:
    """The best column (0–6) for ``disc`` by negamax search ``depth`` plies deep.

    Immediate wins are taken and immediate losses blocked before searching (so the result holds
    for any ``depth >= 1``). Ties go to the column nearest the centre. Memoized.
    """
    legal = [col for col in _ORDER if board[col] == "."]
    if not legal:
        raise ValueError("every column is full: the game is over")
    me, opp, heights = _bitboards(board, disc)
    for col in legal:  # win now
        if _won(me | (1 << (col * 7 + heights[col]))):
            return col
    for col in legal:  # block the opponent's immediate win
        if _won(opp | (1 << (col * 7 + heights[col]))):
            return col
    best_col, best = legal[0], None
    bound = 10 * _WIN
    for col in legal:
        moved = me | (1 << (col * 7 + heights[col]))
        heights[col] += 1
        value = -_search(opp, moved, heights, max(depth - 1, 0), -bound, bound)
        heights[col] -= 1
        if best is None or value > best:
            best_col, best = col, value
    return best_col
