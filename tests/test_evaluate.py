"""Downstream evaluation end to end at smoke size, and its parts on hand-built examples.

A rotnet pre-training on squeezenet3d (the fastest backbone on a CPU) over one video per class
of the tiny default data's appearance pool is the pre-trained source; the labelled set is the
tiny ``digits-appearance`` (3 train / 2 test videos per class). Every evaluation takes well
under a second.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sslvid.cli import main as cli_main
from sslvid.engine import Trainer, find_pretrained
from sslvid.engine.distributed import DistInfo
from sslvid.errors import DataError
from sslvid.evaluate import (
    EvalConfig,
    FeatureCache,
    clip_top1,
    evaluate,
    finetune,
    hits_at_k,
    linear_probe,
    noise_robustness,
    noise_table,
    retrieval,
    trained_classifier,
    video_top1,
)
from sslvid.evaluate.common import eval_sampler, labelled_videos, official_folds, open_eval_split
from sslvid.evaluate.config import source_of
from sslvid.evaluate.features import ClipFeatures, extract_clip_features, feature_spec
from sslvid.evaluate.metrics import video_correct, video_features, video_scores
from sslvid.evaluate.models import FeatureBatches
from sslvid.evaluate.retrieval import retrieval_items
from sslvid.evaluate.robustness import drops
from sslvid.store.outcomes import outcomes_path, read_outcomes
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore

pytestmark = pytest.mark.usefixtures("one_thread", "data_home")

BACKBONE = "squeezenet3d"


def smoke(source, protocol: str, data_root: Path, store: RunStore | None = None, **overrides) -> EvalConfig:
    return EvalConfig.for_profile(
        "smoke",
        source=source_of(source, store),
        backbone=BACKBONE,
        protocol=protocol,
        data_root=str(data_root),
        device="cpu",
        threads=1,
        **overrides,
    )


# ----------------------------------------------------------------------------------- config


def test_config_fills_the_profile_and_hashes_only_what_changes_results(pretrained, stores, tiny_default):
    config = smoke(pretrained, "finetune", tiny_default)
    assert (config.backbone, config.width, config.source) == (BACKBONE, pretrained.width, pretrained.config_hash())
    assert (config.frames, config.crop_size, config.epochs, config.dataset) == (4, 32, 2, "digits-appearance")
    assert not config.flip and config.train_clips is None, "finetune draws one random clip per epoch"
    moved = config.replace(device="cuda:1", num_workers=3, eval_batch_size=99)  # data_root: test_identity
    assert moved.config_hash() == config.config_hash()
    assert config.replace(lr=0.02).config_hash() != config.config_hash()
    assert EvalConfig.from_dict(config.to_dict()) == config
    by_hash = smoke(pretrained.config_hash(), "finetune", tiny_default, store=stores["store"])
    assert by_hash == config
    retrieval_config = smoke(pretrained, "retrieval", tiny_default)
    assert retrieval_config.epochs is None and retrieval_config.lr is None and retrieval_config.flip is None
    assert retrieval_config.retrieval_level == "video" and config.retrieval_level is None
    assert "retrieval_level" not in config.hashed_dict(), "finetune and linear hashes are unchanged by the field"
    with pytest.raises(ValueError, match="retrieval_level 'frame'"):
        retrieval_config.replace(retrieval_level="frame")
    assert smoke("scratch", "finetune", tiny_default, dataset="digits-motion").flip is False
    assert official_folds("ucf101") == official_folds("hmdb51") == (1, 2, 3)
    assert official_folds("diving48") == official_folds("digits-appearance") == (1,)


def test_config_errors_name_every_problem(pretrained, tiny_default):
    with pytest.raises(ValueError) as err:
        EvalConfig(backbone="resnet", protocol="probe", profile="smoke", dataset="ucf", fold=0)
    message = str(err.value)
    for needle in ("backbone 'resnet'", "protocol 'probe'", "dataset 'ucf'", "fold must be >= 1"):
        assert needle in message
    with pytest.raises(ValueError, match="disagrees"):
        EvalConfig.for_profile("smoke", source=pretrained, backbone="r3d_18")
    with pytest.raises(ValueError, match="needs backbone"):
        EvalConfig.for_profile("smoke")
    with pytest.raises(ValueError, match="no pre-training run"):
        source_of("0123456789abcdef", RunStore(tiny_default / "nowhere"))
    with pytest.raises(ValueError, match="bare run hash"):
        EvalConfig.for_profile("smoke", source="0123456789abcdef")
    with pytest.raises(ValueError, match="scratch"):
        EvalConfig(backbone=BACKBONE, profile="smoke", source_epoch=3)


# ----------------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("protocol", ["finetune", "linear"])
@pytest.mark.parametrize("from_scratch", [False, True], ids=["pretrained", "scratch"])
def test_action_recognition_runs_end_to_end_and_lands_in_the_store(
    protocol, from_scratch, pretrained, stores, tiny_default, monkeypatch
):
    config = smoke("scratch" if from_scratch else pretrained, protocol, tiny_default)
    rows = evaluate(config, **stores)
    assert sorted(rows["metric"]) == ["top1_clip", "top1_video"]
    assert rows["value"].between(0, 100).all()
    row = rows.iloc[0]
    assert (row["config_hash"], row["model"], row["protocol"], row["dataset"]) == (
        config.config_hash(),
        BACKBONE,
        protocol,
        "digits-appearance",
    )
    assert row["pretext"] == ("scratch" if from_scratch else "rotnet")
    if not from_scratch:
        assert (row["source"], row["pretrain_epochs"], row["pretrain_subset"]) == (pretrained.config_hash(), 2, 1)
    card = json.loads(row["protocol_card"])
    assert card["test_clips_per_video"] == 2 and card["test_videos"] == 20 and card["test_clips_scored"] == 40
    assert card["frames"] == 4 and card["resolution"] == "32x32" and card["devices"].startswith("cpu")
    assert card["epochs"] == config.epochs and card["batch_size"] == config.batch_size
    assert stores["store"].find(config) is not None, "the trained model is cached by the config hash"

    monkeypatch.setattr(Trainer, "fit", lambda self: pytest.fail("a cached evaluation trained again"))
    again = evaluate(config, **stores)
    pd.testing.assert_frame_equal(again, rows)
    table = stores["results"].table()
    assert (table["config_hash"] == config.config_hash()).sum() == 2, "re-running adds no rows"


def test_an_evaluation_keeps_per_video_outcomes_averaging_to_its_top1_video(
    pretrained, stores, tiny_default, monkeypatch
):
    config = smoke(pretrained, "linear", tiny_default)
    rows = evaluate(config, **stores).set_index("metric")
    kept = read_outcomes(stores["store"], config.config_hash())
    assert kept is not None and kept.metric == "top1_video" and len(kept.videos) == 20
    assert kept.accuracy == pytest.approx(rows.loc["top1_video", "value"], abs=1e-9)
    test = open_eval_split(config, config.test_split)
    assert set(kept.videos) == {record.video_id for record in test.index.records}

    outcomes_path(stores["store"].run(config)).unlink()  # an evaluation stored before outcomes were kept
    monkeypatch.setattr(Trainer, "fit", lambda self: pytest.fail("a cached evaluation trained again"))
    again = evaluate(config, **stores).set_index("metric")
    assert again.loc["top1_video", "value"] == rows.loc["top1_video", "value"]
    assert read_outcomes(stores["store"], config.config_hash()) is None, "a cache hit is not evaluated again"


@pytest.mark.parametrize("protocol", ["finetune", "linear"])
def test_a_label_budget_trains_on_that_many_videos_per_class(protocol, pretrained, stores, tiny_default):
    """``train_per_class`` keeps a nested class-balanced subset of the training split (3 per class here)."""
    full = smoke(pretrained, protocol, tiny_default)
    assert "train_per_class" not in full.hashed_dict(), "runs without a budget keep their hashes"
    budget = full.replace(train_per_class=1)
    assert budget.config_hash() != full.config_hash()
    card = json.loads(evaluate(budget, **stores).iloc[0]["protocol_card"])
    assert card["train_videos"] == 10 and card["labelled_videos_per_class"] == 1 and card["test_videos"] == 20
    two = open_eval_split(budget, "train")
    one, both = (labelled_videos(full.replace(train_per_class=n), two).index for n in (1, 2))
    assert {r.path for r in one.records} < {r.path for r in both.records}, "budgets nest"
    with pytest.raises(DataError, match="fewer than 5 videos"):
        labelled_videos(full.replace(train_per_class=5), two)


def test_a_label_budget_must_be_a_positive_count_and_not_for_retrieval(pretrained, tiny_default):
    with pytest.raises(ValueError, match="train_per_class must be >= 1"):
        smoke(pretrained, "linear", tiny_default, train_per_class=0)
    with pytest.raises(ValueError, match="retrieval trains nothing"):
        smoke(pretrained, "retrieval", tiny_default, train_per_class=10)


def test_finetune_and_linear_probe_check_their_protocol(pretrained, tiny_default, stores):
    with pytest.raises(ValueError, match="expected a linear config"):
        linear_probe(smoke(pretrained, "finetune", tiny_default), **stores)
    assert len(finetune(smoke(pretrained, "finetune", tiny_default), **stores)) == 2


def test_a_finetune_that_makes_no_step_fails_and_stores_nothing(tiny_default, stores, monkeypatch):
    from sslvid.engine.pretrain import FailureHook

    monkeypatch.setattr(FailureHook, "prepare", lambda self, batch: None)  # no batch kept two readable videos
    config = smoke("scratch", "finetune", tiny_default, seed=17)
    with pytest.raises(RuntimeError, match="epoch 1 made no training step"):
        evaluate(config, **stores)
    assert not stores["store"].run(config).dir.exists(), "no folder, no final.pt of random weights"
    assert stores["results"].rows(config.config_hash()).empty


def test_finetune_from_an_earlier_checkpoint_uses_its_weights(pretrained, stores, tiny_default):
    config = smoke(pretrained, "linear", tiny_default, source_epoch=1)
    rows = linear_probe(config, **stores)
    assert rows["pretrain_epochs"].tolist() == [1, 1]
    model = trained_classifier(config, stores["store"])
    expected = stores["store"].run(pretrained).load_backbone(1)
    assert all(torch.equal(model.backbone.state_dict()[k], v) for k, v in expected.items())


def test_linear_probe_freezes_the_backbone(pretrained, stores, tiny_default, monkeypatch):
    """Only the linear layer is trained; extracting features changes no weight and no BN statistic."""
    config = smoke(pretrained, "linear", tiny_default, seed=5)
    trained = {}
    fit = Trainer.fit

    def spy(self):
        trained["params"] = [name for name, p in self.module.named_parameters() if p.requires_grad]
        trained["optimised"] = sum(p.numel() for g in self.optimizer.param_groups for p in g["params"])
        return fit(self)

    monkeypatch.setattr(Trainer, "fit", spy)
    linear_probe(config, **stores)
    assert trained["params"] == ["fc.weight", "fc.bias"]
    model = trained_classifier(config, stores["store"])
    assert trained["optimised"] == sum(p.numel() for p in model.head.fc.parameters())
    source = find_pretrained(pretrained, stores["store"]).backbone()
    assert all(torch.equal(model.backbone.state_dict()[k], v) for k, v in source.state_dict().items())

    split = open_eval_split(config, "train")
    backbone = find_pretrained(pretrained, stores["store"]).backbone().train()  # even in train mode
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    extract_clip_features(backbone, split.index, split.source, eval_sampler(config, 2), 32, torch.device("cpu"), 8)
    after = backbone.state_dict()
    assert any("running_mean" in k for k in after)
    assert all(torch.equal(before[k], after[k]) for k in before), "weights and BN statistics unchanged"
    assert backbone.training, "the caller's mode is restored"


def test_features_extract_under_bf16_on_a_cpu_only_where_it_pays_and_stay_close_to_float32(tiny_default):
    from sslvid.backbones import create_backbone
    from sslvid.evaluate.features import inference_bf16

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert inference_bf16("r2plus1d_18", True, cpu) and not inference_bf16("shufflenet3d", True, cpu)
    assert not inference_bf16("r2plus1d_18", False, cpu) and inference_bf16("shufflenet3d", True, cuda)
    config = EvalConfig.for_profile(
        "smoke", protocol="linear", backbone="r2plus1d_18", data_root=str(tiny_default), device="cpu"
    )
    split = open_eval_split(config, "test")
    torch.manual_seed(0)
    backbone = create_backbone("r2plus1d_18", width=0.25)
    sampler = eval_sampler(config, 2)
    full = extract_clip_features(backbone, split.index, split.source, sampler, 32, cpu, 8)
    half = extract_clip_features(backbone, split.index, split.source, sampler, 32, cpu, 8, amp=True)
    assert full.features.dtype == half.features.dtype == torch.float32
    error = ((half.features - full.features).norm() / full.features.norm()).item()
    assert 0 < error < 0.03, "bf16 rounding only"
    fp32_key = feature_spec("w", split.index, sampler, 32, (40, 40), "smoke")
    assert (
        "precision" not in fp32_key
        and feature_spec("w", split.index, sampler, 32, (40, 40), "smoke", bf16=True)["precision"] == "bf16"
    )


def test_retrieval_reports_hits_at_k_and_reuses_cached_features(pretrained, stores, tiny_default, tmp_path):
    config = smoke(pretrained, "retrieval", tiny_default)
    cache = FeatureCache(tmp_path / "features")
    with pytest.warns(UserWarning, match="not measurable"):
        rows = retrieval(config, stores["store"], ResultsStore(tmp_path / "r1.csv"), cache, progress=False)
    assert config.retrieval_level == "video", "VCOP's protocol is the default"
    assert rows["metric"].tolist() == ["hit@1", "hit@5", "hit@10", "hit@20", "hit@50"]
    assert rows["value"].iloc[:-1].is_monotonic_increasing
    assert math.isnan(rows["value"].iloc[-1]), "k=50 > 30 gallery videos: not measurable, not 100%"
    assert cache.extractions == 2, "gallery and queries"
    card = json.loads(rows["protocol_card"][0])
    assert (card["gallery_clips"], card["query_clips"]) == (30, 40)
    assert (card["gallery_items"], card["query_items"], card["not_measurable_k"]) == (30, 20, [50])
    clip_level = config.replace(retrieval_level="clip")
    assert clip_level.config_hash() != config.config_hash()
    with pytest.warns(UserWarning, match="not measurable"):
        clips = retrieval(clip_level, stores["store"], ResultsStore(tmp_path / "r0.csv"), cache, progress=False)
    assert json.loads(clips["protocol_card"][0])["query_items"] == 40 and cache.extractions == 2
    fresh = FeatureCache(tmp_path / "features")  # same files, new counter
    again = retrieval(config, stores["store"], ResultsStore(tmp_path / "r2.csv"), fresh, progress=False)
    assert fresh.extractions == 0, "feature cache hit: nothing extracted the second time"
    pd.testing.assert_series_equal(again["value"], rows["value"])
    linear_probe(
        smoke(pretrained, "linear", tiny_default),
        stores["store"],
        ResultsStore(tmp_path / "r3.csv"),
        fresh,
        progress=False,
    )
    assert fresh.extractions == 0, "the probe reads the same cached features"


def test_noise_robustness_rows_hold_noisy_accuracy_and_drops(pretrained, stores, tiny_default):
    config = smoke(pretrained, "finetune", tiny_default)
    rows = noise_robustness(config, corruptions=("gaussian", "impulse"), severities=(5,), **stores)
    assert sorted(rows["condition"].unique()) == ["gaussian/5", "impulse/5"]
    clean = evaluate(config, **stores).set_index("metric")["value"]
    for _, group in rows.groupby("condition"):
        values = group.set_index("metric")["value"]
        assert values["abs_drop_video"] == pytest.approx(clean["top1_video"] - values["top1_video"])
        card = json.loads(group["protocol_card"].iloc[0])
        assert card["severity"] == 5 and card["corruption"] in ("gaussian", "impulse")
        kept = read_outcomes(stores["store"], config.config_hash(), group["condition"].iloc[0])
        assert kept is not None and card["test_videos"] == len(kept.videos) == 20
        assert kept.accuracy == pytest.approx(values["top1_video"], abs=1e-9), "the noisy outcomes, not the clean"
    assert read_outcomes(stores["store"], config.config_hash()).accuracy == pytest.approx(clean["top1_video"])
    table = noise_table(rows, severity=5)
    assert table["noises"].tolist() == [2]
    assert len(noise_robustness(config, corruptions=("gaussian",), severities=(5,), **stores)) == 6
    with pytest.raises(ValueError, match="severity"):
        noise_robustness(config, severities=(6,), **stores)


def test_cli_evaluates_and_prints_the_rows(pretrained, stores, tiny_default, home, capsys):
    args = [
        "evaluate",
        "--protocol",
        "linear",
        "--source",
        pretrained.config_hash(),
        "--profile",
        "smoke",
        "--data-root",
        str(tiny_default),
        "--device",
        "cpu",
        "--threads",
        "1",
        "--no-progress",
        "--store",
        str(home / "runs"),
        "--results",
        str(home / "results.csv"),
    ]
    assert cli_main(args) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert sorted(r["metric"] for r in printed) == ["top1_clip", "top1_video"]


# ----------------------------------------------------------------------------------- parts by hand


def test_video_accuracy_averages_clip_softmax_scores():
    """Two videos of three clips. Video 0 (class 0): two clips narrowly say class 1, one clip says
    class 0 with confidence, so clip-level gets 1/3 right but the mean softmax picks class 0.
    Video 1 (class 1): all clips right."""
    big, small = 4.0, 0.2
    scores = torch.tensor([[0.0, small], [0.0, small], [big, 0.0], [0.0, 1.0], [0.0, 2.0], [0.0, 3.0]])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    videos = torch.tensor([7, 7, 7, 3, 3, 3])
    assert clip_top1(scores, labels) == pytest.approx(100 * 4 / 6)
    probs, video_labels = video_scores(scores, labels, videos)
    p_small = torch.softmax(torch.tensor([0.0, small]), 0)
    p_big = torch.softmax(torch.tensor([big, 0.0]), 0)
    torch.testing.assert_close(probs[1], (2 * p_small + p_big) / 3)  # video 7 is the second id in sorted order
    assert video_labels.tolist() == [1, 0]
    assert video_top1(scores, labels, videos) == 100.0
    ids, correct = video_correct(scores, labels, videos)
    assert ids.tolist() == [3, 7] and correct.tolist() == [True, True]
    ids, correct = video_correct(scores, torch.tensor([1, 1, 1, 1, 1, 1]), videos)
    assert correct.tolist() == [True, False] and float(correct.float().mean() * 100) == video_top1(
        scores, torch.tensor([1, 1, 1, 1, 1, 1]), videos
    )
    with pytest.raises(ValueError, match="different labels"):
        video_top1(scores, torch.tensor([0, 1, 0, 1, 1, 1]), videos)


def test_hits_at_k_on_a_hand_built_feature_set():
    """Gallery on the unit circle; cosine order of each query's neighbours is known by angle."""
    angles = torch.tensor([0.0, 10.0, 20.0, 90.0, 100.0, 180.0])  # degrees
    gallery = torch.stack([torch.cos(torch.deg2rad(angles)), torch.sin(torch.deg2rad(angles))], dim=1) * 3.0
    gallery_labels = torch.tensor([0, 1, 1, 2, 0, 1])
    queries = torch.tensor([[1.0, 0.01], [0.0, 5.0], [-1.0, 0.0]])  # near 0 deg, 90 deg, 180 deg
    query_labels = torch.tensor([2, 0, 2])
    # query 0 (class 2): neighbours 0, 10, 20, 90... -> first class-2 item at rank 4 (k >= 4)
    # query 1 (class 0): neighbours 90, 100 -> class 0 at rank 2
    # query 2 (class 2): neighbours 180, 100, 90 -> class 2 at rank 3
    hits = hits_at_k(queries, query_labels, gallery, gallery_labels, ks=(1, 2, 3, 4, 6))
    assert hits == {1: 0.0, 2: pytest.approx(100 / 3), 3: pytest.approx(200 / 3), 4: 100.0, 6: 100.0}
    with pytest.raises(ValueError, match="k must be"):
        hits_at_k(queries, query_labels, gallery, gallery_labels, ks=(0,))


