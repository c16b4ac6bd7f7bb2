"""Chapter "Preliminaries": table shapes, prose that follows the numbers, and the CKA sanity check."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from sslvid.analysis.cka import CKAResult
from sslvid.backbones import create_backbone
from sslvid.evaluate.features import FeatureCache
from sslvid.experiments import preliminaries as chapter
from sslvid.experiments.study import Study
from sslvid.store.paper_tables import load_paper_table
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore


def _accuracy(scores: dict[tuple[str, str], float], protocol: str = "linear") -> pd.DataFrame:
    """Rows shaped like ``table1_accuracy``: (task, backbone) -> top1."""
    return pd.DataFrame([{"task": t, "backbone": b, "data": "K400", "subset": "50k", "epoch": None,
                          "target": "digits-appearance", "protocol": protocol, "config_hash": f"{t}{b}", "top1": v}
                         for (t, b), v in scores.items()])


def _paper_like(offset: float = 0.0, scratch: float = 10.0) -> pd.DataFrame:
    """Our rows equal to the paper's Table 1 (plus ``offset``), with scratch rows."""
    paper = load_paper_table(chapter.TABLE1)
    back = {v: k for k, v in chapter.PAPER_BACKBONES.items()}
    scores = {(r.pretext, back[r.backbone]): r.ucf101_top1 + offset for r in paper.itertuples()}
    scores.update({("scratch", b): scratch for b in chapter.BACKBONES})
    return _accuracy(scores)


@pytest.fixture
def study(tmp_path):
    return Study("smoke", device="cpu", store=RunStore(tmp_path / "runs"), results=ResultsStore(tmp_path / "r.csv"),
                 features=FeatureCache(tmp_path / "f"))


def test_table1_points_are_six_tasks_on_two_backbones(study):
    points = chapter.table1_points(study)
    assert len(points) == 12
    assert {(p["task"], p["backbone"]) for p in points} == {(t, b) for t in chapter.SIX_TASKS
                                                          for b in chapter.BACKBONES}
    assert all(p["data"] == "K400" and p["subset"] == "50k" for p in points)


def test_table1_pivot_has_the_papers_shape():
    table = chapter.table1_pivot(_paper_like())
    assert list(table.index) == ["shufflenet_v1_2x", "r21d"]
    assert list(table.columns) == [*chapter.PAPER_TASK_ORDER, "scratch"]
    assert table.loc["r21d", "rspnet"] == pytest.approx(78.0)


def test_table1_vs_paper_matches_cells_and_drops_scratch():
    comparison = chapter.table1_vs_paper(_paper_like(offset=-5.0))
    assert len(comparison) == 12 and "scratch" not in set(comparison["pretext"])
    assert comparison["difference"].to_numpy() == pytest.approx(np.full(12, -5.0))
    assert (comparison["n"] == 1).all()
    assert chapter.rank_agreement(comparison)["spearman"].to_numpy() == pytest.approx([1.0, 1.0])


def test_comparison_summary_words_agreement_and_protocol():
    same = chapter.comparison_summary(chapter.table1_vs_paper(_paper_like()), "linear")
    assert "largely agrees" in same and "do not compare" in same
    reversed_rows = _paper_like()
    reversed_rows["top1"] = -reversed_rows["top1"]
    against = chapter.comparison_summary(chapter.table1_vs_paper(reversed_rows), "finetune", "ucf101")
    assert "runs against" in against and "levels compare" in against
    assert "do not compare" in chapter.comparison_summary(chapter.table1_vs_paper(_paper_like()), "finetune")


def test_table1_summary_follows_the_numbers():
    text = chapter.table1_summary(_paper_like(scratch=50.0))
    assert "best non-contrastive task is vcop (40.8%)" in text
    assert "best contrastive task is rspnet (78.0%)" in text
    # a scratch of 50%: ShuffleNet beats it with CVRL and RSPNet; R21D with VCOP, CVRL and RSPNet
    assert "3 of 6 tasks beat random initialisation" in text
    assert "r2plus1d_18 beat shufflenet3d on 5 of 6 tasks (not on cvrl)" in text


def test_protocol_drop_and_summary():
    rows = []
    for task, linear, fine in (("rotnet", 20, 40), ("vcop", 30, 40), ("prp", 10, 40), ("cvrl", 50, 45),
                               ("scratch", 12, 35)):
        rows += [{"backbone": "shufflenet3d", "task": task, "protocol": "linear", "top1": linear},
                 {"backbone": "shufflenet3d", "task": task, "protocol": "finetune", "top1": fine}]
    drops = chapter.protocol_drop(pd.DataFrame(rows))
    assert list(drops["task"]) == ["rotnet", "vcop", "prp", "cvrl", "scratch"]
    assert drops.set_index("task").loc["prp", "relative_drop_pct"] == pytest.approx(75.0)
    text = chapter.protocol_summary(drops)
    assert "below finetuning for 3 of 4 pre-trained models" in text
    assert "average drop is 20.0 points (50% of the finetuned accuracy)" in text
    assert "paper reports a drop of 25%" in text


