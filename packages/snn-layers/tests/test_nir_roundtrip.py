"""Ours -> NIR file -> ours gives the same outputs, for every mapped module and both step modes."""

from __future__ import annotations

import numpy as np
import pytest
import snn_layers as L
import torch
from snn_core import functional as F
from snn_neurons import (
    CUBALIFNode,
    IFNode,
    ILIFNode,
    LIFNode,
    NonSpikingIFNode,
    NonSpikingLIFNode,
    ParametricLIFNode,
)
from torch import nn

nir = pytest.importorskip("nir")
from snn_layers.nir import export_to_nir, import_from_nir  # noqa: E402
from snn_layers.nir._nodes import NIRLIF, NIRDelay  # noqa: E402

T = 6


def _run(net: nn.Module, x: torch.Tensor, multi: bool) -> torch.Tensor:
    F.reset_net(net)
    with torch.no_grad():
        if multi:
            return net(x)
        return torch.stack([net(x_t) for x_t in x])


def _roundtrip(net: nn.Module, x_seq: torch.Tensor, tmp_path, multi: bool, dt: float = 1.0):
    """Export (sample: one step or the sequence), write, read, import; return both outputs."""
    sample = x_seq if multi else x_seq[0]
    path = tmp_path / "net.nir"
    nir.write(path, export_to_nir(net, sample, dt=dt))
    back = import_from_nir(nir.read(path), dt=dt)
    return _run(net, x_seq, multi), _run(back, x_seq, multi), back


def _mlp(neuron: nn.Module, mode: str) -> nn.Sequential:
    torch.manual_seed(1)
    net = nn.Sequential(L.Linear(8, 16), neuron, L.Linear(16, 4, bias=False))
    F.set_step_mode(net, mode)
    return net


NEURONS = {
    "IF hard": lambda: IFNode(v_threshold=0.8, v_reset=-0.1),
    "IF soft": lambda: IFNode(v_reset=None),
    "LIF decay_input": lambda: LIFNode(tau=2.5, v_reset=0.2, v_threshold=0.9),
    "LIF no decay_input": lambda: LIFNode(tau=3.0, decay_input=False),
    "LIF soft": lambda: LIFNode(tau=2.0, v_reset=None),
    "LIF soft no decay_input": lambda: LIFNode(tau=4.0, decay_input=False, v_reset=None),
    "PLIF": lambda: ParametricLIFNode(init_tau=3.0),
    "CUBA-LIF": lambda: CUBALIFNode(c_decay=0.6, v_decay=0.8),
    "CUBA-LIF soft": lambda: CUBALIFNode(v_reset=None),
}


CASES = [(kind, "s") for kind in NEURONS] + [
    (kind, "m") for kind in ("IF soft", "LIF decay_input", "CUBA-LIF")
]


@pytest.mark.parametrize(("kind", "mode"), CASES)
def test_neuron_round_trip_gives_identical_spikes(kind, mode, tmp_path):
    net = _mlp(NEURONS[kind](), mode)
    x = torch.rand(T, 5, 8) * 2
    ours, back, imported = _roundtrip(net, x, tmp_path, mode == "m")
    assert torch.equal(ours, back)
    spikes = _run(net[:2], x, mode == "m")
    assert 0 < spikes.mean() < 1  # the neurons fire, but not always
    expected = type(net[1]) if kind != "PLIF" else LIFNode
    assert type(imported[1]) is expected


@pytest.mark.parametrize("dt", [1.0, 1e-3])
def test_time_constants_scale_with_dt(dt, tmp_path):
    net = _mlp(LIFNode(tau=4.0, decay_input=False), "s")
    graph = export_to_nir(net, torch.rand(2, 8), dt=dt)
    lif = graph.nodes["1"]
    np.testing.assert_allclose(lif.tau, np.full(16, 4.0 * dt))
    np.testing.assert_allclose(lif.r, np.full(16, 4.0))
    back = import_from_nir(graph, dt=dt)
    assert back[1].tau == pytest.approx(4.0) and back[1].decay_input is False


