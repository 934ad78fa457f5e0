"""Record what modules of a network see and emit, through PyTorch hooks.

A monitor attaches a hook to every module of ``net`` that is an instance of ``instance``
(``type(net)`` when ``None``) and appends ``function_on_*(value)`` to ``records`` each time
the hook fires. ``monitor[i]`` is the ``i``-th record, ``monitor['name']`` the list of
records of the module called ``name`` (as in ``net.named_modules()``; the root is ``''``).

>>> net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
>>> with OutputMonitor(net, nn.ReLU) as mon:
...     _ = net(torch.ones(1, 2))
>>> len(mon.records)
1

``disable()`` / ``enable()`` pause and resume recording, ``clear_recorded_data()`` empties
the records, ``remove_hooks()`` / ``close()`` (also on leaving a ``with`` block) detach the
hooks for good while keeping the records.
"""

from __future__ import annotations

import datetime
import logging
import os
import subprocess
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import torch
from torch import nn

__all__ = [
    "BaseMonitor",
    "OutputMonitor",
    "InputMonitor",
    "AttributeMonitor",
    "GradInputMonitor",
    "GradOutputMonitor",
    "GPUMonitor",
]

_log = logging.getLogger(__name__)

Instance = type | tuple[type, ...] | None


def _identity(x: Any) -> Any:
    return x


def _unpack_single(x: Any) -> Any:
    """A 1-tuple (hook inputs, gradients) becomes its element; anything else is unchanged."""
    if isinstance(x, tuple) and len(x) == 1:
        return x[0]
    return x


class BaseMonitor:
    """Holds the hooks, the monitored module names and the records; see the module docs."""

    def __init__(self) -> None:
        self.hooks: list[torch.utils.hooks.RemovableHandle] = []
        self.monitored_layers: list[str] = []
        self.records: list[Any] = []
        self.name_records_index: dict[str, list[int]] = {}
        self._enable = True

    def __getitem__(self, i: int | str) -> Any:
        if isinstance(i, int):
            return self.records[i]
        if isinstance(i, str):
            if i not in self.name_records_index:
                raise KeyError(
                    f"{i!r} is not a monitored module; monitored: {self.monitored_layers}"
                )
            return [self.records[j] for j in self.name_records_index[i]]
        raise ValueError(f"index must be an int (record) or a str (module name), got {i!r}")

    def _monitor_modules(self, net: nn.Module, instance: Instance) -> list[tuple[str, nn.Module]]:
        if not isinstance(net, nn.Module):
            raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
        if instance is None:
            instance = type(net)
        try:
            found = [(n, m) for n, m in net.named_modules() if isinstance(m, instance)]
        except TypeError as err:
            raise TypeError(
                f"instance must be None, a class or a tuple of classes, got {instance!r}"
            ) from err
        for name, _ in found:
            self.monitored_layers.append(name)
            self.name_records_index[name] = []
        return found

    def _record(self, name: str, value: Any) -> None:
        self.name_records_index[name].append(len(self.records))
        self.records.append(value)

    def clear_recorded_data(self) -> None:
        """Remove all records (hooks stay attached)."""
        self.records.clear()
        for indices in self.name_records_index.values():
            indices.clear()

    def enable(self) -> None:
        """Resume recording."""
        self._enable = True

    def disable(self) -> None:
        """Pause recording (hooks stay attached but record nothing)."""
        self._enable = False

    def is_enable(self) -> bool:
        """Whether the monitor records."""
        return self._enable

    def remove_hooks(self) -> None:
        """Detach every hook from the network; the records are kept."""
        for handle in self.hooks:
            handle.remove()
        self.hooks.clear()

    def close(self) -> None:
        """Stop recording and detach the hooks for good (idempotent); records are kept."""
        self.disable()
        self.remove_hooks()

    def __enter__(self) -> BaseMonitor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        self.close()
        return False

    def __del__(self) -> None:
        if "hooks" in self.__dict__:
            self.close()


class OutputMonitor(BaseMonitor):
    """Record ``function_on_output(output)`` of every monitored module after its forward.

    Args:
        net: the network.
        instance: class (or tuple of classes) of the modules to monitor; ``type(net)`` if None.
        function_on_output: applied to each output before it is stored (identity).
    """

    def __init__(
        self,
        net: nn.Module,
        instance: Instance = None,
        function_on_output: Callable[[Any], Any] = _identity,
    ) -> None:
        super().__init__()
        self.function_on_output = function_on_output
        for name, m in self._monitor_modules(net, instance):
            self.hooks.append(m.register_forward_hook(self.create_hook(name)))

    def create_hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if self.is_enable():
                self._record(name, self.function_on_output(_unpack_single(output)))

        return hook


