"""Scaling out: the data path to the device, the speed options, GPU-hour estimates, DDP equivalence and resume.

CUDA-only paths are tested where CUDA exists (skipped here otherwise); on the CPU the same
code runs with its CPU branch. The DDP tests launch ``torchrun --nproc_per_node 2`` with gloo.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import engine_helpers
import numpy as np
import pytest
import scale_helpers
import torch
from torch import nn
from torch.utils.data import DataLoader

from sslvid.engine import PretrainConfig, Trainer, make_optimizer
from sslvid.engine.datapath import compile_backbones, prefetch_to_device, to_channels_last_3d
from sslvid.engine.step import StepOutput
from sslvid.scale.datapath_speed import measure_data_path
from sslvid.scale.estimate import (
    CHAPTERS,
    PAPER_CLIP,
    Throughput,
    Workload,
    backbone_gmacs,
    chapter_workloads,
    measure_passes,
)
from sslvid.scale.synthetic import build_synthetic_cache
from sslvid.store import RunStore

pytestmark = pytest.mark.usefixtures("one_thread", "data_home")

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


# ------------------------------------------------------------------------------ data path


def _raw_batches() -> list[dict]:
    return [
        {"clips": torch.full((2, 1, 4, 8, 8, 3), i, dtype=torch.uint8), "size": 2 if i != 1 else 0} for i in range(3)
    ]


def test_prefetch_prepares_in_order_keeps_uint8_and_passes_skips_on():
    prepare = lambda raw: None if raw["size"] == 0 else {"clips": raw["clips"]}  # noqa: E731
    out = list(prefetch_to_device(_raw_batches(), torch.device("cpu"), prepare))
    assert out[1] is None and [b["clips"][0, 0, 0, 0, 0, 0].item() for b in (out[0], out[2])] == [0, 2]
    assert all(b["clips"].dtype == torch.uint8 for b in (out[0], out[2]))


@CUDA
def test_cuda_prefetch_copies_uint8_batches_one_ahead_on_a_side_stream():
    device = torch.device("cuda")
    raw = [{"clips": b["clips"].pin_memory()} for b in _raw_batches()]
    out = list(prefetch_to_device(raw, device))
    torch.cuda.synchronize()
    assert all(b["clips"].is_cuda and b["clips"].dtype == torch.uint8 for b in out)
    assert [int(b["clips"].flatten()[0]) for b in out] == [0, 1, 2]


class RecordingModule(nn.Module):
    """Records the dtype and device of the clips it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.seen: list[tuple[torch.dtype, str]] = []

    def forward(self, batch):
        self.seen.append((batch["clips"].dtype, batch["clips"].device.type))
        loss = (self.w - batch["clips"].float().mean()) ** 2
        return StepOutput(loss, {}, batch["clips"].shape[0])


def test_the_trainer_hands_the_module_uint8_clips_on_its_device():
    data = [{"clips": torch.randint(0, 255, (1, 4, 8, 8, 3), dtype=torch.uint8)} for _ in range(4)]
    module = RecordingModule()
    trainer = Trainer(
        module,
        DataLoader(data, batch_size=2),
        make_optimizer("sgd", module, lr=0.01),
        epochs=1,
        device=torch.device("cpu"),
        progress=False,
    )
    trainer.fit()
    assert module.seen == [(torch.uint8, "cpu")] * 2, "uint8 goes to the device; the task makes floats there"


