"""graphkit: weighted graphs (directed or not) and the classic algorithms on them.

Nodes are any sortable hashable values. Wherever an algorithm has a choice, it takes the
smallest node first, so every result is deterministic.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Hashable, Iterable
from typing import Any

Node = Any


class CycleError(ValueError):
    """A topological order was asked of a graph with a cycle."""


class Graph:
    """An adjacency-map graph; an undirected edge is stored in both directions.

    Args:
        directed: whether edges have a direction.
    """

    def __init__(self, directed: bool = False) -> None:
        self.directed = directed
        self._adjacent: dict[Node, dict[Node, float]] = {}

    @classmethod
    def from_edges(cls, edges: Iterable[tuple], directed: bool = False) -> Graph:
        """A graph from ``(u, v)`` or ``(u, v, weight)`` tuples."""
        graph = cls(directed)
        for edge in edges:
            graph.add_edge(*edge)
        return graph

    def add_node(self, node: Hashable) -> None:
        self._adjacent.setdefault(node, {})

    def add_edge(self, u: Node, v: Node, weight: float = 1) -> None:
        """Add (or re-weight) the edge ``u -> v`` (and ``v -> u`` when undirected)."""
        self.add_node(u)
        self.add_node(v)
        self._adjacent[u][v] = weight
        if not self.directed:
            self._adjacent[v][u] = weight

    def remove_edge(self, u: Node, v: Node) -> None:
        if v not in self._adjacent.get(u, {}):
            raise KeyError(f"no edge {u!r} -> {v!r}")
        del self._adjacent[u][v]
        if not self.directed:
            del self._adjacent[v][u]

    def has_edge(self, u: Node, v: Node) -> bool:
        return v in self._adjacent.get(u, {})

    def weight(self, u: Node, v: Node) -> float:
        return self._adjacent[u][v]

    def nodes(self) -> list[Node]:
        return sorted(self._adjacent)

    def neighbors(self, node: Node) -> list[Node]:
        """Successors of ``node``, sorted."""
        return sorted(self._adjacent[node])

    def edges(self) -> list[tuple[Node, Node, float]]:
        """``(u, v, weight)`` sorted; an undirected edge appears once, with ``u <= v``."""
        result = []
        for u in self.nodes():
            for v in self.neighbors(u):
                if self.directed or u <= v:
                    result.append((u, v, self._adjacent[u][v]))
        return result

    def degree(self, node: Node) -> int:
        """Number of edges leaving ``node`` (a self-loop counts once)."""
        return len(self._adjacent[node])

    def in_degree(self, node: Node) -> int:
        """Number of edges entering ``node``."""
        return sum(1 for targets in self._adjacent.values() if node in targets)

    def __len__(self) -> int:
        return len(self._adjacent)


class UnionFind:
    """Disjoint sets with path halving and union by size."""

    def __init__(self, items: Iterable[Node] = ()) -> None:
        self.parent: dict[Node, Node] = {}
        self.size: dict[Node, int] = {}
        for item in items:
            self.add(item)

    def add(self, item: Node) -> None:
        if item not in self.parent:
            self.parent[item] = item
            self.size[item] = 1

    def find(self, item: Node) -> Node:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: Node, b: Node) -> bool:
        """Join the sets of ``a`` and ``b``; False if they were already one set."""
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return False
        if self.size[root_a] < self.size[root_b]:
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a
        self.size[root_a] += self.size[root_b]
        return True


def bfs_order(graph: Graph, start: Node) -> list[Node]:
    """Nodes reachable from ``start`` in breadth-first order."""
    seen = {start}
    order = []
    queue = deque([start])
    while queue:
        node = queue.popleft()
        order.append(node)
        for neighbor in graph.neighbors(node):
            if neighbor not in seen:
                seen.add(neighbor)
                queue.append(neighbor)
    return order


def dfs_order(graph: Graph, start: Node) -> list[Node]:
    """Nodes reachable from ``start`` in depth-first preorder (smallest neighbor first)."""
    seen = set()
    order = []
    stack = [start]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        stack.extend(reversed(graph.neighbors(node)))
    return order


def shortest_path(graph: Graph, start: Node, goal: Node) -> list[Node] | None:
    """A path with the fewest edges from ``start`` to ``goal`` (None if unreachable)."""
    parents: dict[Node, Node | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = []
            while node is not None:
                path.append(node)
                node = parents[node]
            return path[::-1]
        for neighbor in graph.neighbors(node):
            if neighbor not in parents:
                parents[neighbor] = node
                queue.append(neighbor)
    return None


def dijkstra(graph: Graph, start: Node) -> tuple[dict[Node, float], dict[Node, Node]]:
    """Distances from ``start`` to every reachable node, and each node's predecessor.

    Raises:
        ValueError: if an edge has a negative weight.
    """
    if any(weight < 0 for _, _, weight in graph.edges()):
        raise ValueError("Dijkstra needs non-negative weights")
    distance = {start: 0}
    previous: dict[Node, Node] = {}
    heap = [(0, start)]
    done = set()
    while heap:
        cost, node = heapq.heappop(heap)
        if node in done:
            continue
        done.add(node)
        for neighbor in graph.neighbors(node):
            candidate = cost + graph.weight(node, neighbor)
            if neighbor not in distance or candidate < distance[neighbor]:
                distance[neighbor] = candidate
                previous[neighbor] = node
                heapq.heappush(heap, (candidate, neighbor))
    return distance, previous


def weighted_path(graph: Graph, start: Node, goal: Node) -> tuple[float, list[Node]] | None:
    """``(cost, path)`` of a cheapest path, or None when ``goal`` is unreachable."""
    distance, previous = dijkstra(graph, start)
    if goal not in distance:
        return None
    path = [goal]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return distance[goal], path[::-1]


def connected_components(graph: Graph) -> list[list[Node]]:
    """Components of an undirected graph: sorted lists, ordered by their smallest node."""
    if graph.directed:
        raise ValueError("connected components need an undirected graph")
    sets = UnionFind(graph.nodes())
    for u, v, _ in graph.edges():
        sets.union(u, v)
    groups: dict[Node, list[Node]] = {}
    for node in graph.nodes():
        groups.setdefault(sets.find(node), []).append(node)
    return sorted(groups.values(), key=lambda group: group[0])


def topological_sort(graph: Graph) -> list[Node]:
    """Kahn's algorithm, taking the smallest ready node first.

    Raises:
        CycleError: if the directed graph has a cycle.
    """
    if not graph.directed:
        raise ValueError("topological order needs a directed graph")
    indegree = {node: graph.in_degree(node) for node in graph.nodes()}
    ready = [node for node, count in indegree.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for neighbor in graph.neighbors(node):
            indegree[neighbor] -= 1
            if indegree[neighbor] == 0:
                heapq.heappush(ready, neighbor)
    if len(order) < len(graph):
        raise CycleError("the graph has a cycle")
    return order


def has_cycle(graph: Graph) -> bool:
    """Whether the graph has a cycle (for undirected graphs: a cycle of 3+ nodes or a loop)."""
    if graph.directed:
        try:
            topological_sort(graph)
        except CycleError:
            return True
        return False
    sets = UnionFind(graph.nodes())
    return any(not sets.union(u, v) for u, v, _ in graph.edges())


def is_bipartite(graph: Graph) -> bool:
    """Whether the nodes can be 2-coloured so that every edge joins different colours."""
    colour: dict[Node, int] = {}
    for start in graph.nodes():
        if start in colour:
            continue
        colour[start] = 0
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for neighbor in graph.neighbors(node):
                if neighbor not in colour:
                    colour[neighbor] = 1 - colour[node]
                    queue.append(neighbor)
                elif colour[neighbor] == colour[node]:
                    return False
    return True


def minimum_spanning_tree(graph: Graph) -> tuple[float, list[tuple[Node, Node, float]]]:
    """Kruskal's algorithm: ``(total weight, edges)`` of a minimum spanning forest; ties are
    broken by the edges' sorted order."""
    if graph.directed:
        raise ValueError("spanning trees need an undirected graph")
    sets = UnionFind(graph.nodes())
    chosen = []
    total = 0
    for u, v, weight in sorted(graph.edges(), key=lambda edge: (edge[2], edge[0], edge[1])):
        if sets.union(u, v):
            chosen.append((u, v, weight))
            total += weight
    return total, chosen