def _unit(degrees: list[float]) -> torch.Tensor:
    radians = torch.deg2rad(torch.tensor(degrees))
    return torch.stack([torch.cos(radians), torch.sin(radians)], dim=1)


def test_video_level_retrieval_averages_each_videos_clips_before_the_search():
    """VCOP's retrieve_clips.py: np.mean over a video's clips for queries and gallery, then cosine top-k.

    Gallery: video 0 (class 0) has clips at 0 and 90 degrees (mean at 45), video 1 (class 1) two
    clips at 40 (mean at 40). The query video (class 0) has clips at 0 and 80 degrees (mean at 40):
    as a video its nearest gallery video is video 1 (a miss at k = 1); clip by clip, each of its
    clips finds a class-0 clip first (0 -> 0, 80 -> 90), a hit.
    """
    gallery = ClipFeatures(_unit([0.0, 90.0, 40.0, 40.0]), torch.tensor([0, 0, 1, 1]), torch.tensor([0, 0, 1, 1]))
    queries = ClipFeatures(_unit([0.0, 80.0]), torch.tensor([0, 0]), torch.tensor([5, 5]))
    video = hits_at_k(*retrieval_items(queries, "video"), *retrieval_items(gallery, "video"), ks=(1, 2))
    clip = hits_at_k(*retrieval_items(queries, "clip"), *retrieval_items(gallery, "clip"), ks=(1, 2))
    assert video == {1: 0.0, 2: 100.0} and clip == {1: 100.0, 2: 100.0}
    features, labels = video_features(gallery.features, gallery.labels, gallery.videos)
    assert torch.allclose(features, torch.stack([_unit([0.0, 90.0]).mean(0), _unit([40.0]).mean(0)]))
    assert labels.tolist() == [0, 1]
    with pytest.raises(ValueError, match="unknown retrieval level"):
        retrieval_items(queries, "frame")


