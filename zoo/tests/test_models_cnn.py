"""The reference framework's residual / attention CNNs and Max-Former in ``snn_zoo.models``
(``ms_resnet``, ``masnn``, ``maxformer``) against numbers of the reference itself.

``EXPECTED`` and ``BUILDERS`` were produced by ``zoo/tests/_ref_gen/cnn.py`` with spikingjelly
2.0.0 (CPU, float32): the reference model of each case, every floating state-dict entry set by
:func:`det_init` (sorted keys), input :func:`det_input`; recorded are the hash of the sorted
``key shape`` list, the parameter count, the eval-mode output (sum, first entries) for the batch
and for its first sample alone, the train-mode output sum of one forward, the BN running means
it left and the summed absolute gradient of ``output.sum()``. Custom neurons are the
reference's classes of the same names (here ``snn_neurons``').
"""

from __future__ import annotations

import hashlib
import math

import pytest
import snn_neurons
import torch
from snn_core import functional
from snn_zoo.models import masnn, maxformer, ms_resnet

MODULES = {"ms_resnet": ms_resnet, "masnn": masnn, "maxformer": maxformer}

# (name, submodule, class, kwargs, neuron, input shape): as the generator
CASES = [
    ("ms_3stage", "ms_resnet", "MSResNet",
     dict(T=2, num_classes=5, layers=(1, 1, 1), base_channels=4, stem_kernel_size=3, stem_stride=1),
     None, (2, 3, 16, 16)),
    ("ms_4stage_pool_seq", "ms_resnet", "MSResNet",
     dict(T=2, num_classes=5, layers=(2, 1, 1, 1), base_channels=4, stem_pool=True, tau=1.5),
     None, (2, 2, 3, 32, 32)),
    ("ms_if", "ms_resnet", "MSResNet",
     dict(T=2, num_classes=4, layers=(1, 1, 1), base_channels=4, stem_kernel_size=3, stem_stride=1,
          v_threshold=0.5), "IFNode", (2, 3, 8, 8)),
    ("max", "ms_resnet", "MaxResNet",
     dict(T=2, num_classes=5, layers=(2, 1, 1), base_channels=4, stage_channels=(8, 8, 16),
          stem_kernel_size=3, stem_stride=1), None, (2, 3, 16, 16)),
    ("max_plif", "ms_resnet", "MaxResNet",
     dict(T=2, num_classes=3, layers=(1, 1, 1), base_channels=4, stem_kernel_size=3, stem_stride=1,
          init_tau=3.0), "ParametricLIFNode", (2, 3, 8, 8)),
    ("masnn", "masnn", "MASNN",
     dict(T=4, in_channels=2, num_classes=5, input_size=(8, 8), channels=(4, 8), pools=(1, 2),
          fc_hidden=12, reduction_t=2, reduction_c=2), None, (2, 2, 8, 8)),
    ("masnn_seq_lif", "masnn", "MASNN",
     dict(T=4, in_channels=2, num_classes=4, input_size=(8, 8), channels=(4,), pools=(2,),
          fc_hidden=8, reduction_t=2, reduction_c=2, tau=3.0, v_threshold=0.2), "LIFNode",
     (4, 2, 2, 8, 8)),
    ("att_ms", "masnn", "AttMSResNet",
     dict(T=2, num_classes=5, layers=(1, 1, 1), base_channels=8, stem_kernel_size=3, stem_stride=1,
          reduction_c=2, dropout=0.0), None, (2, 3, 15, 15)),
    ("att_ms_plif", "masnn", "AttMSResNet",
     dict(T=2, num_classes=3, layers=(1, 1, 1), base_channels=8, stem_kernel_size=3, stem_stride=1,
          reduction_c=4, dropout=0.0), "ParametricLIFNode", (2, 3, 8, 8)),
    ("maxformer", "maxformer", "MaxFormer",
     dict(T=2, num_classes=5, embed_dims=64, depths=(1, 1, 1), mlp_ratio=2.0), None,
     (2, 3, 32, 32)),
    ("maxformer_if_seq", "maxformer", "MaxFormer",
     dict(T=2, num_classes=4, embed_dims=128, depths=(0, 1, 1), mlp_ratio=1.0, v_threshold=0.8),
     "IFNode", (2, 2, 3, 16, 16)),
    ("maxformer_cifar", "maxformer", "MaxFormer",
     dict(T=2, num_classes=5, embed_dims=64, depths=(1, 1, 2), mlp_ratio=1.0, cifar=True), None,
     (2, 3, 16, 16)),
    ("maxformer_cifar_plif", "maxformer", "MaxFormer",
     dict(T=2, num_classes=3, embed_dims=32, depths=(1, 1, 1), mlp_ratio=1.0, cifar=True,
          init_tau=3.0), "ParametricLIFNode", (2, 3, 8, 8)),
]  # fmt: skip

