"""Run the generated CUDA source on the CPU: a host C++ compiler and ctypes.

The CUDA source emitted by :mod:`snn_neurons.kernels.cuda_codegen` keeps each neuron's
loop in a plain function; compiled by ``g++`` (without ``__CUDACC_RTC__``) the exported
kernel is a host loop over neurons calling that same function. :class:`HostCudaCompiler`
has the interface of :class:`~snn_neurons.kernels.compilers.CupyCompiler`, so the whole
cupy path (autograd, saved values, gradients) can be checked on a machine without a GPU.
It is a testing aid, not a backend.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path
from typing import Any

import torch

from snn_neurons.kernels.cache import MemoryCache, cache_dir, source_file, source_hash
from snn_neurons.kernels.cuda_codegen import KERNEL_NAME, cuda_source
from snn_neurons.kernels.layout import KernelLayout

__all__ = ["HostCudaCompiler", "host_compiler_available"]


def host_compiler_available() -> bool:
    return shutil.which("g++") is not None


class HostCudaCompiler:
    """Compile generated CUDA sources with ``g++`` into shared libraries run by ctypes."""

    name = "cupy-host"
    _libs = MemoryCache()

    def why_not(self, device: torch.device | None) -> str | None:
        if not host_compiler_available():
            return "no host C++ compiler (g++) found"
        if device is not None and device.type != "cpu":
            return f"the host harness runs on CPU tensors, got {device.type}"
        return None

    def partial_size(self, n: int, device: torch.device) -> int:
        return n

    def source(self, layout: KernelLayout, dtypes: dict[str, torch.dtype]) -> str:
        return cuda_source(layout, dtypes)

    def kernel(self, layout: KernelLayout, dtypes: dict[str, torch.dtype]) -> Any:
        src = cuda_source(layout, dtypes)
        lib = self._libs.get(source_hash(src), lambda: _build(src))
        fn = getattr(lib, KERNEL_NAME)
        fn.restype = None

        def launch(tensors: list[torch.Tensor], n: int, t: int) -> None:
            for x in tensors:
                if not x.is_contiguous() or x.device.type != "cpu":
                    raise ValueError("the host harness needs contiguous CPU tensors")
            ptrs = [ctypes.c_void_p(x.data_ptr()) for x in tensors]
            fn(*ptrs, ctypes.c_longlong(n), ctypes.c_int(t))

        return launch


def _build(src: str) -> ctypes.CDLL:
    cu = source_file("cuda", src, ".cu")
    out = Path(cache_dir()) / "host" / f"{cu.stem}.so"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{id(src)}.tmp.so")
        cmd = ["g++", "-x", "c++", "-O1", "-fPIC", "-shared", "-ffp-contract=off", str(cu), "-o"]
        proc = subprocess.run([*cmd, str(tmp)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"g++ failed on the generated CUDA source {cu}:\n{proc.stderr}")
        tmp.replace(out)
    return ctypes.CDLL(str(out))
