"""What the fused path keeps for backward: at most the input's size besides the input
itself (H for IF / LIF), nothing but the input with recompute, and less than the unfused
single-step loop. Counted with saved_tensors_hooks over unique storages."""

from __future__ import annotations

import pytest
import torch
from core_neuron_refs import fused_settings
from snn_neurons import IFNode, LIFNode, ParametricLIFNode


@pytest.fixture(autouse=True)
def _eager_fused():
    with fused_settings(enabled=True, compile=False, recompute=False):
        yield


def _saved(node, x: torch.Tensor) -> tuple[int, int]:
    """Bytes of unique saved storages: ``(the input's storage, everything else)``."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    node.reset()
    node.step_mode = "m"
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        node(x)
    x_ptr = x.untyped_storage().data_ptr()
    params = {p.untyped_storage().data_ptr() for p in node.parameters()}
    other = sum(n for ptr, n in storages.items() if ptr != x_ptr and ptr not in params)
    return storages.get(x_ptr, 0), other


X = torch.rand(8, 64, 16, requires_grad=True)
X_BYTES = X.numel() * X.element_size()


@pytest.mark.parametrize("cls", [IFNode, LIFNode])
def test_if_and_lif_save_only_h(cls):
    node = cls(detach_reset=True)
    assert _saved(node, X) == (0, X_BYTES)
    with fused_settings(recompute=True):
        assert _saved(node, X) == (X_BYTES, 0)
    with fused_settings(enabled=False):
        alias, other = _saved(node, X)
        assert other > X_BYTES  # the unfused loop keeps more


def test_plif_saves_the_input_and_v():
    node = ParametricLIFNode(detach_reset=True)
    assert _saved(node, X) == (X_BYTES, X_BYTES)
    with fused_settings(recompute=True):
        assert _saved(node, X) == (X_BYTES, 0)


def test_stored_v_seq_is_not_copied_for_backward():
    node = ParametricLIFNode(store_v_seq=True)
    alias, other = _saved(node, X)
    assert (alias, other) == (X_BYTES, X_BYTES)  # V is saved: it is the v_seq output itself


def test_a_carried_state_is_saved_for_recompute():
    node = LIFNode()
    node.step_mode = "m"
    node(X[:2].detach())  # v now holds a state that is not the reset value
    storages = []
    with fused_settings(recompute=True):
        with torch.autograd.graph.saved_tensors_hooks(
            lambda t: storages.append(t.untyped_storage().nbytes()) or t, lambda t: t
        ):
            node(X)
    assert sorted(storages) == [X_BYTES // 8, X_BYTES]  # V[-1] and the input