# produced by zoo/tests/_ref_gen/cnn.py (spikingjelly 2.0.0)
EXPECTED = {
    "ms_3stage": dict(
        keys="6bc2ed1886f8c6ab",
        n_keys=62,
        params=5153,
        shape=(2, 5),
        eval_sum=0.012081,
        eval_first=[0.979539, -0.786057, 0.217915, 0.953479],
        b1_sum=0.001396,
        train_sum=-0.486538,
        bn_mean_sum=-1.040737,
        grad_abs_sum=161.3843,
    ),
    "ms_4stage_pool_seq": dict(
        keys="1645926159f47679",
        n_keys=92,
        params=20545,
        shape=(2, 5),
        eval_sum=0.851103,
        eval_first=[-1.859805, 2.626608, -0.993824, -0.673125],
        b1_sum=0.387313,
        train_sum=1.248693,
        bn_mean_sum=1.018414,
        grad_abs_sum=349.0682,
    ),
    "ms_if": dict(
        keys="fbbd206684827867",
        n_keys=62,
        params=5136,
        shape=(2, 4),
        eval_sum=4.025651,
        eval_first=[1.63614, -1.626836, 0.184488, 1.819033],
        b1_sum=2.012825,
        train_sum=2.422019,
        bn_mean_sum=-0.912672,
        grad_abs_sum=76.6054,
    ),
    "max": dict(
        keys="be75c9c6bb9ef5fc",
        n_keys=74,
        params=7273,
        shape=(2, 5),
        eval_sum=-0.092161,
        eval_first=[0.0, 0.481779, 0.257751, -0.343883],
        b1_sum=-0.046081,
        train_sum=-0.208885,
        bn_mean_sum=-1.855567,
        grad_abs_sum=22.9295,
    ),
    "max_plif": dict(
        keys="88841dfeb5328db5",
        n_keys=63,
        params=5102,
        shape=(2, 3),
        eval_sum=1.47906,
        eval_first=[0.0, 0.481779, 0.257751, 0.0],
        b1_sum=0.73953,
        train_sum=1.449704,
        bn_mean_sum=2.629467,
        grad_abs_sum=49.7883,
    ),
    "masnn": dict(
        keys="edaa5b7371eb2f19",
        n_keys=42,
        params=2223,
        shape=(2, 5),
        eval_sum=1.5,
        eval_first=[0.0, 0.0, 0.25, 0.25],
        b1_sum=0.75,
        train_sum=1.0,
        bn_mean_sum=0.283243,
        grad_abs_sum=1543.4186,
    ),
    "masnn_seq_lif": dict(
        keys="e2bd7960f2003124",
        n_keys=30,
        params=746,
        shape=(2, 4),
        eval_sum=0.5,
        eval_first=[0.0, 0.0, 0.25, 0.0],
        b1_sum=0.25,
        train_sum=0.5,
        bn_mean_sum=-0.111224,
        grad_abs_sum=0.9437,
    ),
    "att_ms": dict(
        keys="105289c5b3b16019",
        n_keys=71,
        params=21267,
        shape=(2, 5),
        eval_sum=-1.104259,
        eval_first=[-0.427828, -0.209347, 1.688156, -1.727764],
        b1_sum=-0.5414,
        train_sum=-1.114279,
        bn_mean_sum=1.617193,
        grad_abs_sum=103.0468,
    ),
    "att_ms_plif": dict(
        keys="1eba2dad26c27cd6",
        n_keys=78,
        params=20536,
        shape=(2, 3),
        eval_sum=1.393836,
        eval_first=[-0.406579, 0.576336, 0.52716, -0.406579],
        b1_sum=0.696918,
        train_sum=1.47906,
        bn_mean_sum=-1.090318,
        grad_abs_sum=131232.9397,
    ),
    "maxformer": dict(
        keys="9585455723961371",
        n_keys=140,
        params=117973,
        shape=(2, 5),
        eval_sum=-2.776004,
        eval_first=[-1.634823, -0.64976, 1.774483, 0.945947],
        b1_sum=-1.388002,
        train_sum=-2.818117,
        bn_mean_sum=1.138683,
        grad_abs_sum=2288.715,
    ),
    "maxformer_if_seq": dict(
        keys="6de6518d3605ab30",
        n_keys=119,
        params=414532,
        shape=(2, 4),
        eval_sum=0.59865,
        eval_first=[-6.601665, 7.194345, -6.492606, 6.370741],
        b1_sum=0.470816,
        train_sum=-3.098099,
        bn_mean_sum=2.95111,
        grad_abs_sum=1049.6086,
    ),
    "maxformer_cifar": dict(
        keys="fea3ab2331feeeca",
        n_keys=145,
        params=128461,
        shape=(2, 5),
        eval_sum=-0.30786,
        eval_first=[-0.290854, -1.137138, 0.37965, 1.287756],
        b1_sum=-0.15393,
        train_sum=-0.092161,
        bn_mean_sum=-2.255379,
        grad_abs_sum=96.0757,
    ),
    "maxformer_cifar_plif": dict(
        keys="463dba8610f1a2ba",
        n_keys=135,
        params=26392,
        shape=(2, 3),
        eval_sum=1.401515,
        eval_first=[0.099185, 0.567816, 0.033756, 0.099185],
        b1_sum=0.700758,
        train_sum=1.47906,
        bn_mean_sum=2.29895,
        grad_abs_sum=3916311167042.998,
    ),
}