def test_video_level_hits_equal_vcops_formula_on_random_features():
    """np.mean(X, 1), cosine distances, argsort, ``label in labels[:k]`` of retrieve_clips.py."""
    gen = torch.Generator().manual_seed(0)
    clips, train_videos, test_videos, dim = 3, 12, 7, 5
    train = torch.randn(train_videos, clips, dim, generator=gen, dtype=torch.float64)
    test = torch.randn(test_videos, clips, dim, generator=gen, dtype=torch.float64)
    y_train = torch.randint(0, 3, (train_videos,), generator=gen)
    y_test = torch.randint(0, 3, (test_videos,), generator=gen)
    x_train, x_test = train.mean(1).numpy(), test.mean(1).numpy()
    cosine = (x_test / np.linalg.norm(x_test, axis=1, keepdims=True)) @ (
        x_train / np.linalg.norm(x_train, axis=1, keepdims=True)
    ).T
    order = np.argsort(1 - cosine, axis=1)
    expected = {
        k: 100.0 * np.mean([y in y_train.numpy()[row[:k]] for y, row in zip(y_test.numpy(), order)]) for k in (1, 5, 10)
    }

    def flat(x, y):
        videos = torch.arange(len(x)).repeat_interleave(clips)
        return ClipFeatures(x.flatten(0, 1), y.repeat_interleave(clips), videos)

    ours = hits_at_k(
        *retrieval_items(flat(test, y_test), "video"), *retrieval_items(flat(train, y_train), "video"), ks=(1, 5, 10)
    )
    assert ours == pytest.approx(expected)


