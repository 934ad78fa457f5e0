"""``snn-zoo train`` under faults: an existing run, resume, Ctrl-C, bad output / data
directories, concurrent saves, a non-finite loss; and the honesty of what runs report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from snn_zoo import _runs, list_models, train
from snn_zoo._checkpoint import load_state_dict_file, save_checkpoint, sha256_of
from snn_zoo.cli import main

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

# Small enough for a CPU test: 96 training and 64 test images, 3 batches per epoch.
TINY = ["--train-samples", "96", "--test-samples", "64", "--batch-size", "32", "--no-progress"]
TINY += ["--no-plots"]  # plots are checked by test_cli.py
TIMING = ("images_per_s", "epoch_time_s")


def _train(out: Path, *extra: str) -> int:
    return main(["train", "--output-dir", str(out), *TINY, *extra])


def _metrics(out: Path) -> list[dict]:
    rows = json.loads((out / "metrics.json").read_text())
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def _snapshot(out: Path) -> dict[str, str]:
    return {p.name: sha256_of(p) for p in sorted(out.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def two_epoch_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run2")
    assert _train(out, "--epochs", "2") == 0
    return out


class _Interrupt:
    """Raises KeyboardInterrupt (as Ctrl-C does) at the start of epoch ``at``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at: int) -> None:
        original = train._Loop.run_epoch

        def run_epoch(loop, epoch):
            if epoch == at:
                raise KeyboardInterrupt
            return original(loop, epoch)

        monkeypatch.setattr(train._Loop, "run_epoch", run_epoch)


# ------------------------------------------------------------------ an existing run