# full-size builders at their defaults: (parameter count, key hash) of the reference
BUILDERS = {
    "ms_resnet18": (ms_resnet, 11693736, "50a79af25fe660b2"),
    "ms_resnet34": (ms_resnet, 21801896, "9c782f6dfcfd65fc"),
    "max_resnet18": (ms_resnet, 12502090, "f32473dd88ad2bb7"),
    "masnn_dvs128_gesture": (masnn, 2340535, "06f3089e4a6ee65a"),
    "att_ms_resnet18": (masnn, 11867960, "9d6accc0d54915f8"),
    "maxformer_10_384": (maxformer, 16236616, "b57a0515d052a62d"),
    "maxformer_cifar": (maxformer, 6602932, "676a81dccd41b06f"),
}


def key_hash(model: torch.nn.Module) -> str:
    lines = [f"{k} {tuple(v.shape)}" for k, v in sorted(model.state_dict().items())]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def det_init(model: torch.nn.Module) -> None:
    """The generator's formula: entry ``k`` of the sorted state dict is ``0.5 sin(1.3 i + k)``
    (running variances ``|.| + 0.5``, integer entries kept), loaded strictly."""
    new = {}
    for k, (name, v) in enumerate(sorted(model.state_dict().items())):
        if not v.is_floating_point():
            new[name] = v
            continue
        w = torch.sin(torch.arange(v.numel(), dtype=torch.float64) * 1.3 + k) * 0.5
        if name.endswith("running_var"):
            w = w.abs() + 0.5
        new[name] = w.reshape(v.shape).to(v.dtype)
    model.load_state_dict(new, strict=True)


def det_input(shape: tuple[int, ...]) -> torch.Tensor:
    n = math.prod(shape)
    return (
        (torch.sin(torch.arange(n, dtype=torch.float64) * 0.37) * 1.5 + 0.5).reshape(shape).float()
    )


