"""The argument lists of the generated forward and backward kernels.

Both code generators and the launcher agree on these lists. Every tensor is flattened to
``[T, N]`` (sequences) or ``[N]`` (initial states, per-neuron results); parameters are
one-element tensors. Each kernel takes the tensors in the order below, then ``N`` and ``T``.

Forward: ``in{i}`` inputs, ``rnd{k}`` uniform random numbers, ``init{j}`` initial states,
``par{p}`` parameters, ``out{o}`` outputs, ``st{j}`` states (a ``[T, N]`` sequence or the
``[N]`` last state), ``sav{k}`` float32 values saved for backward.

Backward: the saved values (``in{i}`` / ``rnd{k}`` reused, ``sav{k}`` stored), ``par{p}``,
``gout{o}`` / ``gst{j}`` incoming gradients (where present), then ``gin{i}``, ``ginit{j}``
and ``gpar{p}`` (per-block or per-neuron partial sums, summed by the caller).
"""

from __future__ import annotations

from dataclasses import dataclass

from snn_neurons.kernels.partition import Plan

__all__ = ["Arg", "KernelLayout", "forward_layout", "backward_layout"]


@dataclass(frozen=True)
class Arg:
    """One pointer argument: ``name``, what it holds and whether it is a ``[T, N]`` sequence."""

    name: str
    role: str  # in, rnd, init, par, out, st, sav, gout, gst, gin, ginit, gpar
    index: int
    seq: bool
    node: int | None = None  # for saved values: the graph node


@dataclass(frozen=True)
class KernelLayout:
    """A kernel's arguments and the choices it was generated for."""

    direction: str  # 'fwd' or 'bwd'
    plan: Plan
    state_seq: tuple[bool, ...]
    args: tuple[Arg, ...]
    tangents: tuple[bool, ...] = ()  # backward: which incoming gradients are present

    def arg(self, role: str, index: int) -> Arg | None:
        for a in self.args:
            if a.role == role and a.index == index:
                return a
        return None

    def stored_saved(self) -> list[Arg]:
        return [a for a in self.args if a.role == "sav"]


def forward_layout(plan: Plan, state_seq: tuple[bool, ...], save: bool) -> KernelLayout:
    """Forward kernel arguments; ``save`` adds the buffers of values saved for backward."""
    g = plan.graph
    args = [Arg(f"in{i}", "in", i, True) for i in range(g.num_inputs)]
    args += [Arg(f"rnd{k}", "rnd", k, True) for k in range(g.num_rand)]
    args += [Arg(f"init{j}", "init", j, False) for j in range(g.num_states)]
    args += [Arg(f"par{p}", "par", p, False) for p in range(g.num_params)]
    args += [Arg(f"out{o}", "out", o, True) for o in range(g.num_outputs)]
    args += [Arg(f"st{j}", "st", j, state_seq[j]) for j in range(g.num_states)]
    if save:
        stored = [i for i in plan.saved if plan.saved_source(i) is None]
        args += [Arg(f"sav{k}", "sav", k, True, node) for k, node in enumerate(stored)]
    return KernelLayout("fwd", plan, state_seq, tuple(args))


def backward_layout(
    plan: Plan, state_seq: tuple[bool, ...], tangents: tuple[bool, ...]
) -> KernelLayout:
    """Backward kernel arguments for the incoming gradients marked present in ``tangents``."""
    g = plan.graph
    args: list[Arg] = []
    stored = 0
    for node in plan.saved:
        src = plan.saved_source(node)
        if src is None:
            args.append(Arg(f"sav{stored}", "sav", stored, True, node))
            stored += 1
        else:
            kind, idx = src
            role = "in" if kind == "seq" else "rnd"
            args.append(Arg(f"{role}{idx}", role, idx, True, node))
    args += [Arg(f"par{p}", "par", p, False) for p in range(g.num_params)]
    args += [Arg(f"gout{o}", "gout", o, True) for o in range(g.num_outputs) if tangents[o]]
    args += [
        Arg(f"gst{j}", "gst", j, state_seq[j])
        for j in range(g.num_states)
        if tangents[g.num_outputs + j]
    ]
    for kind, idx in plan.grad_slots:
        if kind == "seq":
            args.append(Arg(f"gin{idx}", "gin", idx, True))
        elif kind == "state":
            args.append(Arg(f"ginit{idx}", "ginit", idx, False))
        else:
            args.append(Arg(f"gpar{idx}", "gpar", idx, False))
    return KernelLayout("bwd", plan, state_seq, tuple(args), tangents)