def test_second_run_into_a_run_directory_is_refused_and_the_first_kept(
    two_epoch_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(two_epoch_run)
    capsys.readouterr()
    assert _train(two_epoch_run, "--epochs", "1") == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err
    for option in ("--resume", "--output-dir", "--overwrite"):
        assert option in err
    assert "Traceback" not in err
    assert _snapshot(two_epoch_run) == before


def test_overwrite_replaces_the_run(two_epoch_run: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(two_epoch_run, run)
    assert _train(run, "--epochs", "1", "--overwrite") == 0
    assert [r["epoch"] for r in _metrics(run)] == [1]
    assert json.loads((run / "result.json").read_text())["epochs"] == 1
    assert _runs.load_train_state(run / _runs.STATE_FILE)["epoch"] == 1


# ------------------------------------------------------------------ resume


def test_resume_ends_with_the_metrics_of_an_uninterrupted_run(
    two_epoch_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with monkeypatch.context() as m:
        _Interrupt(m, at=2)
        assert _train(tmp_path, "--epochs", "2") == 130
    err = capsys.readouterr().err
    assert "saved up to epoch 1" in err and f"--resume {tmp_path}" in err
    assert [r["epoch"] for r in _metrics(tmp_path)] == [1]
    assert main(["train", "--resume", str(tmp_path), "--no-progress"]) == 0
    assert _metrics(tmp_path) == _metrics(two_epoch_run)
    resumed = load_state_dict_file(tmp_path / "checkpoint.safetensors")
    straight = load_state_dict_file(two_epoch_run / "checkpoint.safetensors")
    assert resumed.keys() == straight.keys()
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["test_acc"] == _metrics(two_epoch_run)[-1]["test_acc"]


def test_resume_restores_model_optimizer_schedule_and_rng(two_epoch_run: Path) -> None:
    state = _runs.load_train_state(two_epoch_run / _runs.STATE_FILE)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert state["best_acc"] == max(r["test_acc"] for r in state["history"])
    assert state["optimizer"]["state"] and state["scheduler"]["last_epoch"] == 6  # 2 x 3 steps
    assert set(state["rng"]) == {"torch", "cuda", "python", "numpy", "loader"}
    assert state["config"]["epochs"] == 2


def test_resume_with_changed_settings_is_refused(
    two_epoch_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--resume", str(two_epoch_run), "--epochs", "5", "--lr", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "epochs: 2 -> 5" in err and "lr: 0.002 -> 0.1" in err


def test_resuming_a_finished_run_changes_nothing(
    two_epoch_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(two_epoch_run)
    assert main(["train", "--resume", str(two_epoch_run)]) == 0
    assert "already finished all 2 epochs" in capsys.readouterr().out
    assert _snapshot(two_epoch_run) == before


def test_resume_into_another_run_directory_is_refused(
    two_epoch_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    other = tmp_path / "other"
    shutil.copytree(two_epoch_run, other)
    before = _snapshot(other)
    assert main(["train", "--resume", str(two_epoch_run), "--output-dir", str(other)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert _snapshot(other) == before


def test_resume_without_a_saved_state_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "nothing to resume" in err and str(tmp_path) in err


def test_resume_from_an_empty_state_file_says_it_is_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / _runs.STATE_FILE).write_bytes(b"")
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "empty" in capsys.readouterr().err


def test_interrupt_before_the_first_epoch_says_nothing_is_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _Interrupt(monkeypatch, at=1)
    assert _train(tmp_path, "--epochs", "2") == 130
    assert "nothing was saved" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # so the same command can simply run again


def test_sigint_during_training_keeps_a_resumable_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = (  # SIGINT may be ignored when the tests run in the background: restore Ctrl-C
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import snn_neurons.fused as f; f.settings.compile = False\n"
        "import sys; from snn_zoo.cli import main; sys.exit(main(sys.argv[1:]))\n"
    )
    argv = ["train", "--output-dir", str(out), "--epochs", "500", "--threads", "1", *TINY]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / _runs.STATE_FILE).exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no checkpoint after 120 s"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    err_s = err.decode()
    assert proc.returncode == 130, err_s
    assert "Traceback" not in err_s
    assert f"snn-zoo train --resume {out}" in err_s
    state = _runs.load_train_state(out / _runs.STATE_FILE)
    assert state["epoch"] >= 1 and len(state["history"]) == state["epoch"]
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


# ------------------------------------------------------------------ file-system faults


def test_output_dir_that_is_a_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "a_file"
    f.write_text("keep me")
    assert _train(f, "--epochs", "1") == 2
    err = capsys.readouterr().err
    assert "is a file, not a directory" in err and str(f) in err and "Traceback" not in err
    assert f.read_text() == "keep me"


def test_output_dir_that_cannot_be_created_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a_file").write_text("")
    bad = tmp_path / "a_file" / "run"
    assert _train(bad, "--epochs", "1") == 2
    err = capsys.readouterr().err
    assert "cannot create --output-dir" in err and str(bad) in err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_output_dir_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert _train(ro, "--epochs", "1") == 2
    finally:
        ro.chmod(0o700)
    assert "is not writable" in capsys.readouterr().err


def test_prepare_output_dir_reports_an_unwritable_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root ignores permission bits, so simulate the OS refusing the write.
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_runs.tempfile, "TemporaryFile", refuse)
    with pytest.raises(ValueError, match="is not writable .Permission denied"):
        _runs.prepare_output_dir(tmp_path, resume=False, overwrite=False)


def test_data_dir_with_the_digits_data_set_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _train(tmp_path / "run", "--data-dir", str(tmp_path), "--epochs", "1") == 2
    err = capsys.readouterr().err
    assert "--data-dir" in err and "not used by dataset 'digits'" in err
    assert main(["eval", "--model", "spikformer_digits", "--pretrained", "--data-dir", "x"]) == 2


def _save_many(path: str, seed: int, n: int) -> None:
    model = torch.nn.Linear(64, 64)
    torch.manual_seed(seed)
    for _ in range(n):
        save_checkpoint(model, path)


def test_concurrent_saves_to_one_path_never_collide(tmp_path: Path) -> None:
    import multiprocessing as mp

    path = tmp_path / "shared.safetensors"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_save_many, args=(str(path), s, 75)) for s in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    state = load_state_dict_file(path)  # whole: one of the two models, readable
    assert set(state) == {"weight", "bias"} and state["weight"].shape == (64, 64)
    assert [p.name for p in tmp_path.iterdir()] == ["shared.safetensors"]


def test_empty_checkpoint_file_says_it_is_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    assert main(["eval", "--model", "spikformer_digits", "--checkpoint", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "is empty (0 bytes)" in err and "trust" not in err
    empty_pt = tmp_path / "empty.pth"
    empty_pt.write_bytes(b"")
    assert main(["eval", "--model", "spikformer_digits", "--checkpoint", str(empty_pt)]) == 2
    assert "is empty (0 bytes)" in capsys.readouterr().err


# ------------------------------------------------------------------ non-finite training


def test_non_finite_loss_stops_training_before_saving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # lr = 1e30: the first AdamW step makes the weights huge, the next loss is NaN.
    assert _train(tmp_path, "--epochs", "2", "--lr", "1e30") == 1
    err = capsys.readouterr().err
    assert "loss became non-finite" in err and "epoch 1, batch" in err and "--lr" in err
    assert "Traceback" not in err
    assert not (tmp_path / "checkpoint.safetensors").exists()


def test_non_finite_loss_after_a_good_epoch_keeps_that_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch.nn.functional as F

    real = F.cross_entropy
    calls = {"n": 0}

    def nan_after_epoch_1(logits, y, **kw):  # 3 training batches per epoch
        loss = real(logits, y, **kw)
        if "label_smoothing" not in kw:  # evaluation
            return loss
        calls["n"] += 1
        return loss * float("nan") if calls["n"] == 5 else loss

    monkeypatch.setattr(train.F, "cross_entropy", nan_after_epoch_1)
    assert _train(tmp_path, "--epochs", "2") == 1
    assert "epoch 2, batch 2" in capsys.readouterr().err
    state = load_state_dict_file(tmp_path / "checkpoint.safetensors")
    assert all(torch.isfinite(t).all() for t in state.values())
    assert [r["epoch"] for r in _metrics(tmp_path)] == [1]


def test_detect_anomaly_names_the_first_non_finite_neuron(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _train(tmp_path, "--epochs", "2", "--lr", "1e30", "--detect-anomaly") == 1
    err = capsys.readouterr().err
    # The weights overflow to inf after the first step; the first neuron fed by an inf
    # product is named, with the time step.
    assert "anomaly detection: LIFNode '" in err and "at time step 0" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------ honest figures


def test_images_per_s_is_total_images_over_total_time(two_epoch_run: Path) -> None:
    result = json.loads((two_epoch_run / "result.json").read_text())
    rows = json.loads((two_epoch_run / "metrics.json").read_text())
    assert result["train_images"] == 2 * 96 == sum(r["train_images"] for r in rows)
    assert result["train_time_s"] == pytest.approx(sum(r["epoch_time_s"] for r in rows))
    assert result["images_per_s"] == pytest.approx(192 / result["train_time_s"])


def test_run_card_describes_this_run_not_the_shipped_weights(two_epoch_run: Path) -> None:
    from snn_zoo import get_pretrained_cfg

    shipped = get_pretrained_cfg("spikformer_digits")
    card = json.loads((two_epoch_run / "card.json").read_text())
    assert card["sha256"] == sha256_of(two_epoch_run / "checkpoint.safetensors")
    assert card["sha256"] != shipped["sha256"]
    assert card["file"] == "checkpoint.safetensors"
    assert "reported_accuracy" not in card
    result = json.loads((two_epoch_run / "result.json").read_text())
    assert card["test_accuracy"] == round(100 * result["test_acc"], 2)
    assert card["params_m"] == round(result["params"] / 1e6, 4)


def test_help_is_plain_text_with_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["train", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "``" not in out and ":func:" not in out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "training epochs (default: 30)" in out and "(default: 0.002)" in out
    assert "(default: runs/{model})" in out


def test_list_shows_a_parameter_count_for_every_variant(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["list", "*digits*"]) == 0
    assert main(["list", "masnn*"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "_" in ln.split(" ")[0]]
    assert len(lines) == len(list_models("*digits*")) + len(list_models("masnn*")) >= 3
    for line in lines:
        assert line.split()[1] != "-"
    assert any(line.startswith("spikformer_digits") and "0.11" in line for line in lines)


def test_bench_states_weights_and_input(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "--model", "spikformer_digits", "--batch-size", "16", "--steps", "1"]
    assert main(args) == 0
    captured = capsys.readouterr()
    res = json.loads(captured.out)
    assert res["weights"].startswith("random") and "untrained" in captured.err
    assert res["input"].startswith("the first 16 images of the digits test split")
    assert main([*args, "--pretrained"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["weights"].startswith("pretrained") and "note" not in res
    # Trained weights on real digits: every spiking layer fires.
    assert sum(r > 0 for r in res["firing_rates"].values()) == len(res["firing_rates"])


def test_checkpoint_that_is_a_directory_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--model", "spikformer_digits", "--checkpoint", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_disk_full_while_saving_is_a_clear_error_and_keeps_the_last_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _runs.atomic_torch_save
    saves = {"n": 0}

    def full_on_second(obj, path):
        saves["n"] += 1
        if saves["n"] == 2:
            raise OSError(28, "No space left on device", str(path))
        real(obj, path)

    monkeypatch.setattr(_runs, "atomic_torch_save", full_on_second)
    assert _train(tmp_path, "--epochs", "2") == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert _runs.load_train_state(tmp_path / _runs.STATE_FILE)["epoch"] == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--epochs", "0"], "epochs must be a positive int, got 0"),
        (["--lr", "nan"], "lr must be a finite number >= 0, got nan"),
        (["--output-dir", "runs/{foo}"], "the only placeholder it may hold is {model}"),
        (["--device", "nonsense"], "--device 'nonsense' is not a device"),
        (["--model", "nope"], "unknown model 'nope'"),
        (["--train-samples", "0"], "train_samples must be a positive int"),
    ],
)
def test_bad_training_arguments_fail_before_touching_the_output_dir(
    argv: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["train", "--output-dir", str(out), "--epochs", "1", *argv]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_device_without_cuda_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--model", "spikformer_digits", "--pretrained", "--device", "cuda"]) == 2
    assert "no CUDA device is available" in capsys.readouterr().err


def test_firing_rate_plot_grows_with_the_layers_so_names_stay_readable(tmp_path: Path) -> None:
    import struct

    from snn_zoo.plots import plot_firing_rates

    def png_size(path: Path) -> tuple[int, int]:
        return struct.unpack(">II", path.read_bytes()[16:24])

    few = {f"blocks.{i}.attn.q_lif": 0.1 * i for i in range(3)}
    many = {f"blocks.{i}.attn.q_lif": 0.01 * i for i in range(40)}
    plot_firing_rates(few, tmp_path / "few.png")
    plot_firing_rates(many, tmp_path / "many.png")
    (_, h_few), (w_many, h_many) = (
        png_size(tmp_path / "few.png"),
        png_size(tmp_path / "many.png"),
    )
    # One bar per layer with a 9-pt label needs >= 0.3 inch (36 px at 120 dpi) per layer.
    assert h_many >= 40 * 36 and h_many > h_few
    assert w_many >= 600
