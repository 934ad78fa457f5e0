"""Compile generated sources and launch them: Triton and CuPy (NVRTC).

A compiler turns a :class:`~snn_neurons.kernels.layout.KernelLayout` (and the storage
dtypes of its arguments) into ``launch(tensors, N, T)``, where ``tensors`` follow the
layout's argument order. Compiled kernels are cached in memory; sources on disk (see
:mod:`snn_neurons.kernels.cache`).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any

import torch

from snn_neurons.kernels.cache import MemoryCache, source_file, source_hash
from snn_neurons.kernels.cuda_codegen import KERNEL_NAME as CUDA_KERNEL
from snn_neurons.kernels.cuda_codegen import cuda_source
from snn_neurons.kernels.layout import KernelLayout
from snn_neurons.kernels.triton_codegen import KERNEL_NAME as TRITON_KERNEL
from snn_neurons.kernels.triton_codegen import triton_source

__all__ = [
    "Launch",
    "TritonCompiler",
    "CupyCompiler",
    "triton_interpreting",
    "nvrtc_compile",
    "compiler_for",
]

Launch = Callable[[list[torch.Tensor], int, int], None]

_TRITON_BLOCK_GPU = 512
_TRITON_BLOCK_INTERPRETER = 128
_CUDA_THREADS = 256


def _import_triton() -> Any:
    try:
        import triton
    except ImportError:
        return None
    return triton


def triton_interpreting() -> bool:
    """Whether Triton runs kernels in its CPU interpreter (``TRITON_INTERPRET=1``)."""
    triton = _import_triton()
    knobs = getattr(triton, "knobs", None)
    runtime = getattr(knobs, "runtime", None)
    if runtime is not None and hasattr(runtime, "interpret"):
        return bool(runtime.interpret)
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


class TritonCompiler:
    """Generated ``@triton.jit`` kernels: one program per block of neurons."""

    name = "triton"
    _modules = MemoryCache()

    def why_not(self, device: torch.device | None) -> str | None:
        if _import_triton() is None:
            return "Triton is not installed (pip install 'snn-neurons[triton]')"
        if device is None:
            if triton_interpreting() or torch.cuda.is_available():
                return None
            return "Triton needs a CUDA GPU, or TRITON_INTERPRET=1 set before importing triton"
        if device.type == "cuda":
            return None
        if device.type == "cpu" and triton_interpreting():
            return None
        return (
            f"Triton kernels need CUDA tensors (got {device.type}); to run on the CPU set "
            "TRITON_INTERPRET=1 before triton is imported"
        )

    def block(self, device: torch.device) -> int:
        return _TRITON_BLOCK_GPU if device.type == "cuda" else _TRITON_BLOCK_INTERPRETER

    def partial_size(self, n: int, device: torch.device) -> int:
        b = self.block(device)
        return (n + b - 1) // b

    def source(self, layout: KernelLayout, dtypes: dict[str, torch.dtype]) -> str:
        return triton_source(layout)

    def kernel(self, layout: KernelLayout, dtypes: dict[str, torch.dtype]) -> Launch:
        src = triton_source(layout)
        fn = self._modules.get(("triton", source_hash(src)), lambda: _load_triton(src))

        def launch(tensors: list[torch.Tensor], n: int, t: int) -> None:
            device = tensors[0].device
            block = self.block(device)
            grid = ((n + block - 1) // block,)
            if device.type == "cuda":
                with torch.cuda.device(device):
                    fn[grid](*tensors, n, t, BLOCK=block, num_warps=4, enable_fp_fusion=False)
            else:
                import numpy as np

                # the interpreter evaluates masked-off lanes and untaken branches in numpy
                with np.errstate(all="ignore"):
                    fn[grid](*tensors, n, t, BLOCK=block)

        return launch


def _load_triton(src: str) -> Any:
    path = source_file("triton", src, ".py")
    name = f"snn_neurons_generated_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return getattr(module, TRITON_KERNEL)


def _import_cupy() -> Any:
    try:
        import cupy
    except ImportError:
        return None
    return cupy


class CupyCompiler:
    """Generated CUDA C kernels compiled by NVRTC through CuPy: one thread per neuron."""

    name = "cupy"
    _modules = MemoryCache()

    def why_not(self, device: torch.device | None) -> str | None:
        if _import_cupy() is None:
            return "CuPy is not installed (pip install 'snn-neurons[cupy]')"
        if device is None:
            return None if torch.cuda.is_available() else "the cupy backend needs a CUDA GPU"
        if device.type != "cuda":
            return f"the cupy backend needs CUDA tensors, got {device.type} tensors"
        return None

    def partial_size(self, n: int, device: torch.device) -> int:
        return n

    def source(self, layout: KernelLayout, dtypes: dict[str, torch.dtype]) -> str:
        return cuda_source(layout, dtypes)

    def kernel(self, layout: KernelLayout, dtypes: dict[str, torch.dtype]) -> Launch:
        cupy = _import_cupy()
        src = cuda_source(layout, dtypes)

        def launch(tensors: list[torch.Tensor], n: int, t: int) -> None:
            import numpy as np

            device = tensors[0].device
            index = device.index if device.index is not None else torch.cuda.current_device()
            key = ("cupy", source_hash(src), index)
            with cupy.cuda.Device(index):
                module = self._modules.get(key, lambda: _load_cupy(cupy, src))
                fn = module.get_function(CUDA_KERNEL)
                stream = cupy.cuda.ExternalStream(torch.cuda.current_stream(device).cuda_stream)
                args = [cupy.asarray(x) for x in tensors] + [np.int64(n), np.int32(t)]
                grid = ((n + _CUDA_THREADS - 1) // _CUDA_THREADS,)
                with stream:
                    fn(grid, (_CUDA_THREADS,), tuple(args))

        return launch


def _load_cupy(cupy: Any, src: str) -> Any:
    source_file("cuda", src, ".cu")
    # no FMA contraction: the same rounding as torch's separate elementwise ops
    return cupy.RawModule(code=src, options=("--std=c++14", "--fmad=false"))


def nvrtc_compile(source: str, arch: str = "compute_80") -> str:
    """Compile CUDA ``source`` to PTX with NVRTC (no GPU needed); raise with the log."""
    from cupy_backends.cuda.libs import nvrtc

    prog = nvrtc.createProgram(source, "snn_kernel.cu", [], [])
    try:
        try:
            opts = [f"--gpu-architecture={arch}", "--std=c++14", "--fmad=false"]
            nvrtc.compileProgram(prog, opts)
        except Exception as err:
            log = nvrtc.getProgramLog(prog)
            raise RuntimeError(f"NVRTC failed to compile the generated source:\n{log}") from err
        ptx = nvrtc.getPTX(prog)
        return ptx.decode() if isinstance(ptx, bytes) else ptx
    finally:
        nvrtc.destroyProgram(prog)


_COMPILERS: dict[str, Any] = {"triton": TritonCompiler(), "cupy": CupyCompiler()}


def compiler_for(name: str) -> Any:
    """The compiler registered for backend ``name`` (``'triton'`` or ``'cupy'``)."""
    return _COMPILERS[name]
