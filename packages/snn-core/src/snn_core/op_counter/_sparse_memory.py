"""Byte counts of dense and sparse (non-zero only) tensor accesses."""

from __future__ import annotations

from typing import Any

import torch

from snn_core.op_counter.base import is_binary_tensor

__all__ = [
    "active_element_count",
    "dense_bytes",
    "dense_bytes_tree",
    "is_sparse_access_tensor",
    "sparse_bytes",
    "sparse_bytes_tree",
]


def active_element_count(x: torch.Tensor) -> int:
    """Number of non-zero elements of ``x``."""
    return int(x.count_nonzero().item())


def dense_bytes(x: torch.Tensor) -> int:
    """Bytes of all elements of ``x``."""
    return int(x.numel()) * int(x.element_size())


def sparse_bytes(x: torch.Tensor) -> int:
    """Bytes of the non-zero elements of ``x``."""
    return active_element_count(x) * int(x.element_size())


def is_sparse_access_tensor(x: torch.Tensor, *, zero_ratio_threshold: float = 0.5) -> bool:
    """Whether ``x`` is read sparsely: a spike (binary) tensor, or a tensor whose fraction of
    zeros is at least ``zero_ratio_threshold``. Empty and meta tensors are dense."""
    if x.numel() == 0 or x.is_meta:
        return False
    if is_binary_tensor(x):
        return True
    zero_ratio = 1.0 - active_element_count(x) / float(x.numel())
    return zero_ratio >= zero_ratio_threshold


def _tree_sum(tree: Any, leaf) -> int:
    if torch.is_tensor(tree):
        return leaf(tree)
    if isinstance(tree, (tuple, list)):
        return sum(_tree_sum(item, leaf) for item in tree)
    if isinstance(tree, dict):
        return sum(_tree_sum(item, leaf) for item in tree.values())
    return 0


def dense_bytes_tree(tree: Any) -> int:
    """:func:`dense_bytes` summed over the tensors of a nested tuple/list/dict."""
    return _tree_sum(tree, dense_bytes)


def sparse_bytes_tree(tree: Any, *, zero_ratio_threshold: float = 0.5) -> int:
    """Bytes read per tensor of a nested container: sparse tensors (see
    :func:`is_sparse_access_tensor`) count their non-zero elements, others all."""

    def leaf(x: torch.Tensor) -> int:
        sparse = is_sparse_access_tensor(x, zero_ratio_threshold=zero_ratio_threshold)
        return sparse_bytes(x) if sparse else dense_bytes(x)

    return _tree_sum(tree, leaf)