def test_euclidean_retrieval_ranks_by_distance_where_cosine_ranks_by_angle():
    """Query (9, 3) of class 0 lies at 18 degrees: (1, 0.5) of class 1 (27 degrees) is 8 degrees away and (10, 0)
    of class 0 (0 degrees) 18, so cosine misses; by distance (10, 0) is 3.2 away and (1, 0.5) 8.4, a hit."""
    gallery, labels = torch.tensor([[10.0, 0.0], [1.0, 0.5]]), torch.tensor([0, 1])
    query, label = torch.tensor([[9.0, 3.0]]), torch.tensor([0])
    assert hits_at_k(query, label, gallery, labels, ks=(1,)) == {1: 0.0}
    assert hits_at_k(query, label, gallery, labels, ks=(1,), similarity="euclidean") == {1: 100.0}
    with pytest.raises(ValueError, match="unknown similarity"):
        hits_at_k(query, label, gallery, labels, ks=(1,), similarity="dot")


def test_a_k_above_the_gallery_is_not_measurable():
    gallery, labels = _unit([0.0, 90.0, 180.0]), torch.tensor([0, 1, 2])
    with pytest.warns(UserWarning, match=r"k = \[5, 50\] exceeds the gallery of 3 items"):
        hits = hits_at_k(_unit([10.0]), torch.tensor([1]), gallery, labels, ks=(1, 3, 5, 50))
    assert hits[1] == 0.0 and hits[3] == 100.0
    assert math.isnan(hits[5]) and math.isnan(hits[50]), "not 100%: the whole gallery is not a top-k"


