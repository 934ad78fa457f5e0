"""Make the figures of docs/visualizing.md from a real run of the bundled digits model.

    python docs/examples/make_visualizing_figures.py [--out docs/_assets/visualizing]

Loads ``snn_zoo.create_model("spikformer_digits", pretrained=True)`` (trained with T=4; run
here with T=16 so the spike trains are long enough to see), feeds it test images of
scikit-learn's digits, records spikes and membrane potentials with ``snn_core.monitor``, and
draws each plot of ``snn_core.visualizing`` from those records. For ``plot_one_neuron_v_s``
a single ``snn_neurons.LIFNode`` is driven by the input current that one neuron of the model
receives, and the script checks that it spikes exactly as the model's neuron does.
Needs the zoo's ``train`` extra (scikit-learn, matplotlib). Takes about a minute on a CPU.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import snn_zoo
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from snn_core import monitor, visualizing
from snn_neurons import LIFNode

T = 16  # time steps of the run (the model was trained with T=4)
BATCH = 100  # test images for the per-layer firing rates
SAMPLE = 0  # the test image whose spikes are drawn
FIGSIZE = (8, 5)
DPI = 100


def test_images() -> tuple[torch.Tensor, torch.Tensor]:
    """The zoo's fixed digits test split (450 images), normalised as the model expects."""
    digits = load_digits()
    _, idx = train_test_split(
        list(range(len(digits.target))), test_size=0.25, random_state=0, stratify=digits.target
    )
    cfg = snn_zoo.get_pretrained_cfg("spikformer_digits")
    x = torch.tensor(digits.images[idx], dtype=torch.float32).unsqueeze(1) / 16.0
    x = (x - cfg["mean"][0]) / cfg["std"][0]
    return x, torch.tensor(digits.target[idx])


def save(fig: plt.Figure, out: Path, name: str) -> None:
    path = out / f"{name}.png"
    fig.savefig(path)
    plt.close(fig)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = snn_zoo.create_model("spikformer_digits", pretrained=True, T=T).eval()
    x, y = test_images()
    x, y = x[:BATCH], y[:BATCH]

    fc1 = model.block[0].mlp.fc1_lif  # 256 hidden neurons of the MLP, on 4 x 4 tokens
    fc1.store_v_seq = True
    with (
        monitor.OutputMonitor(model, LIFNode) as spikes,
        monitor.InputMonitor(model, LIFNode) as currents,
        monitor.AttributeMonitor("v_seq", False, model, LIFNode) as potentials,
        torch.no_grad(),
    ):
        logits = model(x)
    accuracy = (logits.argmax(1) == y).float().mean().item()
    print(f"accuracy on {BATCH} test images at T={T}: {100 * accuracy:.1f} %")
    print(f"sample {SAMPLE}: digit {y[SAMPLE].item()}, predicted {logits[SAMPLE].argmax().item()}")
    name_fc1 = "block.0.mlp.fc1_lif"
    s_fc1 = spikes[name_fc1][0][:, SAMPLE, :, 1, 1]  # [T, 256] at token (1, 1)
    v_fc1 = potentials[name_fc1][0][:, SAMPLE, :, 1, 1]
    # 32 of the hidden neurons that spike at this token, spread from the least to the most active
    active = torch.nonzero(s_fc1.sum(0)).flatten()
    by_rate = active[s_fc1[:, active].sum(0).argsort(stable=True)]
    neurons = by_rate[torch.linspace(0, len(by_rate) - 1, 32).round().long()].sort().values

    fig, _ = visualizing.plot_2d_heatmap(
        v_fc1[:, neurons],
        title=f"Membrane potentials of 32 neurons of {name_fc1}, token (1, 1)",
        xlabel="time step",
        ylabel="neuron index",
        x_max=T,
        figsize=FIGSIZE,
        dpi=DPI,
    )
    save(fig, out, "plot_2d_heatmap")

    fig, _ = visualizing.plot_1d_spikes(
        s_fc1[:, neurons],
        title=f"Spikes of 32 neurons of {name_fc1}, token (1, 1)",
        xlabel="time step",
        ylabel="neuron index",
        figsize=FIGSIZE,
        dpi=DPI,
    )
    save(fig, out, "plot_1d_spikes")

    name_sps = "patch_embed.proj_lif2"
    rates_sps = spikes[name_sps][0][:, SAMPLE].mean(0)  # [32, 8, 8] firing rate of each map
    fig, _ = visualizing.plot_2d_feature_map(
        rates_sps,
        nrows=4,
        ncols=8,
        space=2,
        title=f"Firing rates of the 32 feature maps of {name_sps} (digit {y[SAMPLE].item()})",
        figsize=FIGSIZE,
        dpi=DPI,
    )
    save(fig, out, "plot_2d_feature_map")

    layers = spikes.monitored_layers
    per_step = torch.stack([spikes[n][0].flatten(1).mean(1) for n in layers], dim=1)  # [T, L]
    steps_3d = 8  # the first 8 steps keep the bars readable
    fig, _ = visualizing.plot_2d_bar_in_3d(
        per_step[:steps_3d],
        title=f"Firing rate of each spiking layer, steps 0-{steps_3d - 1} ({BATCH} test images)",
        xlabel="layer index",
        ylabel="time step",
        zlabel="firing rate",
        dpi=DPI,
    )
    save(fig, out, "plot_2d_bar_in_3d")
    for i, n in enumerate(layers):
        print(f"  layer {i:2d}: {n:24s} mean rate {per_step[:, i].mean().item():.3f}")

    # One neuron: the most varied potential among fc1 neurons that fire 20-40 % of steps.
    x_fc1 = currents[name_fc1][0][:, SAMPLE, :, 1, 1]  # [T, 256] input current
    rate = s_fc1.mean(0)
    score = torch.where((rate >= 0.2) & (rate <= 0.4), v_fc1.std(0), torch.tensor(-1.0))
    k = int(score.argmax())
    lif = LIFNode(tau=fc1.tau, v_threshold=fc1.v_threshold, v_reset=fc1.v_reset)
    v, s = [], []
    with torch.no_grad():
        for t in range(T):
            s.append(lif(x_fc1[t, k : k + 1]))
            v.append(lif.v.clone())
    v, s = torch.cat(v), torch.cat(s)
    assert torch.equal(s, s_fc1[:, k]), "the lone LIF should spike as the model's neuron does"
    torch.testing.assert_close(v, v_fc1[:, k])
    fig, _, _ = visualizing.plot_one_neuron_v_s(
        v,
        s,
        v_threshold=lif.v_threshold,
        v_reset=lif.v_reset,
        title=f"LIFNode(tau={lif.tau}) driven by the input of {name_fc1}[{k}], token (1, 1)",
        figsize=FIGSIZE,
        dpi=DPI,
    )
    save(fig, out, "plot_one_neuron_v_s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1] / "_assets" / "visualizing"
    parser.add_argument("--out", type=Path, default=default)
    main(parser.parse_args().out)