class InputMonitor(BaseMonitor):
    """Record ``function_on_input(input)`` of every monitored module before its forward.

    A single positional input is stored as itself, several as a tuple. The default stores a
    reference; pass ``lambda x: x.clone()`` to snapshot inputs a module changes in place.

    Args:
        net: the network.
        instance: class (or tuple of classes) of the modules to monitor; ``type(net)`` if None.
        function_on_input: applied to each input before it is stored (identity).
    """

    def __init__(
        self,
        net: nn.Module,
        instance: Instance = None,
        function_on_input: Callable[[Any], Any] = _identity,
    ) -> None:
        super().__init__()
        self.function_on_input = function_on_input
        for name, m in self._monitor_modules(net, instance):
            self.hooks.append(m.register_forward_pre_hook(self.create_hook(name)))

    def create_hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: Any) -> None:
            if self.is_enable():
                self._record(name, self.function_on_input(_unpack_single(inputs)))

        return hook


class AttributeMonitor(BaseMonitor):
    """Record ``function_on_attribute(m.<attribute_name>)`` of every monitored module ``m``.

    Args:
        attribute_name: the attribute to read, e.g. ``'v'`` for a neuron's membrane potential.
        pre_forward: read it before (``True``) or after (``False``) each forward.
        net: the network.
        instance: class (or tuple of classes) of the modules to monitor; ``type(net)`` if None.
        function_on_attribute: applied to each value before it is stored (identity).
    """

    def __init__(
        self,
        attribute_name: str,
        pre_forward: bool,
        net: nn.Module,
        instance: Instance = None,
        function_on_attribute: Callable[[Any], Any] = _identity,
    ) -> None:
        super().__init__()
        if not isinstance(attribute_name, str):
            raise TypeError(f"attribute_name must be a str, got {attribute_name!r}")
        self.attribute_name = attribute_name
        self.function_on_attribute = function_on_attribute
        for name, m in self._monitor_modules(net, instance):
            hook = self.create_hook(name)
            handle = (
                m.register_forward_pre_hook(hook) if pre_forward else m.register_forward_hook(hook)
            )
            self.hooks.append(handle)

    def create_hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, *args: Any) -> None:
            if self.is_enable():
                value = getattr(module, self.attribute_name)
                self._record(name, self.function_on_attribute(value))

        return hook


class GradInputMonitor(BaseMonitor):
    r"""Record ``function_on_grad_input(dL/dX)`` of every monitored module during backward.

    :math:`X` is the module's input; a module with one input gives a tensor, several give a
    tuple (``None`` for inputs that need no gradient). Uses full backward hooks.

    Args:
        net: the network.
        instance: class (or tuple of classes) of the modules to monitor; ``type(net)`` if None.
        function_on_grad_input: applied to each gradient before it is stored (identity).
    """

    def __init__(
        self,
        net: nn.Module,
        instance: Instance = None,
        function_on_grad_input: Callable[[Any], Any] = _identity,
    ) -> None:
        super().__init__()
        self.function_on_grad_input = function_on_grad_input
        for name, m in self._monitor_modules(net, instance):
            self.hooks.append(m.register_full_backward_hook(self.create_hook(name)))

    def create_hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, grad_input: Any, grad_output: Any) -> None:
            if self.is_enable():
                self._record(name, self.function_on_grad_input(_unpack_single(grad_input)))

        return hook


class GradOutputMonitor(BaseMonitor):
    r"""Record ``function_on_grad_output(dL/dY)`` of every monitored module during backward.

    :math:`Y` is the module's output. Uses full backward hooks.

    Args:
        net: the network.
        instance: class (or tuple of classes) of the modules to monitor; ``type(net)`` if None.
        function_on_grad_output: applied to each gradient before it is stored (identity).
    """

    def __init__(
        self,
        net: nn.Module,
        instance: Instance = None,
        function_on_grad_output: Callable[[Any], Any] = _identity,
    ) -> None:
        super().__init__()
        self.function_on_grad_output = function_on_grad_output
        for name, m in self._monitor_modules(net, instance):
            self.hooks.append(m.register_full_backward_hook(self.create_hook(name)))

    def create_hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, grad_input: Any, grad_output: Any) -> None:
            if self.is_enable():
                self._record(name, self.function_on_grad_output(_unpack_single(grad_output)))

        return hook


