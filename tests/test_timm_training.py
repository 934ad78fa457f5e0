"""A zoo model trained by timm's own training pieces, as timm's ``train.py`` wires them.

One epoch on the bundled digits with ``timm.create_model`` (train.py's constructor
arguments), ``create_optimizer_v2`` with layer-wise lr decay (the model's
``group_matcher``), a cosine scheduler, ``Mixup`` + ``SoftTargetCrossEntropy``, gradient
checkpointing and ``ModelEmaV3`` created after the first step (a deep copy of a model that
has just run forward and backward); then timm's checkpoint resume and EMA loading.
"""

from __future__ import annotations

import copy

import pytest
import torch

snn_zoo = pytest.importorskip("snn_zoo")
pytest.importorskip("sklearn")
try:
    import timm
    from timm.data import Mixup
    from timm.loss import SoftTargetCrossEntropy
    from timm.models import load_checkpoint, resume_checkpoint
    from timm.optim import create_optimizer_v2
    from timm.scheduler import create_scheduler_v2
    from timm.utils import CheckpointSaver, ModelEmaV3, accuracy
except Exception as exc:  # not installed, or torchvision not importable beside this torch
    pytest.skip(f"timm is not importable here: {exc}", allow_module_level=True)

from snn_zoo.data import load_dataset  # noqa: E402

BATCH = 32


def _evaluate(model: torch.nn.Module, data: torch.utils.data.Dataset) -> float:
    model.eval()
    x, y = data.tensors
    with torch.no_grad():
        return accuracy(model(x), y, topk=(1,))[0].item()


@pytest.fixture(autouse=True)
def _fast_cpu_settings():
    # one intra-op thread and the neurons' fused path run eagerly (compiling it would
    # dominate a one-epoch run; snn-neurons' tests check that both paths agree)
    import snn_neurons.fused

    threads, compile_flag = torch.get_num_threads(), snn_neurons.fused.settings.compile
    torch.set_num_threads(1)
    snn_neurons.fused.settings.compile = False
    yield
    torch.set_num_threads(threads)
    snn_neurons.fused.settings.compile = compile_flag


def test_one_epoch_with_timm_training_pieces(tmp_path):
    torch.manual_seed(0)
    spec = load_dataset("digits")
    assert snn_zoo.TIMM_REGISTERED
    model = timm.create_model(
        "spikformer_digits",
        pretrained=False,
        in_chans=spec.in_chans,
        num_classes=spec.num_classes,
        drop_rate=0.0,
        drop_path_rate=0.05,
        global_pool=None,
        bn_momentum=None,
        bn_eps=None,
        scriptable=False,
    )
    model.set_grad_checkpointing(True)
    before = _evaluate(model, spec.test)
    optimizer = create_optimizer_v2(model, "adamw", lr=5e-3, weight_decay=0.01, layer_decay=0.9)
    assert len({g["lr_scale"] for g in optimizer.param_groups}) == 3  # stem, block, head
    scheduler, epochs = create_scheduler_v2(optimizer, "cosine", num_epochs=1, warmup_epochs=0)
    mixup = Mixup(mixup_alpha=0.2, label_smoothing=0.1, num_classes=spec.num_classes)
    loss_fn = SoftTargetCrossEntropy()
    loader = torch.utils.data.DataLoader(spec.train, batch_size=BATCH, shuffle=True, drop_last=True)
    ema = None
    losses = []
    for epoch in range(epochs):
        model.train()
        for step, (x, y) in enumerate(loader):
            x, y = mixup(x, y)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if ema is None:  # timm's EMA deep-copies the model right after a training step
                # a short horizon: an average over many early, fast-moving steps of a
                # spiking network does not fire yet (decay 0.9 needs a few epochs here)
                ema = ModelEmaV3(model, decay=0.5)
            else:
                ema.update(model, step=step)
        scheduler.step(epoch + 1)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5
    after = _evaluate(model, spec.test)
    # chance is 10%; one epoch reaches about 50-70% (seeds 0-2), the EMA about the same
    assert after > max(before, 10.0) + 25.0, (before, after)
    ema_acc = _evaluate(ema.module, spec.test)
    assert ema_acc > 25.0, ema_acc
    copy.deepcopy(model)  # after training: no autograd graph in the neuron state

    # timm's checkpoints (as train.py writes them): resume model and optimizer, load the EMA
    saver = CheckpointSaver(
        model, optimizer, model_ema=ema, checkpoint_dir=str(tmp_path), recovery_dir=str(tmp_path)
    )
    saver.save_checkpoint(epoch=0, metric=after)
    path = tmp_path / "last.pth.tar"
    resumed = timm.create_model("spikformer_digits")
    resumed_opt = create_optimizer_v2(resumed, "adamw", lr=5e-3, layer_decay=0.9)
    assert resume_checkpoint(resumed, str(path), optimizer=resumed_opt) == 1
    for (k, a), b in zip(model.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    assert resumed_opt.state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()
    assert _evaluate(resumed, spec.test) == after
    from_ema = timm.create_model("spikformer_digits")
    load_checkpoint(from_ema, str(path), use_ema=True)
    assert _evaluate(from_ema, spec.test) == ema_acc
