"""Graph distillation from several teachers (Zhang & Peng 2018, IJCAI, §4) and its baselines (§5.5).

The logits graph ``G_l`` (§4.2): teachers are vertices; a learned edge ``e_{n->m}`` in [0, 1]
(softmax over the edges into m of a learned K x K matrix) weighs the loss flowing on it,
``l_s = sum_m sum_n e_{n->m} l_{n->m}`` (Eq. 4). We read ``l_{n->m}`` as the distance between
teacher n's distribution softened at vertex m's temperature and the student's distribution,
``D(softmax(z_n / T_m), softmax(z_s))`` (Eqs. 5-6: a temperature per teacher, none on the
student), D the Earth Mover distance (``losses.em_distance``). MMGD's graph (Luo et al. 2018)
is the same graph with the cosine distance. The student minimises
``(1 - lambda) CE + lambda l_s`` (Eq. 2, lambda = 0.6) with ``l_s`` averaged over vertices.
Eq. 5 is written per sample, ``l(x_i, f_t^(k))`` with ``||mu(x_i) - eta(x_i)||``: each sample is
coupled with itself (``coupling="sample"``, the default); ``"batch"`` is the alternative reading
of an optimal coupling across the batch's samples.

The representation graph ``G_r`` (§4.3): for every pair of teachers (m, n), their feature
maps of one block (the paper's conv4, §5.2), at the S locations of the student's map of that
block (the paper keeps the full map, ``S = H x W``; teachers whose maps differ in size are
average-pooled, or repeated, to the student's), are combined by compact
bilinear pooling at each location (Count Sketch + FFT, ``sketch.compact_bilinear``), then
signed square root and l2 normalisation give the vertex ``V_k`` (B, d, S); ``D_k =
softmax(V_k / T_k)`` over the locations (Eq. 8) is a set of d maps. The loss of a vertex is
the MMD (Gaussian kernel) between that set and the student's channel maps ``softmax(R_s^(p))``
at the same grid (Eq. 9); vertices are weighted by the softmax of learned logits (Eq. 10).

Baselines of Table 2: model fusion (average of the finetuned teachers' confidence scores, no
training), model ensemble (a linear classifier on the teachers' concatenated features), KD
uniform (``kd`` with several teachers), MMGD, uniform feature distillation (each teacher's own
feature maps, no bilinear pairs, equal weights) and the combinations G_l + G_r, MMGD + G_r.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any, ClassVar, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslvid.backbones.base import VideoBackbone
from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.distill.base import DISTILLERS, Distiller, Teachers, no_student
from sslvid.distill.kd import Supervised
from sslvid.distill.losses import cosine_distance, em_distance, mmd, signed_sqrt, soften
from sslvid.distill.recipe import recipe_settings
from sslvid.distill.sketch import CountSketch, compact_bilinear
from sslvid.engine.step import StepOutput
from sslvid.pretext.losses import classification
from sslvid.seeding import derive_seed

LOGIT_GRAPHS = ("em", "cosine")
FEATURE_GRAPHS = ("bilinear", "single")


class GraphDistiller(Supervised):
    """A logits graph, a representation graph, or both (module docstring).

    Class attributes ``logit_graph`` ("em", "cosine" or None) and ``feature_graph``
    ("bilinear", "single" or None) choose the parts; the registered subclasses fix them.

    Args:
        student, teachers, crop_size: see ``kd.Supervised``.
        temperature: T_k of the logits graph, one for all teachers or one per teacher.
        lam: lambda of Eq. 2, weight of the logits graph against cross-entropy.
        coupling: ``em_distance`` coupling, "sample" (each sample with itself, Eq. 5's
            per-sample loss) or "batch" (W1 between the batch's distributions).
        feature_weight: weight of the representation graph's loss.
        feature_block: block of every network whose output is distilled (``block_names``
            position; -2: the block before the last, as the paper's conv4 of five).
        grid: (t, h, w) every feature map is average-pooled to (S = t * h * w locations);
            None (default) keeps the student's full map and brings the teachers' to its size.
        sketch_dim: d of the compact bilinear features.
        feature_temperature: T_k of Eq. 8; None scales by ``sqrt(d * S)`` so the normalised
            entries are of order one before the softmax.
        mmd_sigma: Gaussian kernel bandwidth; None takes the median distance of each batch
            (Gretton et al. 2012's heuristic; detached).
        seed: seed of the Count Sketch hashes.
        frames: T of the clips (to probe the teachers' channels once).
        flip: random horizontal flips of the training views.

    Raises:
        ValueError: for a wrong number of teachers, temperatures or an invalid knob.
    """

    logit_graph: ClassVar[str | None] = None
    feature_graph: ClassVar[str | None] = None
    teacher_count = (1, None)

    temperatures: Tensor

    def __init__(
        self,
        student: VideoBackbone,
        teachers: Sequence[nn.Module] | Teachers = (),
        crop_size: int = 112,
        temperature: float | Sequence[float] = 4.0,
        lam: float = 0.6,
        coupling: str = "sample",
        feature_weight: float = 1.0,
        feature_block: int = -2,
        grid: Sequence[int] | None = None,
        sketch_dim: int = 256,
        feature_temperature: float | None = None,
        mmd_sigma: float | None = None,
        seed: int = 0,
        frames: int = 16,
        flip: bool = True,
    ) -> None:
        super().__init__(student, teachers, crop_size, frames, flip)
        k = len(self.teachers)
        temps = [float(temperature)] * k if isinstance(temperature, (int, float)) else [float(t) for t in temperature]
        _check_knobs(k, temps, lam, coupling, grid, sketch_dim)
        self.register_buffer("temperatures", torch.tensor(temps))
        self.lam, self.coupling, self.feature_weight = float(lam), coupling, float(feature_weight)
        self.feature_block, self.sketch_dim = feature_block, sketch_dim
        self.grid = None if grid is None else (int(grid[0]), int(grid[1]), int(grid[2]))  # checked: three
        self.feature_temperature, self.mmd_sigma = feature_temperature, mmd_sigma
        if self.logit_graph:
            self.edges = nn.Parameter(torch.zeros(k, k))  # edges[m, n]: logit of e_{n->m}
        if self.feature_graph:
            self.vertex_logits = nn.Parameter(torch.zeros(len(self.vertices())), requires_grad=self.learned_vertices)
        if self.feature_graph == "bilinear":
            channels = self.teacher_channels(frames, crop_size)
            self.sketches = nn.ModuleList(
                nn.ModuleList(
                    [
                        CountSketch(channels[m], sketch_dim, seed=derive_seed(seed, "sketch", m, n, 0)),
                        CountSketch(channels[n], sketch_dim, seed=derive_seed(seed, "sketch", m, n, 1)),
                    ]
                )
                for m, n in self.vertices()
            )

    def teacher_channels(self, frames: int, crop_size: int) -> list[int]:
        """Channels of every teacher's ``feature_block`` output, from one blank probe clip."""
        probe = torch.zeros(1, 3, frames, crop_size, crop_size)
        return [int(t.shape[1]) for t in self.teachers.intermediates(probe, self.feature_block)]

    @property
    def learned_vertices(self) -> bool:
        """True for G_r's learned vertex weights, False for uniform feature distillation."""
        return self.feature_graph == "bilinear"

    def vertices(self) -> list[tuple[int, ...]]:
        """The vertices of the representation graph: teacher pairs (G_r) or single teachers."""
        k = len(self.teachers)
        return list(combinations(range(k), 2)) if self.feature_graph == "bilinear" else [(i,) for i in range(k)]

    # ------------------------------------------------------------------ logits graph
    def edge_weights(self) -> Tensor:
        """(K, K) ``e[m, n] = e_{n->m}``: softmax over the edges into each vertex m."""
        return F.softmax(self.edges, dim=1)

    def logits_loss(self, student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
        """Eq. 4 averaged over vertices: ``mean_m sum_n e_{n->m} D(softmax(z_n / T_m), softmax(z_s))``."""
        eta = soften(student_logits.float())
        weights = self.edge_weights()
        total = student_logits.new_zeros((), dtype=torch.float32)
        for m, temp in enumerate(self.temperatures.tolist()):
            for n, z_n in enumerate(teacher_logits):
                total = total + weights[m, n] * self._distance(soften(z_n, temp), eta)
        return total / len(self.teachers)

    def _distance(self, mu: Tensor, eta: Tensor) -> Tensor:
        if self.logit_graph == "em":
            return em_distance(mu, eta, self.coupling)
        return cosine_distance(mu, eta)

    # ------------------------------------------------------------------ representation graph
    def locations(self, student_map: Tensor) -> tuple[int, int, int]:
        """The (t, h, w) grid of G_r: ``grid``, or the student's own map (B, C, T, H, W)."""
        t, h, w = (int(n) for n in student_map.shape[-3:])
        return self.grid or (t, h, w)

    @staticmethod
    def pooled(fmap: Tensor, grid: tuple[int, int, int]) -> Tensor:
        """A block output (B, C, T, H, W) averaged to ``grid`` (t, h, w): (B, C, S)."""
        return F.adaptive_avg_pool3d(fmap.float(), grid).flatten(2)

    def vertex_maps(self, feats: Sequence[Tensor]) -> list[Tensor]:
        """The softened vertices ``D_k`` (B, d, S) of G_r, or the teachers' own maps (B, C_m, S)."""
        if self.feature_graph == "single":
            return [F.softmax(f, dim=-1) for f in feats]
        maps = []
        for (m, n), pair in zip(self.vertices(), self.sketches):
            first, second = cast("tuple[CountSketch, CountSketch]", pair)  # a ModuleList of the two
            v = compact_bilinear(feats[m], feats[n], first, second, sum_locations=False)
            v = F.normalize(signed_sqrt(v).flatten(1), dim=1).view_as(v)
            temp = self.feature_temperature or 1.0 / (v.shape[1] * v.shape[2]) ** 0.5
            maps.append(F.softmax(v / temp, dim=-1))
        return maps

    def feature_loss(self, student_map: Tensor, teacher_maps: Sequence[Tensor]) -> Tensor:
        """Eq. 10: ``sum_k w_k MMD(softmax(R_s), D_k)`` with w the softmax of the vertex logits."""
        grid = self.locations(student_map)
        student_set = F.softmax(self.pooled(student_map, grid), dim=-1)
        vertices = self.vertex_maps([self.pooled(t, grid) for t in teacher_maps])
        weights = F.softmax(self.vertex_logits, dim=0)
        losses = torch.stack([mmd(student_set, v, self._sigma(student_set, v)) for v in vertices])
        return losses @ weights

    def _sigma(self, x: Tensor, y: Tensor) -> float:
        if self.mmd_sigma is not None:
            return float(self.mmd_sigma)
        with torch.no_grad():
            both = torch.cat([x, y], dim=1)
            return float(torch.cdist(both, both).median().clamp_min(1e-3))

    # ------------------------------------------------------------------ step
    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """``(1 - lam) CE + lam G_l + feature_weight G_r`` (parts absent from a method are left out)."""
        x, y = self.view(batch)
        logits = self.backbone(x)
        ce, acc = classification(logits, y)
        metrics: dict[str, float] = {"acc": acc.item(), "ce": ce.item()}
        loss = ce
        if self.logit_graph:
            graph = self.logits_loss(logits, self.teachers.logits(x))
            loss = (1 - self.lam) * ce + self.lam * graph
            metrics["logits_graph"] = graph.item()
        if self.feature_graph:
            student_map = self.backbone.forward_intermediates(x, [self.feature_block])[0]
            features = self.feature_loss(student_map, self.teachers.intermediates(x, self.feature_block))
            loss = loss + self.feature_weight * features
            metrics["feature_graph"] = features.item()
        return StepOutput(loss, metrics, y.shape[0])


def _check_knobs(
    k: int, temps: list[float], lam: float, coupling: str, grid: Sequence[int] | None, sketch_dim: int
) -> None:
    problems = []
    if len(temps) != k or any(t <= 0 for t in temps):
        problems.append(f"temperature: one positive value or one per teacher ({k}), got {temps}")
    if not 0.0 <= lam <= 1.0:
        problems.append(f"lam must be in [0, 1], got {lam}")
    if coupling not in ("batch", "sample"):
        problems.append(f"coupling must be 'batch' or 'sample', got {coupling!r}")
    if grid is not None and (len(tuple(grid)) != 3 or any(int(g) < 1 for g in grid)):
        problems.append(f"grid must be None or three positive ints (t, h, w), got {grid!r}")
    if sketch_dim < 1:
        problems.append(f"sketch_dim must be >= 1, got {sketch_dim}")
    if problems:
        raise ValueError("invalid graph distillation knobs: " + "; ".join(problems))


@DISTILLERS.register("graph_logits")
class LogitsGraph(GraphDistiller):
    """G_l: the logits graph with Earth Mover distances (Zhang & Peng 2018 §4.2; Table 2 row 5)."""

    name = "graph_logits"
    paper = "Zhang & Peng 2018, IJCAI, §4.2"
    logit_graph = "em"


@DISTILLERS.register("mmgd")
class MMGD(GraphDistiller):
    """The logits graph with cosine distances, in the manner of MMGD (Luo et al. 2018; Table 2 row 4)."""

    name = "mmgd"
    paper = "Luo et al. 2018 (MMGD), as the baseline of Zhang & Peng 2018 §5.5"
    logit_graph = "cosine"


@DISTILLERS.register("graph_features")
class RepresentationGraph(GraphDistiller):
    """G_r: the representation graph over pairs of teachers (Zhang & Peng 2018 §4.3; Table 2 row 7)."""

    name = "graph_features"
    paper = "Zhang & Peng 2018, IJCAI, §4.3"
    feature_graph = "bilinear"
    teacher_count = (2, None)


@DISTILLERS.register("feature_uniform")
class UniformFeatures(GraphDistiller):
    """Uniform feature distillation: MMD to each teacher's own maps, equal weights (Table 2 row 6)."""

    name = "feature_uniform"
    paper = "Zhang & Peng 2018, §5.5 (baseline)"
    feature_graph = "single"


@DISTILLERS.register("graph")
class FullGraph(GraphDistiller):
    """G_l + G_r, the full method (Zhang & Peng 2018 §4; Table 1 and Table 2 last row)."""

    name = "graph"
    paper = "Zhang & Peng 2018, IJCAI, §4"
    logit_graph, feature_graph = "em", "bilinear"
    teacher_count = (2, None)


@DISTILLERS.register("mmgd_features")
class MMGDFeatures(GraphDistiller):
    """MMGD + G_r (Zhang & Peng 2018, Table 2 row 8)."""

    name = "mmgd_features"
    paper = "Zhang & Peng 2018, §5.5"
    logit_graph, feature_graph = "cosine", "bilinear"
    teacher_count = (2, None)


@DISTILLERS.register("fusion")
class ModelFusion(Distiller):
    """Model fusion: the mean of the finetuned teachers' softmax scores; nothing is trained (§5.5)."""

    name = "fusion"
    paper = "Zhang & Peng 2018, §5.5 (baseline)"
    teacher_count = (1, None)
    needs_student = False

    def __init__(
        self,
        student: VideoBackbone | None = None,
        teachers: Sequence[nn.Module] | Teachers = (),
        crop_size: int = 112,
        frames: int = 16,
        flip: bool = True,
    ) -> None:
        super().__init__(student or no_student(), teachers)

    def predict(self, x: Tensor) -> Tensor:
        """Log of the mean teacher probabilities (B, C): argmax is the fused decision."""
        return torch.log(F.softmax(self.teachers.logits(x), dim=-1).mean(0).clamp_min(1e-12))

    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """Nothing to train.

        Raises:
            RuntimeError: always; ``distill`` never trains fusion.
        """
        raise RuntimeError("model fusion has no parameters to train")


@DISTILLERS.register("ensemble")
class ModelEnsemble(Supervised):
    """Model ensemble: a linear classifier on the frozen teachers' concatenated features (§5.5).

    Args:
        student: ignored (None); the classifier is the only trained part.
        teachers, crop_size, frames, flip: see ``kd.Supervised``.
        num_classes: classes of the dataset.
    """

    name = "ensemble"
    paper = "Zhang & Peng 2018, §5.5 (baseline)"
    teacher_count = (1, None)
    needs_student = False

    def __init__(
        self,
        student: VideoBackbone | None = None,
        teachers: Sequence[nn.Module] | Teachers = (),
        crop_size: int = 112,
        frames: int = 16,
        num_classes: int = 10,
        flip: bool = True,
    ) -> None:
        super().__init__(student or no_student(), teachers, crop_size, frames, flip)
        dims = [int(getattr(t, "feature_dim")) for t in self.teachers]
        self.head = nn.Linear(sum(dims), num_classes)

    def predict(self, x: Tensor) -> Tensor:
        """Logits (B, C) of the linear head on ``cat(teacher features)``."""
        return self.head(torch.cat(self.teachers.features(x), dim=1))

    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """Cross-entropy of the linear head."""
        x, y = self.view(batch)
        loss, acc = classification(self.predict(x), y)
        return StepOutput(loss, {"acc": acc.item()}, y.shape[0])


# ---------------------------------------------------------------------- method cards

GRAPH_RECIPE = {"optimiser": "adam", "learning rate": 0.01, "batch size": 128, "epochs": 350}
"""Zhang & Peng 2018 §5.2 (Adam, "momentum 0.9" being its beta_1; lr halved every 50 epochs)."""
FULL_MAP = "the distillation layer's full map"
MEDIAN_SIGMA = "median distance in each batch"
SCALED_TEMPERATURE = "1 / sqrt(d S)"


def _or(cls: type[GraphDistiller], parameter: str, meaning_of_none: str) -> Any:
    """The default of ``parameter``, or what None stands for."""
    value = default_of(cls, parameter)()
    return meaning_of_none if value is None else value


def _locations() -> str:
    """What G_r's locations S are by default: the full map of the distillation block, or a pooled grid."""
    grid = default_of(GraphDistiller, "grid")()
    return FULL_MAP if grid is None else f"pooled to {tuple(grid)}"


def _graph_settings(cls: type[GraphDistiller]) -> tuple[Setting, ...]:
    rows = []
    if cls.logit_graph:
        rows += [
            Setting("lambda (Eq. 2)", paper=0.6, where="§5.2", ours=default_of(cls, "lam")),
            Setting("temperature T_k", where="Eq. 6", ours=default_of(cls, "temperature")),
            Setting("coupling of Eq. 5", paper="sample", where="Eq. 5", ours=default_of(cls, "coupling")),
        ]
    if cls.feature_graph:
        rows += [
            Setting("distillation block", paper=-2, where="§5.2, conv4 of five", ours=default_of(cls, "feature_block")),
            Setting("locations S", paper=FULL_MAP, where="§4.3", ours=_locations),
            Setting("weight of G_r", ours=default_of(cls, "feature_weight")),
            Setting("MMD bandwidth sigma", where="Eq. 9", ours=lambda: _or(cls, "mmd_sigma", MEDIAN_SIGMA)),
        ]
    if cls.feature_graph == "bilinear":
        rows += [
            Setting("sketch dimension", where="Eq. 7", ours=default_of(cls, "sketch_dim")),
            Setting(
                "temperature T_k of Eq. 8",
                where="Eq. 8",
                ours=lambda: _or(cls, "feature_temperature", SCALED_TEMPERATURE),
            ),
        ]
    return (*rows, *recipe_settings(GRAPH_RECIPE, "§5.2"))


_SUMMARIES = {
    "graph_logits": (
        "Logits graph G_l",
        "Zhang & Peng 2018 (IJCAI), §4.2",
        "Teachers are vertices; learned edges weigh the Earth Mover distance of each teacher's "
        "softened outputs to the student's, per sample (Eq. 5); (1 - lambda) CE + lambda G_l.",
    ),
    "mmgd": (
        "MMGD logits graph",
        "Luo et al. 2018, as the baseline of Zhang & Peng 2018 §5.5",
        "The logits graph with the cosine distance in place of the Earth Mover distance.",
    ),
    "graph_features": (
        "Representation graph G_r",
        "Zhang & Peng 2018 (IJCAI), §4.3",
        "Pairs of teachers' block outputs combined by compact bilinear pooling at each location; "
        "MMD to the student's channel maps, vertices weighted by learned logits (Eq. 10). "
        "mmd_sigma None takes the median distance of each batch; T_k None scales by sqrt(d S).",
    ),
    "feature_uniform": (
        "Uniform feature distillation",
        "Zhang & Peng 2018, §5.5 (baseline)",
        "MMD to each teacher's own block output, equal weights, no bilinear pairs.",
    ),
    "graph": (
        "Graph distillation G_l + G_r",
        "Zhang & Peng 2018 (IJCAI), §4",
        "Both graphs: (1 - lambda) CE + lambda G_l + G_r.",
    ),
    "mmgd_features": (
        "MMGD + G_r",
        "Zhang & Peng 2018, §5.5 (baseline)",
        "The cosine logits graph with the representation graph.",
    ),
}

for _cls in (LogitsGraph, MMGD, RepresentationGraph, UniformFeatures, FullGraph, MMGDFeatures):
    _title, _paper, _summary = _SUMMARIES[_cls.name]
    register_card(
        MethodCard(
            method=_cls.name,
            kind="distill",
            title=_title,
            paper=_paper,
            summary=_summary,
            settings=_graph_settings(_cls),
        )
    )

register_card(
    MethodCard(
        method="fusion",
        kind="distill",
        title="Model fusion",
        paper="Zhang & Peng 2018, §5.5 (baseline)",
        summary="The mean of the finetuned teachers' softmax scores; nothing is trained, so nothing is set.",
    )
)

register_card(
    MethodCard(
        method="ensemble",
        kind="distill",
        title="Model ensemble",
        paper="Zhang & Peng 2018, §5.5 (baseline)",
        summary="A linear classifier on the frozen teachers' concatenated features.",
        settings=recipe_settings(GRAPH_RECIPE, "§5.2"),
    )
)
