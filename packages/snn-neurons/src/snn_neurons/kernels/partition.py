"""Choose what the forward kernel saves for the backward kernel (a minimum cut).

The backward of one step needs some forward values (e.g. ``H[t]`` for the surrogate
derivative). Anything computable from saved values and the scalar parameters is recomputed
in the backward kernel instead of stored, so the forward saves a smallest set of per-step
values: a minimum vertex cut between the step's inputs and the forward values that the
backward reads. Saving an input sequence (or a random-number sequence) costs no extra write
and is preferred on ties.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from snn_neurons.kernels.ir import StepGraph

__all__ = ["Plan", "make_plan", "closure"]

_INF = 1 << 30
_COST_REUSED = 2  # an input / random sequence already in memory
_COST_STORED = 3  # a value the forward kernel must write


@dataclass(frozen=True)
class Plan:
    """What forward computes and saves, and what backward produces, for one grad set."""

    graph: StepGraph
    grad_slots: tuple[tuple[str, int], ...]  # ('seq'|'state'|'param', index), in that order
    saved: tuple[int, ...]  # node indices saved by the forward kernel for the backward one

    def saved_source(self, i: int) -> tuple[str, int] | None:
        """``('seq', k)`` / ``('rand', k)`` if saved node ``i`` is an input sequence itself."""
        node = self.graph.nodes[i]
        if node.op == "input" and node.value[0] in ("seq", "rand"):  # type: ignore[index]
            return node.value  # type: ignore[return-value]
        return None


def closure(graph: StepGraph, roots: Iterable[int], stop: Iterable[int] = ()) -> list[int]:
    """Indices of the nodes needed for ``roots`` (not looking past ``stop``), in order."""
    stop_set = set(stop)
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        if i not in stop_set:
            stack.extend(graph.nodes[i].args)
    return sorted(seen)


def _tangent_dependent(graph: StepGraph) -> list[bool]:
    out: list[bool] = []
    for node in graph.nodes:
        is_tangent = node.op == "input" and node.value[0] == "tangent"  # type: ignore[index]
        out.append(is_tangent or any(out[a] for a in node.args))
    return out


def make_plan(graph: StepGraph, grad_slots: Sequence[tuple[str, int]]) -> Plan:
    """The plan computing the gradients ``grad_slots`` with a minimum of saved values."""
    slots = tuple(s for s in grad_slots if s in graph.grads)
    roots = [graph.grads[s] for s in slots]
    roots = [r for r in roots if r is not None]
    tangent = _tangent_dependent(graph)
    nodes = graph.nodes
    bwd = closure(graph, roots)
    # forward values read by the backward part (uniform values are recomputed for free)
    boundary: set[int] = set()
    for i in bwd:
        if tangent[i]:
            boundary.update(a for a in nodes[i].args if not tangent[a] and not nodes[a].uniform)
        elif i in roots and not nodes[i].uniform:
            boundary.add(i)
    saved = _min_cut(graph, boundary) if boundary else []
    return Plan(graph, slots, tuple(sorted(saved)))


def _min_cut(graph: StepGraph, boundary: set[int]) -> list[int]:
    nodes = graph.nodes
    region = [i for i in closure(graph, boundary) if not nodes[i].uniform]
    cap: dict[object, dict[object, int]] = {"S": {}, "T": {}}

    def edge(a: object, b: object, c: int) -> None:
        cap.setdefault(a, {})
        cap.setdefault(b, {})
        cap[a][b] = cap[a].get(b, 0) + c
        cap[b].setdefault(a, 0)

    for i in region:
        node = nodes[i]
        is_input = node.op == "input"
        reused = is_input and node.value[0] in ("seq", "rand")  # type: ignore[index]
        edge(("in", i), ("out", i), _COST_REUSED if reused else _COST_STORED)
        if is_input:
            edge("S", ("in", i), _INF)
        for a in node.args:
            if not nodes[a].uniform:
                edge(("out", a), ("in", i), _INF)
        if i in boundary:
            edge(("out", i), "T", _INF)
    _max_flow(cap, "S", "T")
    reach = _reachable(cap, "S")
    return [i for i in region if ("in", i) in reach and ("out", i) not in reach]


def _max_flow(cap: dict[object, dict[object, int]], s: object, t: object) -> None:
    """Edmonds-Karp on residual capacities ``cap`` (updated in place)."""
    while True:
        parent: dict[object, object] = {s: s}
        queue = deque([s])
        while queue and t not in parent:
            u = queue.popleft()
            for v, c in cap[u].items():
                if c > 0 and v not in parent:
                    parent[v] = u
                    queue.append(v)
        if t not in parent:
            return
        path, v = [], t
        while v != s:
            path.append((parent[v], v))
            v = parent[v]
        push = min(cap[u][v] for u, v in path)
        for u, v in path:
            cap[u][v] -= push
            cap[v][u] += push


def _reachable(cap: dict[object, dict[object, int]], s: object) -> set[object]:
    seen = {s}
    queue = deque([s])
    while queue:
        u = queue.popleft()
        for v, c in cap[u].items():
            if c > 0 and v not in seen:
                seen.add(v)
                queue.append(v)
    return seen