def test_readouts_round_trip_in_multi_step_mode(tmp_path):
    torch.manual_seed(0)
    for readout in (NonSpikingLIFNode(tau=3.0), NonSpikingIFNode()):
        net = nn.Sequential(L.Linear(8, 6, step_mode="m"), LIFNode(step_mode="m"), readout)
        net.append(L.Linear(6, 3, step_mode="m"))
        x = torch.rand(T, 4, 8) * 2
        ours, back, imported = _roundtrip(net, x, tmp_path, True)
        assert torch.equal(ours, back)
        assert type(imported[2]) is type(readout)


def test_conv_pool_flatten_network_round_trips(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(
        L.Conv2d(2, 4, 3, padding=1, bias=False),
        LIFNode(),
        L.AvgPool2d(2),
        L.Conv2d(4, 4, 3, stride=2, padding=1, dilation=1),
        IFNode(),
        L.AvgPool2d(2, divisor_override=1),  # sum pooling
        L.Flatten(),
        L.Linear(4, 3),
        LIFNode(),
    )
    for mode in ("s", "m"):
        F.set_step_mode(net, mode)
        x = torch.rand(T, 3, 2, 8, 8) * 3
        ours, back, imported = _roundtrip(net, x, tmp_path, mode == "m")
        assert torch.equal(ours, back)
    graph = export_to_nir(net, x)
    assert {type(n).__name__ for n in graph.nodes.values()} >= {"AvgPool2d", "SumPool2d"}


def test_conv1d_network_round_trips(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(L.Conv1d(3, 5, 3, padding=1), LIFNode(), nn.Flatten(), nn.Linear(40, 2))
    x = torch.rand(T, 4, 3, 8) * 2
    ours, back, _ = _roundtrip(net, x, tmp_path, False)
    assert torch.equal(ours, back)


def test_plain_torch_layers_in_a_multi_step_network(tmp_path):
    # torch.nn layers see [T, N, *] directly: nn.Flatten(2) flattens the features of one sample
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(2), nn.Linear(12, 5), LIFNode(step_mode="m"))
    x = torch.rand(T, 3, 3, 4) * 2
    graph = export_to_nir(net, x)
    assert graph.nodes["0"].start_dim == 0
    ours, back, _ = _roundtrip(net, x, tmp_path, True)
    assert torch.equal(ours, back)


@pytest.mark.parametrize("container", ["SeqToANN", "MultiStep", "StepMode", "TLast"])
def test_step_mode_containers_round_trip(container, tmp_path):
    torch.manual_seed(0)
    if container == "SeqToANN":
        net = nn.Sequential(
            L.SeqToANNContainer(nn.Conv2d(1, 3, 3), nn.Flatten()), LIFNode(step_mode="m")
        )
    elif container == "MultiStep":
        net = nn.Sequential(
            L.SeqToANNContainer(nn.Conv2d(1, 3, 3), nn.Flatten()),
            L.MultiStepContainer(LIFNode(), nn.Linear(12, 4), IFNode()),
        )
    elif container == "StepMode":
        net = nn.Sequential(
            L.StepModeContainer(False, nn.Conv2d(1, 3, 3), nn.Flatten(), step_mode="m"),
            L.StepModeContainer(True, LIFNode(), step_mode="m"),
        )
    else:  # the time-last containers hold the same per-step graph
        net = L.TLastMultiStepContainer(nn.Conv2d(1, 3, 3), nn.Flatten(), LIFNode())
    x = torch.rand(T, 2, 1, 4, 4) * 4
    graph = export_to_nir(net, x.movedim(0, -1) if container == "TLast" else x)
    back = import_from_nir(graph)
    assert graph.metadata["step_mode"] == "m"
    ours = net(x.movedim(0, -1)).movedim(-1, 0) if container == "TLast" else _run(net, x, True)
    assert torch.equal(ours, _run(back, x, True))


def test_delay_round_trips_with_steps_times_dt(tmp_path):
    net = nn.Sequential(L.Linear(3, 3), L.Delay(2), IFNode())
    graph = export_to_nir(net, torch.rand(1, 3), dt=0.5)
    np.testing.assert_array_equal(graph.nodes["1"].delay, np.full(3, 1.0))
    x = torch.rand(T, 2, 3) * 2
    for mode in ("s", "m"):
        F.set_step_mode(net, mode)
        ours, back, imported = _roundtrip(net, x, tmp_path, mode == "m", dt=0.5)
        assert torch.equal(ours, back) and imported[1].delay_steps == 2


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = L.Linear(6, 6)
        self.lif1 = LIFNode()
        self.fc2 = L.Linear(6, 6)
        self.lif2 = LIFNode()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lif1(self.fc1(x))
        return self.lif2(self.fc2(h) + x)


def test_a_graph_with_a_skip_connection_round_trips(tmp_path):
    torch.manual_seed(0)
    net = _Residual()
    graph = export_to_nir(net, torch.rand(2, 6))
    assert ("input", "lif2") in graph.edges and ("fc2", "lif2") in graph.edges
    x = torch.rand(T, 3, 6) * 2
    ours, back, imported = _roundtrip(net, x, tmp_path, False)
    assert torch.equal(ours, back)
    assert not isinstance(imported, nn.Sequential)
    F.set_step_mode(net, "m")
    F.set_step_mode(imported, "m")
    assert torch.equal(_run(net, x, True), _run(imported, x, True))


def test_identity_and_dropout_are_left_out():
    net = nn.Sequential(nn.Identity(), L.Linear(3, 2), nn.Dropout(0.5), IFNode())
    graph = export_to_nir(net, torch.rand(1, 3))
    assert sorted(graph.nodes) == ["1", "3", "input", "output"]


def test_soft_reset_is_recorded_in_the_metadata_and_survives_the_file(tmp_path):
    graph = export_to_nir(_mlp(LIFNode(v_reset=None), "s"), torch.rand(1, 8))
    assert graph.nodes["1"].metadata == {"reset": "subtract"}
    nir.write(tmp_path / "g.nir", graph)
    assert import_from_nir(tmp_path / "g.nir")[1].v_reset is None


def test_non_uniform_parameters_import_to_a_tensor_neuron():
    graph = nir.NIRGraph.from_list(
        nir.LIF(
            tau=np.array([2.0, 3.0]),
            r=np.ones(2),
            v_leak=np.zeros(2),
            v_threshold=np.ones(2),
        )
    )
    assert isinstance(import_from_nir(graph)[0], NIRLIF)
    delays = nir.NIRGraph.from_list(nir.Delay(delay=np.array([1.0, 2.0])))
    assert isinstance(import_from_nir(delays)[0], NIRDelay)


@pytest.mark.parametrize(
    ("net", "x", "named"),
    [
        (nn.Sequential(nn.Conv2d(1, 2, 1), L.MaxPool2d(2)), torch.rand(1, 1, 4, 4), "MaxPool2d"),
        (nn.Sequential(nn.Conv1d(4, 4, 1, groups=2)), torch.rand(1, 4, 3), "groups=2"),
        (nn.Sequential(L.Linear(4, 4), ILIFNode()), torch.rand(1, 4), "ILIFNode"),
        (nn.Sequential(L.Linear(4, 4), L.BatchNorm1d(4)), torch.rand(2, 4), "BatchNorm1d"),
        (
            nn.Sequential(L.Linear(4, 4, step_mode="m"), NonSpikingLIFNode(decode="mean-mem")),
            torch.rand(2, 1, 4),
            "decode='mean-mem'",
        ),
    ],
    ids=["maxpool", "grouped-conv", "ILIF", "batchnorm", "decode"],
)
def test_an_unsupported_module_is_an_error_naming_it(net, x, named):
    with pytest.raises(ValueError, match=named):
        export_to_nir(net, x)


def test_unsupported_functions_in_forward_are_named():
    class Cat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return torch.cat([self.fc(x), x], dim=1)

    with pytest.raises(ValueError, match="cat"):
        export_to_nir(Cat(), torch.rand(1, 2))


def test_import_errors_name_the_problem():
    lin = nir.Linear(weight=np.eye(2))
    with pytest.raises(ValueError, match="dt must be a positive"):
        import_from_nir(nir.NIRGraph.from_list(lin), dt=0.0)
    with pytest.raises(ValueError, match="step_mode"):
        import_from_nir(nir.NIRGraph.from_list(lin), step_mode="x")
    with pytest.raises(ValueError, match="whole number of steps"):
        import_from_nir(nir.NIRGraph.from_list(nir.Delay(delay=np.array([0.5]))))


def test_missing_nir_gives_an_install_hint(monkeypatch):
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "nir", None)
    for name in [m for m in sys.modules if m.startswith("snn_layers.nir")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=r"pip install snn-layers\[nir\]"):
        importlib.import_module("snn_layers.nir")


