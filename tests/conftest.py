"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sslvid.data.default import generate_default_data

# Real camera footage for decoder tests: "ASL gesture clips from intel-iot-devkit/sample-videos,
# CC BY 4.0". They live in ../shared beside the checkout (CI has it too); never copy them here.
ASL_CLIP_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "asl-gestures"


@pytest.fixture(scope="session")
def asl_clips() -> list[Path]:
    """The 20 ASL gesture clips (.mkv, H.264, 640x480, 30 fps, 47-109 frames), sorted by name."""
    clips = sorted(ASL_CLIP_DIR.glob("*.mkv"))
    if not clips:
        pytest.skip(f"ASL gesture clips not found in {ASL_CLIP_DIR} (shared/ beside the checkout)")
    return clips


@pytest.fixture(scope="session")
def asl_clip(asl_clips: list[Path]) -> Path:
    """One short ASL clip (eat.mkv, 47 frames) for quick decoding tests."""
    return next((p for p in asl_clips if p.stem == "eat"), asl_clips[0])


TINY = 0.03  # 3 train / 2 test videos per class, 6 per class in the pools: 242 videos


@pytest.fixture(scope="session")
def tiny_default(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny copy of the default data (scale ``TINY``), generated once per test session."""
    root = tmp_path_factory.getbasetemp() / "default-tiny"
    generate_default_data(root, seed=0, scale=TINY, workers=2)
    return root


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    on a small shared CPU, spinning OpenMP threads cost 10x at these tensor sizes."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data home for one test module: its clip caches, run store and results are built once."""
    return tmp_path_factory.mktemp("sslvid-home")


@pytest.fixture(scope="module")
def data_home(home: Path):
    """``$SSLVID_HOME`` pointed at the module's ``home`` while the module runs (use with usefixtures)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSLVID_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The engine tests' tiny labelled video folder (``engine_helpers.write_tiny_videos``)."""
    import engine_helpers

    return engine_helpers.write_tiny_videos(tmp_path_factory.mktemp("videos"))


@pytest.fixture(scope="module")
def stores(home: Path) -> dict:
    """The evaluation tests' run store, results table and feature cache in the module's ``home``."""
    from sslvid.evaluate import FeatureCache
    from sslvid.store.results import ResultsStore
    from sslvid.store.runs import RunStore

    return {
        "store": RunStore(home / "runs"),
        "results": ResultsStore(home / "results.csv"),
        "features": FeatureCache(home / "features"),
        "progress": False,
    }


@pytest.fixture(scope="module")
def pretrained(data_home: Path, tiny_default: Path, stores: dict):
    """A smoke rotnet pre-training on squeezenet3d (the fastest backbone on a CPU) over one video per
    class of the tiny default pool: the pre-trained source of the evaluation tests."""
    from sslvid.engine import PretrainConfig, pretrain

    config = PretrainConfig.for_profile(
        "smoke",
        task="rotnet",
        backbone="squeezenet3d",
        dataset="digits-appearance-pool",
        data_root=str(tiny_default),
        subset_per_class=1,
        device="cpu",
        threads=1,
        num_workers=0,
    )
    pretrain(config, store=stores["store"], progress=False)
    return config


NOTEBOOK_OUTPUT_TIMEOUT = 60
"""Seconds nbval waits for each output message of a chapter's cell after the cell ran (nbval's own: 5).

``make test`` hands the executed chapters (``build/smoke/*.ipynb``) to nbval beside these tests, so this
session-wide hook sees their cells too. A chapter's first cell that trains its runs once left the kernel's
output channel 5 s behind in a full ``make test`` (chapter 2's Table 1 cell, which passed on its own); a
kernel that really hangs still fails, later."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(getattr(item, "output_timeout", None), (int, float)):
            item.output_timeout = max(item.output_timeout, NOTEBOOK_OUTPUT_TIMEOUT)  # type: ignore[attr-defined]