class GPUMonitor(threading.Thread):
    """A background thread that samples GPU utilization and memory every ``interval`` seconds.

    Each sample runs ``nvidia-smi --query-gpu=index,utilization.gpu,memory.used`` for
    ``gpu_ids``. With ``log_dir`` the values go to TensorBoard scalars
    ``utilization_<i>`` (%) and ``memory_used_<i>`` (MiB) under ``log_dir/gpu_monitor`` (needs
    the ``tensorboard`` package); otherwise each sample is logged at INFO level through
    ``logging.getLogger('snn_core.monitor')`` and kept in :attr:`samples` as
    ``(index, utilization, memory_used)`` tuples.

    If ``nvidia-smi`` is missing, fails, times out or prints something unexpected, the thread
    logs the reason at ERROR level, stores it in :attr:`error` and ends (as the reference
    does); the caller's program is not interrupted. Call :meth:`stop` (then ``join()``) when
    done: a running monitor keeps the interpreter alive.

    Args:
        log_dir: TensorBoard directory, or ``None`` to log.
        gpu_ids: the GPUs to query, e.g. ``(0, 1)``.
        interval: seconds between samples, ``> 0``.
        start_now: start the thread now (otherwise call ``start()``).
    """

    def __init__(
        self,
        log_dir: str | None = None,
        gpu_ids: tuple[int, ...] = (0,),
        interval: float = 600.0,
        start_now: bool = True,
    ) -> None:
        super().__init__()
        gpu_ids = tuple(gpu_ids)
        if not gpu_ids or not all(isinstance(i, int) and i >= 0 for i in gpu_ids):
            raise ValueError(f"gpu_ids must be a non-empty tuple of GPU indices, got {gpu_ids!r}")
        if not isinstance(interval, (int, float)) or not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
        if log_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter  # noqa: F401
            except ImportError as err:
                raise ImportError(
                    "GPUMonitor(log_dir=...) writes TensorBoard logs and needs the "
                    "'tensorboard' package (pip install tensorboard); pass log_dir=None to "
                    "log the samples instead"
                ) from err
        self.log_dir = log_dir
        self.gpu_ids = gpu_ids
        self.interval = float(interval)
        self.command = [
            "nvidia-smi",
            "--query-gpu=index,utilization.gpu,memory.used",
            "--format=csv,noheader,nounits",
            "-i",
            ",".join(map(str, gpu_ids)),
        ]
        self.step = 0
        self.writer: Any = None
        self.samples: list[tuple[str, int, int]] = []
        self.error: str | None = None
        self._stop_event = threading.Event()
        if start_now:
            self.start()

    def stop(self) -> None:
        """Ask the thread to end, waking it if it waits for the next sample."""
        self._stop_event.set()

    def _fail(self, reason: str) -> None:
        self.error = reason
        _log.error("GPU monitor stopped: %s", reason)

    def _query(self) -> list[tuple[str, int, int]] | None:
        try:
            done = subprocess.run(
                self.command, check=False, capture_output=True, text=True, timeout=5
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            self._fail(str(err))
            return None
        if done.returncode:
            self._fail(done.stderr.strip() or f"nvidia-smi exited with code {done.returncode}")
            return None
        text = done.stdout.strip()
        if not text:
            self._fail("nvidia-smi returned no data")
            return None
        try:
            rows = []
            for line in text.splitlines():
                index, util, mem = (v.strip() for v in line.split(","))
                rows.append((index, int(util), int(mem)))
        except ValueError:
            self._fail(f"malformed nvidia-smi output: {text!r}")
            return None
        return rows

    def run(self) -> None:
        if self._stop_event.is_set():
            return
        try:
            if self.log_dir is not None:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(os.path.join(self.log_dir, "gpu_monitor"))
            while not self._stop_event.is_set():
                rows = self._query()
                if rows is None:
                    return
                if self.writer is None:
                    self.samples.extend(rows)
                    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
                    _log.info("GPU monitor sample at %s: %s", stamp, rows)
                else:
                    for index, util, mem in rows:
                        self.writer.add_scalar(f"utilization_{index}", util, self.step)
                        self.writer.add_scalar(f"memory_used_{index}", mem, self.step)
                self.step += 1
                if self._stop_event.wait(self.interval):
                    return
        finally:
            if self.writer is not None:
                self.writer.close()
