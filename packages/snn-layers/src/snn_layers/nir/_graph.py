"""Running a NIR graph's wiring: nested subgraphs inlined, nodes ordered, cycles as feedback.

NIR sums the edges that meet at a node. A cycle (``lif -> w_rec -> lif``) carries the
output of the previous time step: the edge that closes it is a *feedback* edge whose source
value is kept from one step to the next (zero at the first step).
"""

from __future__ import annotations

import nir
import torch
from snn_core.base import MemoryModule, check_multi_step_input
from torch import nn

__all__: list[str] = []


def inline_subgraphs(
    nodes: dict[str, nir.NIRNode], edges: list[tuple[str, str]]
) -> tuple[dict[str, nir.NIRNode], list[tuple[str, str]]]:
    """Replace every nested ``NIRGraph`` node ``k`` by its nodes, named ``k.name``, wired
    through its ``Input`` and ``Output`` nodes."""
    nodes, edges = dict(nodes), list(edges)
    while True:
        key = next((k for k, n in nodes.items() if isinstance(n, nir.NIRGraph)), None)
        if key is None:
            return nodes, edges
        sub = nodes.pop(key)
        inner = {f"{key}.{k}": n for k, n in sub.nodes.items()}
        entry = {f"{key}.{k}" for k, n in sub.nodes.items() if isinstance(n, nir.Input)}
        exits = {f"{key}.{k}" for k, n in sub.nodes.items() if isinstance(n, nir.Output)}
        if len(entry) != 1 or len(exits) != 1:
            raise ValueError(
                f"import_from_nir: the subgraph {key!r} needs one Input and one Output node"
            )
        (entry,), (exit_,) = entry, exits
        preds = [a for a, b in edges if b == key]
        succs = [b for a, b in edges if a == key]
        outer = [(a, b) for a, b in edges if key not in (a, b)]
        for a, b in sub.edges:
            a, b = f"{key}.{a}", f"{key}.{b}"
            sources = preds if a == entry else [a]
            targets = succs if b == exit_ else [b]
            outer += [(s, t) for s in sources for t in targets]
        del inner[entry], inner[exit_]
        nodes.update(inner)
        edges = outer


def order_nodes(
    nodes: dict[str, nir.NIRNode], edges: list[tuple[str, str]], start: str
) -> tuple[list[str], set[tuple[str, str]]]:
    """Nodes in execution order, and the feedback edges (those closing a cycle, found by a
    depth-first walk from ``start``); the order is topological without them."""
    feedback: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the walk's path, 2: done
    for root in [start, *nodes]:
        if root in state:
            continue
        stack = [(root, iter([b for a, b in edges if a == root]))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                feedback.add((node, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter([b for a, b in edges if a == child])))
    forward = [e for e in edges if e not in feedback]
    indegree = {k: 0 for k in nodes}
    for _, b in forward:
        indegree[b] += 1
    ready, order = [k for k in nodes if indegree[k] == 0], []
    while ready:
        k = ready.pop(0)
        order.append(k)
        for a, b in forward:
            if a == k:
                indegree[b] -= 1
                if indegree[b] == 0:
                    ready.append(b)
    return order, feedback


class NIRGraphModule(nn.Module):
    """Runs an acyclic NIR graph: nodes in topological order, the inputs that meet at a
    node summed. Works in either step mode (each node module keeps its own)."""

    def __init__(
        self, modules: dict[str, nn.Module], inputs: dict[str, list[str]], output: list[str]
    ):
        super().__init__()
        self.nodes = nn.ModuleDict(modules)
        self.node_inputs = inputs
        self.output_from = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {"": x}
        for name, module in self.nodes.items():
            values[name] = module(sum(values[s] for s in self.node_inputs[name]))
        return sum(values[s] for s in self.output_from)


class NIRRecurrentGraphModule(MemoryModule):
    """Runs a NIR graph with cycles one step at a time: a feedback edge delivers its
    source's output of the previous step (zero at the first step after ``reset()``).

    The node modules run in single-step mode; in step mode ``'m'`` this module loops them
    over ``T`` (``set_step_mode`` sets this module only).
    """

    keeps_submodule_step_mode = True

    def __init__(
        self,
        modules: dict[str, nn.Module],
        inputs: dict[str, list[str]],
        feedback: dict[str, list[str]],
        output: list[str],
        step_mode: str = "s",
    ) -> None:
        super().__init__()
        self.nodes = nn.ModuleDict(modules)
        self.node_inputs = inputs
        self.node_feedback = feedback
        self.output_from = output
        self.step_mode = step_mode
        self.register_memory("previous", None)  # {source: its output at the last step}

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {"": x}
        previous = self.previous or {}
        for name, module in self.nodes.items():
            terms = [values[s] for s in self.node_inputs[name]]
            terms += [previous[s] for s in self.node_feedback[name] if s in previous]
            values[name] = module(sum(terms))
        sources = {s for srcs in self.node_feedback.values() for s in srcs}
        self.previous = {s: values[s] for s in sources}
        return sum(values[s] for s in self.output_from)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        check_multi_step_input(x_seq)
        return torch.stack([self.single_step_forward(x) for x in x_seq])

    def detach(self) -> None:
        super().detach()
        if self.previous:
            self.previous = {k: v.detach() for k, v in self.previous.items()}