def build(case: tuple) -> tuple[torch.nn.Module, torch.Tensor, dict]:
    name, submodule, cls, kwargs, neuron, shape = case
    sn = getattr(snn_neurons, neuron) if neuron else None
    model = getattr(MODULES[submodule], cls)(**kwargs, spiking_neuron=sn)
    return model, det_input(shape), EXPECTED[name]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_state_dict_layout_and_parameters_match_the_reference(case: tuple) -> None:
    model, _, exp = build(case)
    assert key_hash(model) == exp["keys"]
    assert len(model.state_dict()) == exp["n_keys"]
    assert sum(p.numel() for p in model.parameters()) == exp["params"]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_outputs_match_the_reference(case: tuple) -> None:
    model, x, exp = build(case)
    det_init(model)
    model.eval()
    with torch.no_grad():
        y = model(x)
        functional.reset_net(model)
        y1 = model(x[:, :1] if x.dim() == 5 else x[:1])
    assert tuple(y.shape) == exp["shape"]
    assert y.sum().item() == pytest.approx(exp["eval_sum"], abs=1e-5)
    assert y.flatten()[:4].tolist() == pytest.approx(exp["eval_first"], abs=1e-5)
    assert y1.sum().item() == pytest.approx(exp["b1_sum"], abs=1e-5)
    functional.reset_net(model)
    model.train()
    y = model(x)
    y.sum().backward()
    assert y.sum().item() == pytest.approx(exp["train_sum"], abs=1e-5)
    means = sum(v.sum().item() for k, v in model.state_dict().items() if k.endswith("running_mean"))
    assert means == pytest.approx(exp["bn_mean_sum"], abs=1e-5)
    grad = sum(p.grad.abs().sum().item() for p in model.parameters() if p.grad is not None)
    assert grad == pytest.approx(exp["grad_abs_sum"], rel=1e-4)


@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_builders_match_the_reference_parameter_count_and_keys(builder: str) -> None:
    module, params, keys = BUILDERS[builder]
    with torch.device("meta"):
        model = getattr(module, builder)()
    assert sum(p.numel() for p in model.parameters()) == params
    assert key_hash(model) == keys


def _neurons(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in model.modules() if isinstance(m, snn_neurons.LIFNode)]


def test_paper_neuron_and_bn_defaults_are_the_references() -> None:
    """The reference's defaults, read from its source: MS-ResNet LIF(tau=4/3, v_th=0.5,
    decay_input=False, detach_reset=True, Rect(2)); Max-ResNet LIF(tau=2, detach_reset=True);
    Att-MS-ResNet Rect(1), last branch BN 0.1; MA-SNN LIF(tau=10/7, v_th=0.3)."""
    ms = ms_resnet.MSResNet(T=1, layers=(1, 1, 1), base_channels=4)
    for n in _neurons(ms):
        assert (n.tau, n.v_threshold, n.decay_input, n.detach_reset) == (4 / 3, 0.5, False, True)
        assert n.surrogate_function.alpha == 2.0 and n.step_mode == "m"
    assert ms.stem[1].weight.eq(0.5).all() and ms.layer1[0].bn2.weight.eq(0.0).all()
    mx = ms_resnet.MaxResNet(T=1, layers=(1, 1, 1), base_channels=4)
    assert all((n.tau, n.v_threshold, n.detach_reset) == (2.0, 1.0, True) for n in _neurons(mx))
    assert mx.layer2[0].max_pool is not None and mx.layer1[0].bn2.weight.eq(1.0).all()
    att = masnn.AttMSResNet(layers=(1, 1, 1), base_channels=8)
    assert {n.surrogate_function.alpha for n in _neurons(att)} == {1.0}
    assert att.layer1[0].bn2.weight.eq(0.1).all() and att.dropout.p == 0.2 and att.T == 1
    ma = masnn.MASNN(
        T=4, input_size=(8, 8), channels=(4,), pools=(2,), fc_hidden=4, reduction_t=2, reduction_c=2
    )
    assert all((n.tau, n.v_threshold, n.detach_reset) == (10 / 7, 0.3, True) for n in _neurons(ma))


