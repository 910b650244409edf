"""Sokoban levels: text format, seeded generation by reverse play, and an optimal solver.

A level is a rectangular grid stored row-major in flat lists (cell ``i`` is row ``i // width``,
column ``i % width``); moving up/down/left/right adds ``-width, +width, -1, +1`` to a cell
index. Every level is enclosed by walls, so a move never leaves the grid.

Text format (one character per cell; spaces and tabs between cells are ignored). The first
symbol of each pair is the one agentgym renders (the gym-sokoban / verl-agent text legend), the
second the classic XSB symbol, also accepted on input:

=========================  ======  ======
cell                       ours    XSB
=========================  ======  ======
wall                       ``#``   ``#``
floor                      ``_``   ``-``
goal                       ``O``   ``.``
box                        ``X``   ``$``
box on a goal              ``√``   ``*``
player                     ``P``   ``@``
player on a goal           ``S``   ``+``
=========================  ======  ======

Generation follows gym-sokoban (Schrader, "gym-sokoban", 2018; itself after Weber et al.,
"Imagination-Augmented Agents", 2017): carve a random room topology, put boxes on goals, then
play *backwards* (the player pulls boxes) from the solved state. Here the reverse play is
exhaustive: a breadth-first search over reverse moves from every solved state gives, for every
state within ``max_depth`` reverse moves, its exact optimal forward solution length in moves.
The start state is drawn from the states whose optimal solution length lies in a configured
range, so every generated level is solvable within a known bound, and the same table answers
the expert in O(1) per step. States outside the table (the agent wandered off) are solved by
A* (:func:`solve`) with a dead-square-aware admissible heuristic.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Sequence
from dataclasses import dataclass

#: Action words in index order; offsets are ``(-width, +width, -1, +1)``.
ACTIONS: tuple[str, ...] = ("up", "down", "left", "right")

WALL, FLOOR, GOAL, BOX, BOX_ON_GOAL, PLAYER, PLAYER_ON_GOAL = "#", "_", "O", "X", "√", "P", "S"

#: Human-readable legend of the rendered symbols.
LEGEND = (
    f"{WALL} wall, {FLOOR} floor, {GOAL} goal, {BOX} box, {BOX_ON_GOAL} box on a goal, "
    f"{PLAYER} you (the player), {PLAYER_ON_GOAL} you standing on a goal"
)

# symbol -> (is_wall, is_goal, has_box, has_player)
_SYMBOLS: dict[str, tuple[bool, bool, bool, bool]] = {
    "#": (True, False, False, False),
    "_": (False, False, False, False),
    "-": (False, False, False, False),
    "O": (False, True, False, False),
    ".": (False, True, False, False),
    "X": (False, False, True, False),
    "$": (False, False, True, False),
    "√": (False, True, True, False),
    "*": (False, True, True, False),
    "P": (False, False, False, True),
    "@": (False, False, False, True),
    "S": (False, True, False, True),
    "+": (False, True, False, True),
}

#: A search state: (player cell, sorted tuple of box cells).
State = tuple[int, tuple[int, ...]]


@dataclass(frozen=True)
class Level:
    """One Sokoban level.

    Attributes:
        height, width: grid size in cells (walls included).
        walls: ``height * width`` flags, row-major; the border is all walls.
        goals: sorted goal cells.
        boxes: sorted box cells (``len(boxes) == len(goals)``).
        player: the player's cell.
    """

    height: int
    width: int
    walls: tuple[bool, ...]
    goals: tuple[int, ...]
    boxes: tuple[int, ...]
    player: int

    @property
    def state(self) -> State:
        return (self.player, self.boxes)

    @property
    def offsets(self) -> tuple[int, int, int, int]:
        return (-self.width, self.width, -1, 1)

    def cell_char(self, cell: int, player: int, boxes: Sequence[int]) -> str:
        """The symbol of ``cell`` with the player on ``player`` and boxes on ``boxes``."""
        return _cell_char(self.walls[cell], cell in self.goals, cell in boxes, cell == player)

    def to_text(self, state: State | None = None, sep: str = " ") -> str:
        """Render the level (or ``state`` on this level's walls and goals) as text rows."""
        player, boxes = state if state is not None else self.state
        box_set, goal_set = set(boxes), set(self.goals)
        rows = []
        for r in range(self.height):
            row = [
                _cell_char(self.walls[i], i in goal_set, i in box_set, i == player)
                for i in range(r * self.width, (r + 1) * self.width)
            ]
            rows.append(sep.join(row))
        return "\n".join(rows)

    @property
    def level_id(self) -> str:
        """A stable 16-hex-digit digest of the level (same level => same id, in any process)."""
        return hashlib.blake2b(self.to_text(sep="").encode(), digest_size=8).hexdigest()


def _cell_char(wall: bool, goal: bool, box: bool, player: bool) -> str:
    if wall:
        return WALL
    if player:
        return PLAYER_ON_GOAL if goal else PLAYER
    if box:
        return BOX_ON_GOAL if goal else BOX
    return GOAL if goal else FLOOR


def parse_level(text: str) -> Level:
    """Parse a level from text (see the module docstring for the symbols).

    Blank lines and spaces/tabs between cells are ignored; short rows are padded with walls, and
    a ring of walls is added when the border is not all walls.

    Raises:
        ValueError: on an unknown symbol, not exactly one player, no boxes, or a number of boxes
            different from the number of goals.
    """
    if not isinstance(text, str):
        raise ValueError(f"a Sokoban level must be a str, got {type(text).__name__}")
    rows = [line.replace(" ", "").replace("\t", "") for line in text.splitlines()]
    rows = [row for row in rows if row]
    if not rows:
        raise ValueError("empty Sokoban level")
    width = max(len(row) for row in rows)
    grid = [row + WALL * (width - len(row)) for row in rows]
    border = grid[0] + grid[-1] + "".join(row[0] + row[-1] for row in grid)
    if any(ch != WALL for ch in border):
        grid = [WALL * (width + 2)] + [WALL + row + WALL for row in grid] + [WALL * (width + 2)]
        width += 2
    walls: list[bool] = []
    goals: list[int] = []
    boxes: list[int] = []
    players: list[int] = []
    for r, row in enumerate(grid):
        for c, ch in enumerate(row):
            if ch not in _SYMBOLS:
                raise ValueError(
                    f"unknown symbol {ch!r} at row {r}, column {c}; use {LEGEND} "
                    "(or the XSB symbols # - . $ * @ +)"
                )
            is_wall, is_goal, has_box, has_player = _SYMBOLS[ch]
            cell = r * width + c
            walls.append(is_wall)
            if is_goal:
                goals.append(cell)
            if has_box:
                boxes.append(cell)
            if has_player:
                players.append(cell)
    if len(players) != 1:
        raise ValueError(f"a Sokoban level needs exactly one player, found {len(players)}")
    if not boxes:
        raise ValueError("a Sokoban level needs at least one box")
    if len(boxes) != len(goals):
        raise ValueError(
            f"a Sokoban level needs as many goals as boxes, found {len(boxes)} boxes and "
            f"{len(goals)} goals"
        )
    return Level(len(grid), width, tuple(walls), tuple(goals), tuple(boxes), players[0])


# --- dynamics ----------------------------------------------------------------------------------
def forward(walls: Sequence[bool], state: State, offset: int) -> State | None:
    """The state after moving by ``offset`` (pushing a box if one is in the way), or None when
    the move is blocked (wall, or a box with a wall or box behind it)."""
    player, boxes = state
    target = player + offset
    if walls[target]:
        return None
    if target in boxes:
        behind = target + offset
        if walls[behind] or behind in boxes:
            return None
        moved = tuple(sorted(behind if b == target else b for b in boxes))
        return (target, moved)
    return (target, boxes)


def push_distances(walls: Sequence[bool], width: int, goals: Sequence[int]) -> list[float]:
    """Fewest pushes that bring a lone box from each cell onto some goal (``inf``: a dead square).

    Multi-source BFS over pulls: a box on ``c`` can be pushed to its neighbour ``c - d`` when the
    player can stand on ``c + d``.
    """
    inf = float("inf")
    dist = [inf] * len(walls)
    frontier = list(goals)
    for g in goals:
        dist[g] = 0
    steps = 0
    while frontier:
        steps += 1
        nxt = []
        for cell in frontier:
            for d in (-width, width, -1, 1):
                src, stand = cell + d, cell + 2 * d
                if (
                    0 <= stand < len(walls)
                    and not walls[src]
                    and not walls[stand]
                    and dist[src] == inf
                ):
                    dist[src] = steps
                    nxt.append(src)
        frontier = nxt
    return dist


def reverse_distances(
    walls: Sequence[bool],
    width: int,
    goals: Sequence[int],
    max_depth: int,
    max_states: int = 500_000,
) -> dict[State, int]:
    """Optimal solution length (in moves) of every state within ``max_depth`` of being solved.

    Breadth-first search backwards from every solved state (boxes on all goals, player on any
    free floor cell). The reverse of a move by ``d`` from ``p`` puts the player back on
    ``p - d``; the reverse of a push also pulls the box on ``p + d`` onto ``p``.

    Args:
        walls: wall flags (row-major, border all walls).
        width: grid width.
        goals: goal cells (one box per goal).
        max_depth: deepest distance explored.
        max_states: stop growing the table beyond this many states (distances found stay exact;
            deeper states are then simply missing).

    Returns:
        ``{(player, boxes): moves}``; a state is present iff it can be solved in at most
        ``max_depth`` moves (or the table was capped). Insertion order is deterministic.
    """
    solved = tuple(sorted(goals))
    goal_set = set(solved)
    offsets = (-width, width, -1, 1)
    dist: dict[State, int] = {}
    frontier: list[State] = []
    for cell, wall in enumerate(walls):
        if not wall and cell not in goal_set:
            state = (cell, solved)
            dist[state] = 0
            frontier.append(state)
    depth = 0
    while frontier and depth < max_depth and len(dist) < max_states:
        depth += 1
        nxt: list[State] = []
        for player, boxes in frontier:
            for d in offsets:
                back = player - d
                if walls[back] or back in boxes:
                    continue
                state = (back, boxes)
                if state not in dist:
                    dist[state] = depth
                    nxt.append(state)
                pulled = player + d
                if pulled in boxes:
                    state = (back, tuple(sorted(player if b == pulled else b for b in boxes)))
                    if state not in dist:
                        dist[state] = depth
                        nxt.append(state)
        frontier = nxt
    return dist


def solve(
    walls: Sequence[bool],
    width: int,
    goals: Sequence[int],
    start: State,
    max_nodes: int = 200_000,
    pushes: Sequence[float] | None = None,
) -> list[int] | None:
    """An optimal move sequence (action indices) from ``start`` to a solved state, by A*.

    The heuristic, the sum over boxes of the fewest pushes to the nearest goal
    (:func:`push_distances`), is admissible since every push is a move; a box on a dead square
    prunes the state.

    Returns:
        The action indices (into :data:`ACTIONS`), ``[]`` when already solved, or None when the
        state is unsolvable or ``max_nodes`` expansions did not find a solution.
    """
    if pushes is None:
        pushes = push_distances(walls, width, goals)
    goal_set = set(goals)
    offsets = (-width, width, -1, 1)

    def h(boxes: tuple[int, ...]) -> float:
        return sum(pushes[b] for b in boxes)

    h0 = h(start[1])
    if h0 == float("inf"):
        return None
    parent: dict[State, tuple[State, int] | None] = {start: None}
    best_g: dict[State, int] = {start: 0}
    heap: list[tuple[float, int, int, State]] = [(h0, 0, 0, start)]
    counter = 0
    expanded = 0
    while heap:
        _, g, _, state = heapq.heappop(heap)
        if g > best_g[state]:
            continue
        if all(b in goal_set for b in state[1]):
            path: list[int] = []
            link = parent[state]
            while link is not None:
                state, action = link
                path.append(action)
                link = parent[state]
            return path[::-1]
        expanded += 1
        if expanded > max_nodes:
            return None
        for action, d in enumerate(offsets):
            nxt = forward(walls, state, d)
            if nxt is None:
                continue
            ng = g + 1
            if ng >= best_g.get(nxt, ng + 1):
                continue
            hn = h(nxt[1])
            if hn == float("inf"):
                continue
            best_g[nxt] = ng
            parent[nxt] = (state, action)
            counter += 1
            heapq.heappush(heap, (ng + hn, ng, counter, nxt))
    return None


# --- generation --------------------------------------------------------------------------------
#: Carving patterns of the random walk (cell offsets (dr, dc) around the walker).
_MASKS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0, -1), (0, 0), (0, 1)),
    ((-1, 0), (0, 0), (1, 0)),
    ((0, -1), (0, 0), (1, 0)),
    ((0, -1), (0, 0), (1, -1), (1, 0)),
    ((0, 0), (0, 1), (1, 0)),
)
_DIRECTIONS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def room_topology(rng: random.Random, height: int, width: int, num_steps: int) -> list[bool]:
    """Wall flags of a random connected room: a random walk carving small patterns of floor.

    After gym-sokoban's ``room_topology_generation``: the walker changes direction with
    probability 0.35 per step; the border always stays wall.
    """
    walls = [True] * (height * width)
    r, c = rng.randrange(1, height - 1), rng.randrange(1, width - 1)
    dr, dc = rng.choice(_DIRECTIONS)
    for _ in range(num_steps):
        for mr, mc in rng.choice(_MASKS):
            rr, cc = r + mr, c + mc
            if 1 <= rr < height - 1 and 1 <= cc < width - 1:
                walls[rr * width + cc] = False
        if rng.random() < 0.35:
            dr, dc = rng.choice(_DIRECTIONS)
        r = min(max(r + dr, 1), height - 2)
        c = min(max(c + dc, 1), width - 2)
    return walls