def test_import_snn_layers_does_not_import_nir():
    import subprocess
    import sys

    code = "import sys, snn_layers; print('nir' in sys.modules, 'snn_layers.nir' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_a_single_neuron_exports_as_a_one_node_graph():
    graph = export_to_nir(LIFNode(tau=3.0), torch.rand(2, 5))
    assert [type(n).__name__ for n in graph.nodes.values()] == ["Input", "LIF", "Output"]
    assert graph.nodes["input"].input_type["input"].tolist() == [5]


def test_export_leaves_the_network_state_alone():
    net = _mlp(LIFNode(), "s")
    x = torch.rand(T, 3, 8) * 2
    ours = _run(net, x, False)  # the reference: one uninterrupted sequence
    F.reset_net(net)
    with torch.no_grad():
        first = [net(x_t) for x_t in x[:3]]
        export_to_nir(net, torch.rand(7, 8))  # another batch size, mid-sequence
        rest = [net(x_t) for x_t in x[3:]]
    assert torch.equal(torch.stack(first + rest), ours)


@pytest.mark.parametrize("dt", [0, -1.0, float("inf"), "1"])
def test_export_rejects_a_bad_dt(dt):
    with pytest.raises(ValueError, match="dt must be a positive finite number"):
        export_to_nir(L.Linear(2, 2), torch.rand(1, 2), dt=dt)