def test_maxformer_neuron_defaults_follow_the_reference() -> None:
    imagenet = maxformer.MaxFormer(T=1, embed_dims=64, depths=(1, 1, 1), mlp_ratio=1.0)
    ssa = imagenet.stage3[0].mixer.attn
    assert ssa.attn_lif.v_threshold == 0.5 and ssa.qkv_lif.detach_reset
    assert not imagenet.stage1[0].mlp.fc1_lif.detach_reset  # LIFNode's own default outside SSA
    cifar = maxformer.MaxFormer(T=1, embed_dims=64, depths=(1, 1, 1), mlp_ratio=1.0, cifar=True)
    assert all(n.detach_reset and n.tau == 2.0 for n in _neurons(cifar))
    assert cifar.stage3[0].attn.attn_lif.v_threshold == 0.5
    assert cifar.stage3[0].attn.num_heads == 8


def test_kwargs_reach_every_neuron_and_a_custom_class_gets_only_them() -> None:
    model = ms_resnet.MSResNet(T=1, layers=(1, 1, 1), base_channels=4, tau=3.0, backend="torch")
    assert all(
        n.tau == 3.0 and n.v_threshold == 0.5 and n.backend == "torch" for n in _neurons(model)
    )
    model = ms_resnet.MSResNet(
        T=1, layers=(1, 1, 1), base_channels=4, spiking_neuron=snn_neurons.IFNode, detach_reset=True
    )
    ifs = [m for m in model.modules() if isinstance(m, snn_neurons.IFNode)]
    assert len(ifs) == 7 and all(n.v_threshold == 1.0 and n.detach_reset for n in ifs)


def test_shared_learnable_neuron_of_the_fused_qkv() -> None:
    model = maxformer.MaxFormer(
        T=1, embed_dims=32, depths=(1, 1, 1), mlp_ratio=1.0, cifar=True,
        spiking_neuron=snn_neurons.ParametricLIFNode,
    )  # fmt: skip
    attn = model.stage3[0].attn
    assert attn.k_lif.w is attn.q_lif.w and attn.v_lif.w is attn.q_lif.w
    state = model.state_dict()
    assert "stage3.0.attn.qkv_lif.w" in state and "stage3.0.attn.q_lif.w" not in state
    state["stage3.0.attn.qkv_lif.w"] = torch.tensor(0.25)
    model.load_state_dict(state, strict=True)
    assert attn.v_lif.w.item() == 0.25


def test_state_dict_round_trip_keeps_outputs() -> None:
    case = next(c for c in CASES if c[0] == "maxformer_cifar")
    a, x, _ = build(case)
    det_init(a)
    b, _, _ = build(case)
    b.load_state_dict(a.state_dict(), strict=True)
    a.eval(), b.eval()
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
    fused = a.state_dict()["stage3.0.attn.qkv.0.weight"]
    assert fused.shape == (192, 64, 1)
    assert torch.equal(fused[64:128], a.stage3[0].attn.k_conv.weight)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ms_resnet.MSResNet(layers=(2, 2)), "layers"),
        (lambda: ms_resnet.MSResNet(layers=(1, 1, 1), stage_channels=(8, 8)), "stage_channels"),
        (lambda: ms_resnet.ms_resnet18(spiking_neuron="LIF"), "spiking_neuron"),
        (lambda: ms_resnet.ms_resnet18(step_mode="s"), "step_mode"),
        (lambda: masnn.MASNN(channels=(4, 4), pools=(2,)), "channels and pools"),
        (lambda: masnn.MASNN(input_size=(30, 30)), "input_size"),
        (lambda: maxformer.MaxFormer(depths=(1, 2)), "depths"),
        (lambda: maxformer.MaxFormer(embed_dims=36, cifar=True), "embed_dims"),
        (lambda: maxformer.maxformer_10_384(spiking_neuron=3), "spiking_neuron"),
    ],
)
def test_bad_arguments_are_named(make, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_bad_inputs_are_named() -> None:
    model = ms_resnet.MSResNet(T=1, layers=(1, 1, 1), base_channels=4)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\].*got shape \(3, 8, 8\)"):
        model(torch.zeros(3, 8, 8))
    ma = masnn.MASNN(
        T=4, input_size=(8, 8), channels=(4,), pools=(2,), fc_hidden=4, reduction_t=2, reduction_c=2
    )
    with pytest.raises(ValueError, match="T=4"):
        ma(torch.zeros(3, 1, 2, 8, 8))