def test_channels_last_and_compile_keep_outputs_and_parameter_names():
    from sslvid.backbones import create_backbone

    torch.manual_seed(0)
    net = create_backbone("r2plus1d_18", num_classes=0, width=0.125).eval()
    x = torch.randn(2, 3, 4, 16, 16)
    names, before = list(net.state_dict()), net.forward_features(x)
    to_channels_last_3d(net)
    conv = next(m for m in net.modules() if isinstance(m, nn.Conv3d) and m.kernel_size[1] > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(net.forward_features(x), before, rtol=1e-4, atol=1e-5)
    compile_backbones(net, backend="eager")
    torch.testing.assert_close(net.forward_features(x), before, rtol=1e-4, atol=1e-5)
    assert list(net.state_dict()) == names, "checkpoints keep their names"


def test_speed_options_are_validated_and_not_hashed():
    base = PretrainConfig.for_profile("smoke", task="rotnet", backbone="squeezenet3d")
    fast = base.replace(channels_last=True, torch_compile=True)
    assert fast.config_hash() == base.config_hash()
    assert base.channels_last is False and base.torch_compile is False, "off by default"
    with pytest.raises(ValueError, match="torch_compile must be True or False"):
        base.replace(torch_compile="yes")


def test_synthetic_cache_reads_like_a_clip_cache(tmp_path):
    cache = build_synthetic_cache(tmp_path, videos=6, frames=10, size=(24, 30), classes=3)
    assert len(cache) == 6 and cache.frame_size == (24, 30) and cache.num_frames(5) == 10
    assert cache.read(4, [0, 9]).shape == (2, 24, 30, 3) and cache.index.labels().tolist() == [0, 1, 2] * 2
    assert build_synthetic_cache(tmp_path, videos=6, frames=10, size=(24, 30)).path == cache.path, "reused"


def test_data_path_measurement_at_smoke_size(tmp_path):
    result = measure_data_path(
        profile="smoke", backbone="squeezenet3d", steps=2, epochs=2, workers=0, frames_per_video=16, cache_root=tmp_path
    )
    assert (result.steps, result.batch_size, result.clips_per_video, result.device) == (2, 4, 1, "cpu")
    assert result.clips_per_s > 0 and 0.0 <= result.data_wait_fraction <= 1.0
    assert result.data_seconds <= result.seconds
    assert result.clips_per_s == pytest.approx(result.steps * result.batch_size / result.seconds)


@CUDA
def test_data_path_measurement_on_cuda(tmp_path):
    result = measure_data_path(
        profile="smoke",
        backbone="squeezenet3d",
        device="cuda",
        steps=2,
        epochs=2,
        workers=1,
        frames_per_video=16,
        cache_root=tmp_path,
        channels_last=True,
    )
    assert result.device.startswith("cuda") and result.clips_per_s > 0


# ------------------------------------------------------------------------------ estimates


def test_gpu_hours_of_a_hand_checked_workload():
    gmacs = backbone_gmacs("r2plus1d_18")
    assert gmacs == pytest.approx(40.52, rel=1e-3), "torchvision's R(2+1)D-18 figure at 16x112x112"
    # 1000 videos x 10 epochs, one clip with gradients: 2 FLOP/MAC x 3 (fwd + bwd) x 40.52e9 x 1e4
    work = Workload("pretrain", "k", "r2plus1d_18", PAPER_CLIP, videos=1000, epochs=10)
    assert work.flops() == pytest.approx(2 * 3 * gmacs * 1e9 * 1e4)
    assert work.gpu_hours(Throughput(tflops=50)) == pytest.approx(2.4312e15 / 50e12 / 3600, rel=1e-3)  # 0.0135 h
    # a momentum encoder adds one forward pass: 3 -> 4 forward-equivalents
    momentum = Workload("pretrain", "k", "r2plus1d_18", PAPER_CLIP, 1000, 10, frozen=(("r2plus1d_18", 1.0),))
    assert momentum.flops() == pytest.approx(work.flops() * 4 / 3)
    # ShuffleNet is data-bound: 1e4 clips at 1000 clips/s = 10 s, more than its 0.65 s of arithmetic
    tiny = Workload("pretrain", "k", "shufflenet3d", PAPER_CLIP, 1000, 10)
    assert tiny.gpu_hours(Throughput(50, clips_per_s=1000)) == pytest.approx(10 / 3600)


def test_measured_passes_match_the_tasks():
    expected = {"rotnet": (1, 0, 1), "vcop": (3, 0, 3), "cvrl": (2, 0, 2), "rspnet": (1, 2, 3), "tdl": (2, 1, 2)}
    for task, (grad, frozen, loaded) in expected.items():
        passes = measure_passes(task)
        assert (passes.grad, passes.frozen, passes.loaded) == (grad, frozen, loaded), task
    assert measure_passes("vcop", {"num_clips": 5}).grad == 5
    assert measure_passes("splitbrain").grad == pytest.approx(0.5, abs=0.15), "two half-width halves"


def test_chapter_workloads_count_the_grid_and_its_evaluations():
    ood = next(plan for plan in CHAPTERS if plan.name == "ood")
    work = chapter_workloads(ood)
    kinds = [w.kind for w in work]
    assert kinds.count("pretrain") == 8 and kinds.count("finetune") == 16, "4 tasks x 2 datasets; x 2 downstream"
    ssv2 = [w for w in work if w.kind == "pretrain" and w.videos == 172 * 174]
    assert len(ssv2) == 4, "SSv2 30k = 172 videos of each of 174 classes"


# ------------------------------------------------------------------------------ DDP


def _torchrun(script: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", script, *args]


@pytest.fixture(scope="module")
def ddp_launch(videos, home, tmp_path_factory) -> dict:
    """One torchrun launch: the equivalence problem on 2 processes, then an uninterrupted DDP tiny pre-training."""
    out = tmp_path_factory.mktemp("ddp")
    store = out / "clean"
    done = subprocess.run(
        _torchrun(
            str(Path(scale_helpers.__file__)), "--out", str(out), "--store", str(store), "--data-root", str(videos)
        ),
        env=engine_helpers.subprocess_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {"equivalence": json.loads((out / "equivalence.json").read_text()), "store": store}


def _diffs(one: dict, two: dict, names: list[str]) -> float:
    return max(float(np.max(np.abs(np.subtract(one[k], two[k])))) for k in names)


@pytest.mark.slow
def test_one_process_and_two_train_alike_up_to_batch_norm(ddp_launch):
    """Global batch 8 on one process vs 4 + 4 on two: the same clips per step, the averaged gradient.

    Observed (gloo, float32): without BatchNorm the losses agree to 1e-7 and the weights to about
    4e-7 (summation order); with BatchNorm the two processes normalise by the statistics of 4 clips
    instead of 8, and the losses differ by about 1e-3 relative, the weights by about 1e-2.
    """
    two = ddp_launch["equivalence"]
    assert two["world_size"] == 2
    observed = {}
    for name, batch_norm in (("plain", False), ("batch_norm", True)):
        one, other = scale_helpers.train(batch_norm), two["variants"][name]
        params = [k for k in one["weights"] if not k.startswith("norm.running") and "num_batches" not in k]
        observed[name] = (
            _diffs(one["weights"], other["weights"], params),
            float(np.max(np.abs(np.subtract(one["losses"], other["losses"])))),
        )
    plain_w, plain_loss = observed["plain"]
    bn_w, bn_loss = observed["batch_norm"]
    assert plain_w < 1e-5 and plain_loss < 1e-5, observed
    assert bn_w > 10 * plain_w and bn_loss < 0.02, observed  # BatchNorm is what differs, and only a little


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the workers torchrun started (they run in sessions of their own), then torchrun."""
    import psutil

    launcher = psutil.Process(proc.pid)
    workers = launcher.children(recursive=True)
    for worker in workers:
        worker.kill()
    psutil.wait_procs(workers, timeout=30)
    proc.kill()
    proc.wait()


@pytest.mark.slow
def test_a_killed_ddp_run_resumes_to_the_weights_of_an_uninterrupted_one(ddp_launch, videos, home, tmp_path):
    config = engine_helpers.tiny_config(videos, epochs=3)
    killed = tmp_path / "killed"
    command = _torchrun(
        str(Path(engine_helpers.__file__)), "--data-root", str(videos), "--store", str(killed), "--epochs", "3"
    )
    proc = subprocess.Popen(
        [*command, "--sleep-per-step", "0.3"],
        env=engine_helpers.subprocess_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    run = RunStore(killed).run(config)
    deadline = time.monotonic() + 120
    try:
        while not run.checkpoint_path(1).exists():
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.02)
    finally:
        _kill_tree(proc)
    assert not run.is_complete and list(run.checkpoints()) == [1], "killed after epoch 1"

    resumed = subprocess.run(
        command, env=engine_helpers.subprocess_env(home), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    clean = RunStore(ddp_launch["store"]).find(config)
    assert run.is_complete and clean is not None
    assert run.provenance()["world_size"] == 2 and len(run.provenance()["attempts"]) == 2
    a, b = run.load_final(), clean.load_final()
    for part in ("backbone", "task"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), f"{part} differs"
    np.testing.assert_array_equal(
        run.read_log()[["epoch", "step", "loss"]].to_numpy(), clean.read_log()[["epoch", "step", "loss"]].to_numpy()
    )
