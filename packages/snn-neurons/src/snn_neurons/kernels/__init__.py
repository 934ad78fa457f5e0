"""Kernels generated from a single-step definition: one module turns torch into Triton / CUDA.

Pipeline (each stage is one module):

1. :mod:`~snn_neurons.kernels.trace` — trace a step ``[*inputs, *states, *params] ->
   [*outputs, *new_states]`` and its autograd-derived backward into an elementwise
   :class:`~snn_neurons.kernels.ir.StepGraph` (an unmappable op raises
   :class:`~snn_neurons.kernels.ir.KernelGenerationError` naming it);
2. :mod:`~snn_neurons.kernels.partition` — choose the fewest per-step values the forward
   kernel saves for the backward one (a minimum cut; the rest is recomputed);
3. :mod:`~snn_neurons.kernels.triton_codegen` / :mod:`~snn_neurons.kernels.cuda_codegen` —
   emit a forward and a backward kernel over all T steps (states in registers);
4. :mod:`~snn_neurons.kernels.compilers` / :mod:`~snn_neurons.kernels.cache` — compile and
   cache (memory and disk); :mod:`~snn_neurons.kernels.launch` — run them as one autograd op;
5. :mod:`~snn_neurons.kernels.runner` — the ``'triton'`` / ``'cupy'`` backends of every
   :class:`~snn_neurons.BaseNode` with elementwise dynamics; :mod:`snn_neurons.flexsn` —
   the same generator for user-written steps.
"""

from snn_neurons.kernels.compilers import CupyCompiler, TritonCompiler, nvrtc_compile
from snn_neurons.kernels.ir import KernelGenerationError, StepGraph
from snn_neurons.kernels.launch import StepProgram
from snn_neurons.kernels.trace import trace_step

__all__ = [
    "KernelGenerationError",
    "StepGraph",
    "StepProgram",
    "TritonCompiler",
    "CupyCompiler",
    "nvrtc_compile",
    "trace_step",
]
