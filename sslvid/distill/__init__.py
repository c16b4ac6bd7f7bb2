"""Knowledge distillation for video SSL: one registry of distillers, trained through the engine.

Methods (``list_distillers()``):

* ``independent``, ``augment`` — the student alone (labels only; with SKD-SRL's augmentation);
* ``kd`` — Hinton et al. 2015 (one teacher, or the uniform average of several soft targets);
* ``aekd`` — Du et al. 2020, the benchmark's multi-teacher KD (§5, Table 8);
* ``graph_logits``, ``graph_features``, ``graph`` — Zhang & Peng 2018's logits graph, representation
  graph and both; baselines ``mmgd``, ``mmgd_features``, ``feature_uniform``, ``fusion``, ``ensemble``;
* ``pcl_kd`` — Camarena et al. 2022 (pretext + contrastive + KD, no labels);
* ``skd_srl``, ``self_kd`` — Vu et al. 2022 and its Self-KD baseline.

``distill(DistillConfig.for_profile("micro", method="aekd", student="shufflenet3d", teachers=[...]))``
finds or trains the run and files its numbers in the results table.
"""

from sslvid.distill import graph, kd, pcl, selfkd  # noqa: F401  (importing a module registers its distillers)
from sslvid.distill.base import DISTILLERS, Distiller, Teachers, create_distiller, distiller_class, list_distillers
from sslvid.distill.config import DistillConfig, TeacherRef
from sslvid.distill.run import (
    DistillResult,
    build_distiller,
    distill,
    find_distilled,
    load_distiller,
    test_checkpoints,
)

__all__ = [
    "DISTILLERS",
    "DistillConfig",
    "DistillResult",
    "Distiller",
    "TeacherRef",
    "Teachers",
    "build_distiller",
    "create_distiller",
    "distill",
    "distiller_class",
    "find_distilled",
    "list_distillers",
    "load_distiller",
    "test_checkpoints",
]
