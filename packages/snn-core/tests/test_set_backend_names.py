"""functional.set_backend: unknown names are errors; refusals say why."""

import warnings

import pytest
from snn_core import MemoryModule, functional
from torch import nn


class Backended(MemoryModule):
    def __init__(self, supported=("torch",), known=("torch", "fast"), reason=None) -> None:
        super().__init__()
        self.backend = "torch"
        self._supported, self.known_backends, self._reason = supported, known, reason

    @property
    def supported_backends(self):
        return self._supported

    def backend_unavailable_reason(self, backend):
        return self._reason


class Composite(nn.Module):
    """Passes its backend on to its parts (no supported_backends of its own)."""

    def __init__(self, *parts) -> None:
        super().__init__()
        self.parts = nn.ModuleList(parts)
        self._backend = "torch"

    @property
    def backend(self):
        return self._backend

    @backend.setter
    def backend(self, value):
        for p in self.parts:
            p.backend = value
        self._backend = value


def test_unknown_name_is_a_value_error_listing_the_known_names():
    net = nn.Sequential(Backended(known=("torch", "fast")))
    with pytest.raises(
        ValueError, match=r"one of \('torch', 'triton', 'cupy', 'fast'\), got 'nonsense'"
    ):
        functional.set_backend(net, "nonsense")
    assert net[0].backend == "torch"


def test_standard_names_are_known_even_without_backend_modules():
    functional.set_backend(nn.Linear(2, 2), "cupy")  # nothing to set, nothing to refuse
    with pytest.raises(ValueError, match="got 'tritom'"):
        functional.set_backend(nn.Linear(2, 2), "tritom")


def test_known_but_unusable_backend_warns_with_the_reason():
    reason = "Fast is not installed (pip install fast)"
    net = nn.Sequential(Backended(reason=reason), Backended(reason=reason))
    with pytest.warns(UserWarning) as rec:
        functional.set_backend(net, "fast")
    msg = str(rec[0].message)
    assert "2 module(s)" in msg and msg.count(reason) == 1  # grouped by reason
    assert "0 (Backended, supported_backends=('torch',), keeps backend='torch')" in msg
    assert net[0].backend == net[1].backend == "torch"


def test_composite_is_set_only_when_all_its_parts_support_the_backend():
    ok = Composite(Backended(supported=("torch", "fast")), Backended(supported=("torch", "fast")))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        functional.set_backend(ok, "fast")
    assert ok.backend == "fast" and all(p.backend == "fast" for p in ok.parts)
    mixed = Composite(Backended(supported=("torch", "fast")), Backended(reason="no fast here"))
    with pytest.warns(UserWarning, match="no fast here") as rec:
        functional.set_backend(mixed, "fast")
    assert "<net> (Composite, keeps backend='torch')" in str(rec[0].message)
    assert mixed.backend == "torch" and mixed.parts[1].backend == "torch"