def test_frames_summary_verdicts():
    table = pd.DataFrame([{"task": "rotnet", "backbone": "shufflenet3d", "frames": 8, "frames_doubled": 16,
                           "top1": 30.0, "top1_doubled": 25.0, "gain": -5.0}])
    assert "helped in no case" in chapter.frames_summary(table, "micro")
    table.loc[0, ["top1_doubled", "gain"]] = [35.0, 5.0]
    text = chapter.frames_summary(table, "micro")
    assert "helped in every case" in text and "8 frames" in text and "to 16" in text


def test_bad_names_list_the_valid_ones(study):
    with pytest.raises(ValueError, match="valid: shufflenet3d, r2plus1d_18"):
        chapter.protocol_comparison(study, backbones=("resnet50",))
    with pytest.raises(ValueError, match="valid: vcop"):
        chapter.frames_comparison(study, tasks=("jigsaw",))
    with pytest.raises(ValueError, match="valid: shufflenet3d"):
        chapter.table1_point(study, "vcop", "swin3d_t")


def test_weight_change_sees_an_unchanged_probe_and_a_changed_finetune():
    torch.manual_seed(0)
    pre = create_backbone("shufflenet3d", num_classes=0, width=0.125)
    probe = create_backbone("shufflenet3d", num_classes=0, width=0.125)
    probe.load_state_dict(pre.state_dict())
    tuned = create_backbone("shufflenet3d", num_classes=0, width=0.125)
    tuned.load_state_dict(pre.state_dict())
    with torch.no_grad():
        next(tuned.parameters()).add_(1.0)
    change = chapter.weight_change({"pre-trained": pre, "linear probe": probe, "finetuned": tuned}).set_index(["a", "b"])
    assert change.loc[("pre-trained", "linear probe"), "max_abs_difference"] == 0
    assert change.loc[("pre-trained", "finetuned"), "max_abs_difference"] == pytest.approx(1.0)
    assert change.loc[("pre-trained", "finetuned"), "relative_change"] > 0


def _map(diag: list[float]) -> CKAResult:
    names = tuple(f"b{i}" for i in range(len(diag)))
    return CKAResult(np.diag(diag), names, names, examples=16, batches=1)


def test_cka_diagonal_and_summary():
    maps = {("pre-trained", "linear probe"): _map([1, 1, 1, 1]),
            ("finetuned", "linear probe"): _map([0.95, 0.5, 0.4, 0.3]),
            ("pre-trained", "finetuned"): _map([0.95, 0.5, 0.4, 0.3])}
    diagonal = chapter.cka_diagonal(maps)
    assert list(diagonal.columns) == ["pre-trained vs linear probe", "finetuned vs linear probe",
                                      "pre-trained vs finetuned"]
    change = pd.DataFrame([{"a": a, "b": b, "tensors": 3, "max_abs_difference": 0.0 if b == "linear probe" else 0.2,
                            "relative_change": 0.0 if b == "linear probe" else 0.1} for a, b in chapter.PAIRS])
    text = chapter.cka_summary(diagonal, change)
    assert "bit-for-bit the pre-trained one" in text
    assert "left 1 of 4 blocks with CKA >= 0.9" in text
    assert "most changed block is b3 (CKA 0.30), late" in text and "which agrees" in text


def test_curves_summary_names_runs_whose_loss_did_not_fall():
    logs = pd.DataFrame({"task": ["rotnet"] * 2 + ["vcop"] * 2, "backbone": "shufflenet3d", "epoch": [1, 2, 1, 2],
                         "loss": [2.0, 1.0, 1.0, 1.2], "acc": np.nan, "seconds": 1.0})
    logs["relative_loss"] = logs["loss"] / logs.groupby("task")["loss"].transform("first")
    text = chapter.curves_summary(logs)
    assert "1 of 2 runs ended with a lower pretext loss" in text and "vcop on shufflenet3d did not" in text


def test_paper_comparisons_keys_from_cached_results(study, monkeypatch):
    monkeypatch.setattr(chapter, "table1_accuracy", lambda s, target: _paper_like())
    comparisons = chapter.paper_comparisons(study)
    assert list(comparisons) == [chapter.TABLE1]
    assert {"paper", "reproduced", "difference"} <= set(comparisons[chapter.TABLE1].columns)
