"""Tests of graphkit."""

import pytest
from graphkit import (
    CycleError,
    Graph,
    UnionFind,
    bfs_order,
    connected_components,
    dfs_order,
    dijkstra,
    has_cycle,
    is_bipartite,
    minimum_spanning_tree,
    shortest_path,
    topological_sort,
    weighted_path,
)


def square_with_tail() -> Graph:
    """a-b, a-c, b-d, c-d (a 4-cycle), d-e; a separate edge f-g; an isolated node h."""
    graph = Graph.from_edges([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e"),
                              ("f", "g")])
    graph.add_node("h")
    return graph


def chores() -> Graph:
    """wake -> shop -> cook -> eat -> wash, and wake -> cook."""
    return Graph.from_edges([("shop", "cook"), ("cook", "eat"), ("wake", "shop"),
                             ("wake", "cook"), ("eat", "wash")], directed=True)


def roads() -> Graph:
    """Weighted undirected: A-B 4, A-C 1, C-B 2, B-D 1, C-D 5, D-E 3."""
    return Graph.from_edges([("A", "B", 4), ("A", "C", 1), ("C", "B", 2), ("B", "D", 1),
                             ("C", "D", 5), ("D", "E", 3)])


def test_nodes_and_neighbors_are_sorted():
    """nodes() and neighbors() are sorted; undirected edges go both ways."""
    graph = square_with_tail()
    assert graph.nodes() == ["a", "b", "c", "d", "e", "f", "g", "h"]
    assert graph.neighbors("a") == ["b", "c"]
    assert graph.neighbors("d") == ["b", "c", "e"]
    assert graph.neighbors("h") == []


def test_degrees():
    """Undirected degree counts every edge at the node; directed graphs count in and out."""
    graph = square_with_tail()
    assert graph.degree("d") == 3 and graph.degree("h") == 0
    directed = chores()
    assert directed.degree("wake") == 2 and directed.in_degree("wake") == 0
    assert directed.in_degree("cook") == 2 and directed.degree("cook") == 1


def test_len_counts_nodes():
    """len() is the number of nodes, isolated ones included."""
    assert len(square_with_tail()) == 8


def test_undirected_edges_listed_once():
    """Each undirected edge is listed once, smaller end first."""
    assert square_with_tail().edges() == [
        ("a", "b", 1), ("a", "c", 1), ("b", "d", 1), ("c", "d", 1), ("d", "e", 1),
        ("f", "g", 1)]


def test_directed_edges_keep_direction():
    """A directed edge exists one way only."""
    graph = chores()
    assert graph.has_edge("wake", "shop") and not graph.has_edge("shop", "wake")
    assert ("wake", "cook", 1) in graph.edges() and len(graph.edges()) == 5


def test_add_edge_reweights():
    """Adding an existing edge replaces its weight in both directions."""
    graph = roads()
    graph.add_edge("B", "A", 9)
    assert graph.weight("A", "B") == 9 and graph.weight("B", "A") == 9


def test_remove_edge():
    """Removing an undirected edge removes both directions; a missing edge is a KeyError."""
    graph = square_with_tail()
    graph.remove_edge("b", "a")
    assert not graph.has_edge("a", "b") and not graph.has_edge("b", "a")
    assert graph.neighbors("a") == ["c"]
    with pytest.raises(KeyError):
        graph.remove_edge("a", "b")


def test_remove_directed_edge_keeps_reverse():
    """Removing u -> v leaves v -> u in a directed graph."""
    graph = Graph.from_edges([(1, 2), (2, 1)], directed=True)
    graph.remove_edge(1, 2)
    assert not graph.has_edge(1, 2) and graph.has_edge(2, 1)


def test_union_find():
    """union joins sets once; find returns a common root."""
    sets = UnionFind("abcd")
    assert sets.union("a", "b")
    assert not sets.union("b", "a")
    assert sets.find("a") == sets.find("b")
    assert sets.find("c") != sets.find("a")


def test_union_find_by_size():
    """The smaller set is attached below the larger set's root."""
    sets = UnionFind("abcde")
    sets.union("a", "b")
    sets.union("c", "a")
    assert sets.find("c") == "a"
    assert sets.size["a"] == 3


def test_bfs_order():
    """Breadth-first from a: a, then b and c, then d, then e."""
    assert bfs_order(square_with_tail(), "a") == ["a", "b", "c", "d", "e"]


def test_dfs_order():
    """Depth-first from a goes a, b, d, then c before e."""
    assert dfs_order(square_with_tail(), "a") == ["a", "b", "d", "c", "e"]


def test_traversal_of_isolated_node():
    """An isolated node reaches only itself."""
    graph = square_with_tail()
    assert bfs_order(graph, "h") == ["h"] and dfs_order(graph, "h") == ["h"]


def test_directed_traversal_follows_direction():
    """From cook only eat and wash are reachable."""
    assert bfs_order(chores(), "cook") == ["cook", "eat", "wash"]
    assert dfs_order(chores(), "wake") == ["wake", "cook", "eat", "wash", "shop"]


def test_shortest_path():
    """The fewest-edge path from a to e is a, b, d, e."""
    assert shortest_path(square_with_tail(), "a", "e") == ["a", "b", "d", "e"]