@dataclass(frozen=True)
class GeneratedLevel:
    """A generated level with its solution-length table (see :func:`reverse_distances`)."""

    level: Level
    distances: dict[State, int]
    solution_length: int
    attempts: int


def generate_level(
    rng: random.Random,
    dim_room: tuple[int, int] = (6, 6),
    num_boxes: int = 1,
    *,
    min_solution_steps: int = 4,
    max_solution_steps: int = 20,
    max_tries: int = 200,
) -> GeneratedLevel:
    """Generate a solvable level whose optimal solution takes between the given move bounds.

    1. Carve a random room (:func:`room_topology`) with ``1.7 * (h + w)`` walk steps.
    2. Pick ``num_boxes`` goal cells, boxes on them (the solved state).
    3. Reverse play exhaustively (:func:`reverse_distances`, depth ``max_solution_steps``).
    4. Among states with no box on a goal and an optimal solution of ``min_solution_steps`` to
       ``max_solution_steps`` moves, draw one with probability proportional to its box
       displacement (the summed push distance of its boxes to the nearest goal), so levels
       where boxes travel far are preferred, as gym-sokoban prefers high box displacement.

    Rooms with no such state (too small, goals stuck in corners) are discarded and redrawn.

    Raises:
        ValueError: when the room cannot hold ``num_boxes`` boxes, or no valid level is found
            in ``max_tries`` rooms (the bounds are too tight for this size).
    """
    height, width = int(dim_room[0]), int(dim_room[1])
    interior = (height - 2) * (width - 2)
    if height < 3 or width < 3 or interior < num_boxes + 2 or num_boxes < 1:
        raise ValueError(
            f"dim_room={dim_room} cannot hold num_boxes={num_boxes}: the interior (walls excluded) "
            "needs at least num_boxes + 2 cells, and num_boxes must be >= 1"
        )
    if not 1 <= min_solution_steps <= max_solution_steps:
        raise ValueError(
            f"need 1 <= min_solution_steps ({min_solution_steps}) <= max_solution_steps "
            f"({max_solution_steps})"
        )
    num_steps = int(1.7 * (height + width))
    for attempt in range(1, max_tries + 1):
        walls = room_topology(rng, height, width, num_steps)
        floor = [i for i, wall in enumerate(walls) if not wall]
        if len(floor) < num_boxes + 2:
            continue
        goals = tuple(sorted(rng.sample(floor, num_boxes)))
        goal_set = set(goals)
        pushes = push_distances(walls, width, goals)
        table = reverse_distances(walls, width, goals, max_solution_steps)
        candidates: list[State] = []
        weights: list[float] = []
        for state, moves in table.items():
            if moves >= min_solution_steps and not any(b in goal_set for b in state[1]):
                candidates.append(state)
                weights.append(sum(pushes[b] for b in state[1]))
        if not candidates:
            continue
        player, boxes = rng.choices(candidates, weights=weights)[0]
        level = Level(height, width, tuple(walls), goals, boxes, player)
        return GeneratedLevel(level, table, table[(player, boxes)], attempt)
    raise ValueError(
        f"no Sokoban level with dim_room={dim_room}, num_boxes={num_boxes} and an optimal "
        f"solution of {min_solution_steps}..{max_solution_steps} moves found in {max_tries} rooms; "
        "loosen the bounds"
    )


__all__ = [
    "ACTIONS",
    "LEGEND",
    "GeneratedLevel",
    "Level",
    "State",
    "forward",
    "generate_level",
    "parse_level",
    "push_distances",
    "reverse_distances",
    "room_topology",
    "solve",
]