def test_submodules_named_input_or_output_keep_their_own_nodes(tmp_path):
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.input = L.Linear(3, 4)
            self.output = IFNode()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.output(self.input(x))

    graph = export_to_nir(Net(), torch.rand(1, 3))
    assert [type(n).__name__ for n in graph.nodes.values()] == [
        "Input",
        "Affine",
        "IF",
        "Output",
    ]
    x = torch.rand(T, 2, 3) * 2
    ours, back, _ = _roundtrip(Net(), x, tmp_path, False)
    assert torch.equal(ours, back)


def test_adaptive_average_pooling_exports_as_average_pooling(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(
        L.Conv2d(1, 4, 3, padding=1), LIFNode(), L.AdaptiveAvgPool2d((2, 1)), L.Flatten()
    )
    net.append(L.Linear(8, 3))
    net.append(IFNode())
    x = torch.rand(T, 2, 1, 6, 4) * 3
    graph = export_to_nir(net, x[0])
    pool = graph.nodes["2"]
    assert type(pool).__name__ == "AvgPool2d" and pool.kernel_size.tolist() == [3, 4]
    ours, back, _ = _roundtrip(net, x, tmp_path, False)
    assert torch.equal(ours, back)
    with pytest.raises(ValueError, match="does not divide"):
        export_to_nir(nn.Sequential(nn.AdaptiveAvgPool2d(4)), torch.rand(1, 1, 6, 6))


@pytest.mark.parametrize("kind", ["linear", "element-wise"])
def test_recurrent_containers_round_trip_as_cycles(kind, tmp_path):
    torch.manual_seed(0)
    if kind == "linear":
        rec = L.LinearRecurrentContainer(
            nn.Sequential(LIFNode(), nn.Linear(6, 4)), in_features=6, out_features=4
        )
        net = nn.Sequential(L.Linear(3, 6), rec, IFNode())
    else:
        rec = L.ElementWiseRecurrentContainer(
            nn.Sequential(LIFNode(), nn.Linear(6, 6)), lambda y, x: x + y
        )
        net = nn.Sequential(L.Linear(3, 6), rec, IFNode())
    x = torch.rand(T, 2, 3) * 3
    graph = export_to_nir(net, x[0])
    cycle = (
        ("1_rc_rec", "1_sub_module_0") if kind == "linear" else ("1_sub_module_1", "1_sub_module_0")
    )
    assert cycle in graph.edges
    for mode in ("s", "m"):
        F.set_step_mode(net, mode)
        ours, back, _ = _roundtrip(net, x, tmp_path, mode == "m")
        assert torch.equal(ours, back)
        assert 0 < ours.mean() < 1


def test_element_wise_recurrence_other_than_addition_is_refused():
    rec = L.ElementWiseRecurrentContainer(IFNode(), lambda y, x: x * y)
    with pytest.raises(ValueError, match="not an addition"):
        export_to_nir(nn.Sequential(L.Linear(2, 2), rec), torch.rand(1, 2))