def test_shortest_path_trivial_and_unreachable():
    """A node's path to itself is itself; unreachable goals give None."""
    graph = square_with_tail()
    assert shortest_path(graph, "a", "a") == ["a"]
    assert shortest_path(graph, "a", "f") is None


def test_shortest_path_directed():
    """wake reaches eat in two edges through cook; eat cannot reach wake."""
    assert shortest_path(chores(), "wake", "eat") == ["wake", "cook", "eat"]
    assert shortest_path(chores(), "eat", "wake") is None


def test_dijkstra_distances():
    """From A: C 1, B 3 (via C), D 4, E 7."""
    distance, previous = dijkstra(roads(), "A")
    assert distance == {"A": 0, "C": 1, "B": 3, "D": 4, "E": 7}
    assert previous["B"] == "C" and previous["D"] == "B"


def test_weighted_path():
    """The cheapest A-E path costs 7 and goes A, C, B, D, E."""
    assert weighted_path(roads(), "A", "E") == (7, ["A", "C", "B", "D", "E"])


def test_weighted_path_to_itself_and_unreachable():
    """The path from A to A costs 0; an isolated node is unreachable."""
    graph = roads()
    graph.add_node("Z")
    assert weighted_path(graph, "A", "A") == (0, ["A"])
    assert weighted_path(graph, "A", "Z") is None


def test_weighted_path_directed():
    """1->3->2->4 costs 3 + 4 + 2 = 9, cheaper than 1->2 (10) or 1->3->4 (11)."""
    graph = Graph.from_edges([(1, 2, 10), (1, 3, 3), (3, 2, 4), (2, 4, 2), (3, 4, 8)],
                             directed=True)
    assert weighted_path(graph, 1, 4) == (9, [1, 3, 2, 4])
    assert weighted_path(graph, 4, 1) is None


def test_dijkstra_rejects_negative_weights():
    """Negative weights are refused."""
    with pytest.raises(ValueError):
        dijkstra(Graph.from_edges([(1, 2, -1)]), 1)


def test_connected_components():
    """Three components, each sorted, ordered by their smallest node."""
    assert connected_components(square_with_tail()) == [
        ["a", "b", "c", "d", "e"], ["f", "g"], ["h"]]


def test_connected_components_need_undirected():
    """Directed graphs are refused."""
    with pytest.raises(ValueError):
        connected_components(chores())


def test_topological_sort():
    """Kahn's order with the smallest ready node first."""
    assert topological_sort(chores()) == ["wake", "shop", "cook", "eat", "wash"]


def test_topological_sort_ties_and_isolated_nodes():
    """1 and 2 both precede 3; 5 has no edges and comes last by name."""
    graph = Graph.from_edges([(1, 3), (2, 3), (3, 4)], directed=True)
    graph.add_node(5)
    assert topological_sort(graph) == [1, 2, 3, 4, 5]


def test_topological_sort_detects_cycle():
    """A cycle makes a topological order impossible."""
    graph = chores()
    graph.add_edge("eat", "shop")
    with pytest.raises(CycleError):
        topological_sort(graph)


def test_topological_sort_needs_directed():
    """Undirected graphs are refused."""
    with pytest.raises(ValueError):
        topological_sort(square_with_tail())


def test_has_cycle_directed():
    """The chores have no cycle until eat -> shop is added; a self-loop is a cycle."""
    graph = chores()
    assert not has_cycle(graph)
    graph.add_edge("eat", "shop")
    assert has_cycle(graph)
    assert has_cycle(Graph.from_edges([(1, 1)], directed=True))


def test_has_cycle_undirected():
    """The square is a cycle; without one of its edges the graph is a forest."""
    graph = square_with_tail()
    assert has_cycle(graph)
    graph.remove_edge("c", "d")
    assert not has_cycle(graph)


def test_has_cycle_undirected_self_loop():
    """An undirected self-loop is a cycle."""
    assert has_cycle(Graph.from_edges([(1, 2), (2, 2)]))


def test_is_bipartite():
    """An even cycle is bipartite; a triangle is not; adding a diagonal to the square breaks
    it."""
    graph = square_with_tail()
    assert is_bipartite(graph)
    assert not is_bipartite(Graph.from_edges([(1, 2), (2, 3), (3, 1)]))
    graph.add_edge("a", "d")
    assert not is_bipartite(graph)


def test_is_bipartite_checks_every_component():
    """A triangle in a second component is found too."""
    graph = Graph.from_edges([(1, 2), (5, 6), (6, 7), (7, 5)])
    assert not is_bipartite(graph)
    assert is_bipartite(Graph())


def test_minimum_spanning_tree():
    """Kruskal picks A-C, B-D, B-C and D-E for a total of 7."""
    total, edges = minimum_spanning_tree(roads())
    assert total == 7
    assert edges == [("A", "C", 1), ("B", "D", 1), ("B", "C", 2), ("D", "E", 3)]


def test_minimum_spanning_forest():
    """A disconnected graph gets a spanning forest: one tree per component."""
    graph = Graph.from_edges([(1, 2, 5), (2, 3, 1), (1, 3, 2), (7, 8, 4)])
    assert minimum_spanning_tree(graph) == (7, [(2, 3, 1), (1, 3, 2), (7, 8, 4)])


def test_minimum_spanning_tree_needs_undirected():
    """Directed graphs are refused."""
    with pytest.raises(ValueError):
        minimum_spanning_tree(chores())