def test_noisy_rows_of_an_earlier_noise_definition_are_measured_again(tmp_path):
    """Rows stored under ImageNet-C's shot constant (60 at severity 1) do not count for the video reference's 250,
    nor rows without a card."""
    from sslvid.evaluate.robustness import METRICS, TASK, is_measured, noise_definition

    def rows(card):
        return [
            {
                "config_hash": "abc",
                "task": TASK,
                "metric": m,
                "condition": "shot/1",
                "value": 1.0,
                "protocol_card": card,
            }
            for m in METRICS
        ]

    results = ResultsStore(tmp_path / "results.csv")
    results.upsert(rows(None))
    assert not is_measured(results, "abc", "shot/1")
    results.upsert(rows({"corruption": "shot", "corruption_constant": 60.0}))
    assert not is_measured(results, "abc", "shot/1")
    assert noise_definition("shot", 1)["corruption_constant"] == 250.0
    results.upsert(rows({"corruption": "shot", **noise_definition("shot", 1)}))
    assert is_measured(results, "abc", "shot/1") and not is_measured(results, "abc", "shot/2")


def test_drops_are_absolute_and_relative():
    out = drops({"top1_clip": 80.0, "top1_video": 50.0}, {"top1_clip": 60.0, "top1_video": 50.0})
    assert out == {"abs_drop_clip": 20.0, "rel_drop_clip": 25.0, "abs_drop_video": 0.0, "rel_drop_video": 0.0}


def test_feature_batches_shuffle_per_epoch_and_split_between_processes():
    features, labels = torch.arange(20.0)[:, None], torch.arange(20)
    single = FeatureBatches(features, labels, batch_size=4, seed=3)
    single.set_epoch(1)
    first = torch.cat([b["label"] for b in single])
    single.set_epoch(2)
    assert len(single) == 5 and sorted(first.tolist()) == list(range(20))
    assert not torch.equal(first, torch.cat([b["label"] for b in single])), "a new order every epoch"
    ranks = [FeatureBatches(features, labels, batch_size=3, seed=3, info=DistInfo(rank, 2)) for rank in (0, 1)]
    seen = [torch.cat([b["label"] for b in loader]) for loader in ranks]
    assert [len(loader) for loader in ranks] == [3, 3] and not set(seen[0].tolist()) & set(seen[1].tolist())
