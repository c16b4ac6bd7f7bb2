"""PCL-boosted KD: a self-supervised student taught by a pretrained teacher (Camarena et al. 2022).

Camarena, Chang, Gonzalez-Mendoza & Hernandez-Gress 2022 (NeurIPS workshop, §3, Fig. 2): the
student trains with Pretext-Contrastive Learning (PCL, Tao, Wang & Yamasaki 2020) — a pretext
task, "which transformation was applied to the input video" by cross-entropy, plus a
contrastive loss through a one-layer projection head ("a perceptron") — and, in addition, the
KL divergence between its softened outputs and a teacher's (Hinton et al. 2015). The teacher
is a PCL-trained network of the same or another architecture (a ``pcl_kd`` run without
teacher, the paper's PCL baseline); without a teacher the same module is that baseline. No
labels are used.

PCL as its released code (``BestJuly/Pretext-Contrastive-Learning``, ``train_vcp_contrast.py``)
builds it on VCP:

* each video gives a tuple of three consecutive clips, ``interval`` frames apart, and a fourth
  "remote" clip at least ``remote_gap`` frames away from the tuple (:class:`TupleSampler`);
* the middle clip undergoes one of five transformations (:data:`TRANSFORMATIONS`): none,
  rotation by 1-3 quarter turns, spatial permutation of the four quadrants, temporal shuffle
  (two of four chunks swapped), or replacement by the remote clip (:func:`transform_middle`);
  a linear head on the three clips' concatenated features classifies which;
* the first and third clips' projections are contrasted against memory banks (CMC-style NCE,
  :class:`MemoryBankNCE`): each view against the other view's bank entry of the same video
  and 1024 other entries drawn at random (never more than the bank holds: 99 at the micro
  scale's 100 training videos), temperature 0.07, banks moved towards the new projections with
  momentum 0.5; the two directions are summed and weighted by 0.5.

The teacher scores the same transformed tuple; its transformation logits are the soft targets.
``acc`` in the per-epoch log is the student's transformation accuracy; downstream accuracy per
epoch comes from evaluating the checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslvid.backbones.base import VideoBackbone
from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.data.sampling import ClipSampler
from sslvid.data.transforms import ClipAugment, rotate90
from sslvid.distill.base import DISTILLERS, Distiller, Teachers
from sslvid.distill.losses import kd_kl, soften
from sslvid.distill.recipe import ONE_RECIPE, recipe_settings
from sslvid.engine.step import StepOutput
from sslvid.pretext.heads import LinearHead
from sslvid.pretext.losses import classification, info_nce_logits

TRANSFORMATIONS = ("original", "rotation", "spatial_permutation", "temporal_shuffle", "remote_clip")
"""PCL's five classes, in the released code's label order."""
REMOTE = TRANSFORMATIONS.index("remote_clip")
TRANSFORMATION_CLIPS = 3
"""Clips in a tuple: the transformed middle one between its two neighbours."""
PROJECTION_HEAD = "one linear layer"
INPUT_FRAMES = "RGB frames"


@dataclass(frozen=True)
class TupleSampler(ClipSampler):
    """Three consecutive clips ``interval`` frames apart, then a remote clip (PCL's VCP tuple).

    The remote clip starts at least ``remote_gap`` frames before or after the tuple, on a side
    drawn at random among those with room (the released ``load4clips`` asks for room on both
    sides: its one-side branches are unreachable). Without room on either side the fourth clip
    repeats the middle one, and the tuple cannot be labelled "remote clip".

    Args:
        num_frames: T of each clip.
        interval: frames between consecutive clips of the tuple.
        remote_gap: least distance in frames between the tuple and the remote clip.
    """

    clips_per_video: int = 4
    interval: int = 8
    remote_gap: int = 16

    def starts(self, video_frames: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """Start frames (4,): the tuple's three clips, then the remote clip."""
        rng = rng if rng is not None else np.random.default_rng()
        step = self.span + self.interval
        tuple_frames = 2 * step + self.span
        first = int(rng.integers(0, max(video_frames - tuple_frames, 0) + 1))
        before = first - self.span - self.remote_gap  # last start of a remote clip before the tuple
        after = first + tuple_frames + self.remote_gap  # first start of one after it
        sides = [(0, before)] if before >= 0 else []
        sides += [(after, video_frames - self.span)] if after <= video_frames - self.span else []
        remote = first + step
        if sides:
            low, high = sides[int(rng.integers(0, len(sides)))]
            remote = int(rng.integers(low, high + 1))
        return np.array([first, first + step, first + 2 * step, remote], dtype=np.int64)


def swap_quadrants(x: Tensor) -> Tensor:
    """PCL's spatial permutation: quadrants [[A, B], [C, D]] -> [[D, C], [B, A]] of clips (N, 3, T, H, W)."""
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    a, b, c, d = x[..., :h, :w], x[..., :h, w:], x[..., h:, :w], x[..., h:, w:]
    return torch.cat([torch.cat([d, c], dim=-1), torch.cat([b, a], dim=-1)], dim=-2)


def swap_chunks(x: Tensor, first: Tensor, second: Tensor) -> Tensor:
    """PCL's temporal shuffle: swap chunks ``first`` and ``second`` of four along T, per clip.

    Args:
        x: clips (N, 3, T, H, W), T divisible by 4.
        first: (N,) chunk indices in [0, 4).
        second: (N,) chunk indices in [0, 4).

    Raises:
        ValueError: if T is not a multiple of 4.
    """
    n, t = x.shape[0], x.shape[2]
    if t % 4:
        raise ValueError(f"temporal shuffle cuts clips into 4 chunks; T = {t} is not a multiple of 4")
    size = t // 4
    chunk = torch.arange(t, device=x.device) // size  # (T,) chunk of each frame
    offset = torch.arange(t, device=x.device) % size
    source = chunk.expand(n, t).clone()
    first, second = first.view(n, 1).to(x.device), second.view(n, 1).to(x.device)
    source = torch.where(chunk == first, second, torch.where(chunk == second, first, source))
    frames = source * size + offset  # (N, T)
    return x.gather(2, frames.view(n, 1, t, 1, 1).expand_as(x))


def transform_middle(
    middle: Tensor, remote: Tensor, labels: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """The middle clips after the transformation each label names (:data:`TRANSFORMATIONS`).

    Rotations turn by 1-3 quarter turns and temporal shuffles swap two distinct chunks of four,
    drawn per clip as in the released ``preprocess``.

    Args:
        middle: clips (N, 3, T, H, W), square frames.
        remote: the remote clips (N, 3, T, H, W).
        labels: (N,) int64 in [0, 5).
        generator: randomness of the turns and chunks (None: torch's global RNG).
    """
    n = middle.shape[0]
    turns = torch.randint(1, 4, (n,), generator=generator)
    first = torch.randint(0, 4, (n,), generator=generator)
    second = (first + torch.randint(1, 4, (n,), generator=generator)) % 4
    options = [
        middle,
        rotate90(middle, turns.to(middle.device)),
        swap_quadrants(middle),
        swap_chunks(middle, first, second),
        remote,
    ]
    chosen = labels.to(middle.device).view(n, 1, 1, 1, 1)
    out = middle
    for label, option in enumerate(options[1:], start=1):
        out = torch.where(chosen == label, option, out)
    return out


class MemoryBankNCE(nn.Module):
    """Two memory banks of projections and their NCE loss (CMC-style; PCL's released ``NCEAverage_ori``).

    Bank ``v`` holds one L2-normalised entry per training video for view v (video ``i`` in slot
    ``i % size``; entries start uniform in ``±1 / sqrt(dim / 3)``). For each video, view 1's
    projection is scored against view 2's bank: its own entry (the positive) and K negative
    entries (softmax over 1 + K at temperature tau, positive first), and view 2's against view
    1's bank alike. Afterwards each entry moves towards the new projection,
    ``normalise(m * entry + (1 - m) * z)``.

    The released code draws the K = 1024 negatives uniformly with replacement from every video's
    entry (UCF101: 9537), so a video meets its own entry among them 0.1 times per step on average.
    Here they are drawn without replacement from the other videos' entries written so far (from
    every slot before the first write), and K is capped at their number: the same at paper scale,
    and at the micro scale's 100 training videos all 99 others instead of each video's own entry
    about ten times among 1024 draws.

    Args:
        dim: projection length.
        size: bank slots (>= the number of training videos for one slot per video).
        negatives: K, the most negatives per query.
        temperature: tau.
        momentum: m of the entry update.

    Raises:
        ValueError: for non-positive sizes or temperature, or a momentum outside [0, 1).
    """

    memory: Tensor
    written: Tensor

    def __init__(
        self, dim: int, size: int = 16384, negatives: int = 1024, temperature: float = 0.07, momentum: float = 0.5
    ) -> None:
        super().__init__()
        if min(dim, size, negatives) < 1 or temperature <= 0 or not 0.0 <= momentum < 1.0:
            raise ValueError(
                f"need dim, size, negatives >= 1, temperature > 0 and momentum in [0, 1); got {dim}, "
                f"{size}, {negatives}, {temperature}, {momentum}"
            )
        self.negatives, self.temperature, self.momentum = negatives, float(temperature), float(momentum)
        bound = 1.0 / (dim / 3) ** 0.5
        self.register_buffer("memory", torch.rand(2, size, dim) * 2 * bound - bound)
        self.register_buffer("written", torch.zeros(size, dtype=torch.bool))

    def slots(self, videos: Tensor) -> Tensor:
        """Bank slots (N,) of video indices (N,)."""
        return videos.to(self.memory.device).long() % self.memory.shape[1]

    def draw_negatives(self, slots: Tensor) -> Tensor:
        """(N, K) negative slots for the videos in ``slots`` (N,): other written slots, without replacement.

        K is ``min(negatives, pool - 1)`` with the pool the written slots (every slot while fewer
        than two are written).
        """
        pool = self.written.nonzero().flatten()
        if pool.numel() < 2:
            pool = torch.arange(self.memory.shape[1], device=self.memory.device)
        k = min(self.negatives, pool.numel() - 1)
        keys = torch.rand(slots.shape[0], pool.numel(), device=pool.device)
        keys = keys.masked_fill(pool.view(1, -1) == slots.view(-1, 1), -1.0)  # never a video's own entry
        return pool[keys.topk(k, dim=1).indices]

    def forward(self, z1: Tensor, z2: Tensor, videos: Tensor, negatives: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """NCE of both views and its top-1, then the banks' update.

        Args:
            z1: (N, D) projections of the first views.
            z2: (N, D) projections of the second views.
            videos: (N,) training-set indices of the videos.
            negatives: (N, K) slots of the negatives (None: :meth:`draw_negatives`).

        Returns:
            ``(loss, acc)``: the sum of both directions' cross-entropy, and their mean top-1.
        """
        slots = self.slots(videos)
        negatives = self.draw_negatives(slots) if negatives is None else negatives.to(slots.device)
        bank1, bank2 = self.memory[0].detach(), self.memory[1].detach()
        loss1, acc1 = classification(*info_nce_logits(z1, bank2[slots], bank2[negatives], self.temperature))
        loss2, acc2 = classification(*info_nce_logits(z2, bank1[slots], bank1[negatives], self.temperature))
        self.update(z1, z2, slots)
        return loss1 + loss2, (acc1 + acc2) / 2

    @torch.no_grad()
    def update(self, z1: Tensor, z2: Tensor, slots: Tensor) -> None:
        """``entry = normalise(m * entry + (1 - m) * normalise(z))`` for both banks."""
        for view, z in enumerate((z1, z2)):
            moved = self.momentum * self.memory[view, slots] + (1 - self.momentum) * F.normalize(
                z.detach().float(), dim=1
            )
            self.memory[view, slots] = F.normalize(moved, dim=1).to(self.memory.dtype)
        self.written[slots] = True


class TransformationTeacher(nn.Module):
    """A PCL-trained network as a teacher: tuples (B, 3, 3, T, H, W) -> transformation logits (B, 5).

    Args:
        backbone: the trained backbone (``forward_features``).
        head: its transformation head on the three clips' concatenated features.
    """

    def __init__(self, backbone: VideoBackbone, head: nn.Module) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head
        self.feature_dim = backbone.feature_dim

    def forward(self, tuples: Tensor) -> Tensor:
        """The head's logits of every tuple."""
        return transformation_logits(self.backbone, self.head, tuples)


def transformation_logits(backbone: VideoBackbone, head: nn.Module, tuples: Tensor) -> Tensor:
    """Logits (B, 5) of tuples (B, 3, 3, T, H, W): the head on ``cat(f(clip_1), f(clip_2), f(clip_3))``."""
    b = tuples.shape[0]
    features = backbone.forward_features(tuples.flatten(0, 1))  # (B * 3, D)
    return head(features.view(b, -1))


@DISTILLERS.register("pcl_kd")
class PCLKD(Distiller):
    """PCL's transformation classification + memory-bank NCE + KD to an optional PCL-trained teacher.

    Args:
        student: ``VideoBackbone`` without a classifier (``forward_features`` -> (B, D)).
        teachers: none (the PCL baseline) or one :class:`TransformationTeacher` (a ``pcl_kd``
            run, of any backbone).
        crop_size, frames: clip side and length (T divisible by 4, for the temporal shuffle).
        temperature: T of the KD term.
        kd_weight: weight of ``T^2 KL(teacher || student)`` on the transformation logits.
        contrastive_weight: weight of the NCE (both directions summed), 0.5 in PCL's code.
        nce_temperature: tau of the NCE, 0.07 in PCL's code.
        negatives: the most negatives per view, 1024 in PCL's code (``MemoryBankNCE``).
        memory_size: bank slots; one per training video when the training set is no larger.
        memory_momentum: momentum of the bank entries, 0.5 in PCL's code.
        interval: frames between the tuple's clips (None: T / 2, the code's 8 for T = 16).
        remote_gap: least frames between the tuple and the remote clip (None: T, the code's 16).
        proj_dim: output of the one-layer projection head ("a perceptron", Camarena et al. §3).
        flip: random horizontal flips of the clips.

    Raises:
        ValueError: for non-positive temperatures, T not divisible by 4, or a teacher that is
            not a PCL-trained network.
    """

    name = "pcl_kd"
    paper = "Camarena et al. 2022, NeurIPS workshop, §3 (PCL: Tao et al. 2020)"
    teacher_count = (0, 1)
    teacher_output = "pretext"
    student_head = False

    def __init__(
        self,
        student: VideoBackbone,
        teachers: Sequence[nn.Module] | Teachers = (),
        crop_size: int = 112,
        frames: int = 16,
        temperature: float = 4.0,
        kd_weight: float = 1.0,
        contrastive_weight: float = 0.5,
        nce_temperature: float = 0.07,
        negatives: int = 1024,
        memory_size: int = 16384,
        memory_momentum: float = 0.5,
        interval: int | None = None,
        remote_gap: int | None = None,
        proj_dim: int = 128,
        flip: bool = True,
    ) -> None:
        super().__init__(student, teachers)
        if temperature <= 0 or frames % 4:
            raise ValueError(f"need a positive temperature and frames divisible by 4; got {temperature}, {frames}")
        wrong = [type(t).__name__ for t in self.teachers if not isinstance(t, TransformationTeacher)]
        if wrong:
            raise ValueError(
                f"PCL-KD's teacher must be a PCL-trained network (a pcl_kd run) that scores the "
                f"{len(TRANSFORMATIONS)} transformations; got {', '.join(wrong)}"
            )
        self.crop_size, self.frames = crop_size, frames
        self.interval = frames // 2 if interval is None else int(interval)
        self.remote_gap = frames if remote_gap is None else int(remote_gap)
        self.temperature, self.kd_weight, self.contrastive_weight = (
            float(temperature),
            float(kd_weight),
            float(contrastive_weight),
        )
        self.augment = ClipAugment(crop_size, flip_p=0.5 if flip else 0.0, blur_p=0.5)
        self.transformation_head = LinearHead(3 * student.feature_dim, len(TRANSFORMATIONS))
        self.projector = LinearHead(student.feature_dim, proj_dim)
        self.bank = MemoryBankNCE(proj_dim, memory_size, negatives, nce_temperature, memory_momentum)

    def clip_sampler(self, frames: int) -> ClipSampler:
        """The tuple and its remote clip (:class:`TupleSampler`)."""
        return TupleSampler(num_frames=frames, interval=self.interval, remote_gap=self.remote_gap)

    def as_teacher(self) -> TransformationTeacher:
        """The trained student as the teacher of another ``pcl_kd`` run."""
        return TransformationTeacher(self.backbone, self.transformation_head)

    def labels(self, batch: dict[str, Any]) -> Tensor:
        """(B,) transformations drawn uniformly; "remote clip" redrawn among the others without a remote clip."""
        b = batch["clips"].shape[0]
        labels = torch.randint(0, len(TRANSFORMATIONS), (b,))
        starts = batch["frame_indices"][:, :, 0].cpu()
        no_remote = starts[:, 3] == starts[:, 1]
        redraw = no_remote & (labels == REMOTE)
        return torch.where(redraw, torch.randint(0, REMOTE, (b,)), labels)

    def tuples(self, batch: dict[str, Any], labels: Tensor) -> Tensor:
        """Augmented tuples (B, 3, 3, T, S, S) with the middle clip transformed as ``labels`` say."""
        clips = batch["clips"]  # (B, 4, T, H, W, 3)
        b = clips.shape[0]
        x = self.augment(clips.flatten(0, 1)).view(b, 4, 3, *clips.shape[2:3], self.crop_size, self.crop_size)
        middle = transform_middle(x[:, 1], x[:, 3], labels)
        return torch.stack([x[:, 0], middle, x[:, 2]], dim=1)

    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """Transformation CE + ``contrastive_weight`` NCE (+ ``kd_weight`` KD with a teacher)."""
        labels = self.labels(batch)
        tuples = self.tuples(batch, labels)
        b = tuples.shape[0]
        features = self.backbone.forward_features(tuples.flatten(0, 1)).view(b, 3, -1)
        logits = self.transformation_head(features.flatten(1))
        pretext, acc = classification(logits, labels.to(logits.device))
        z = F.normalize(self.projector(features[:, [0, 2]]).float(), dim=-1)  # the bank is float32
        contrastive, nce_acc = self.bank(z[:, 0], z[:, 1], batch["video"])
        loss = pretext + self.contrastive_weight * contrastive
        metrics = {
            "acc": acc.item(),
            "pretext": pretext.item(),
            "contrastive": contrastive.item(),
            "nce_acc": nce_acc.item(),
        }
        if len(self.teachers):
            kd = kd_kl(logits.float(), soften(self.teachers.logits(tuples)[0], self.temperature), self.temperature)
            loss = loss + self.kd_weight * kd
            metrics["kd"] = kd.item()
        return StepOutput(loss, metrics, b)


# ---------------------------------------------------------------------- method card

PCL_CODE_RECIPE = {
    "optimiser": "sgd",
    "learning rate": 0.01,
    "weight decay": 5e-4,
    "momentum": 0.9,
    "batch size": 16,
    "epochs": 200,
}
"""``train_vcp_contrast.py`` defaults (lr 0.01 cut by 10 on a plateau of the validation loss)."""


def _at_paper_frames(parameter: str, share: float) -> int:
    """A tuple spacing at T = 16 (None stands for ``share`` of T)."""
    value = default_of(PCLKD, parameter)()
    return int(value) if value is not None else int(default_of(PCLKD, "frames")() * share)


register_card(
    MethodCard(
        method="pcl_kd",
        kind="distill",
        title="PCL-KD",
        paper="Camarena et al. 2022 (NeurIPS workshop); PCL: Tao, Wang & Yamasaki 2020",
        code="BestJuly/Pretext-Contrastive-Learning",
        summary="PCL (which of five transformations the middle clip of a three-clip tuple underwent, and a "
        "memory-bank NCE between the first and third clips) plus KD to a PCL-trained teacher's "
        "transformation logits. Camarena et al. give no PCL numbers; the released column is PCL's code. "
        "Negatives are drawn without replacement from the other videos' entries and never outnumber them "
        "(99 at the micro scale's 100 training videos; the same as the code's at UCF101's 9537).",
        settings=(
            Setting("transformation classes", released=5, ours=lambda: len(TRANSFORMATIONS)),
            Setting("clips in a tuple", released=3, ours=lambda: TRANSFORMATION_CLIPS),
            Setting(
                "frames between the tuple's clips (T = 16)", released=8, ours=lambda: _at_paper_frames("interval", 0.5)
            ),
            Setting(
                "least gap to the remote clip (T = 16)", released=16, ours=lambda: _at_paper_frames("remote_gap", 1.0)
            ),
            Setting("weight of the contrastive loss", released=0.5, ours=default_of(PCLKD, "contrastive_weight")),
            Setting("NCE temperature", released=0.07, ours=default_of(PCLKD, "nce_temperature")),
            Setting("negatives K", released=1024, ours=default_of(PCLKD, "negatives")),
            Setting("memory momentum", released=0.5, ours=default_of(PCLKD, "memory_momentum")),
            Setting(
                "projection head",
                paper="one linear layer",
                where='§3 ("a perceptron")',
                released="fc-ReLU-fc, L2-normalised",
                ours=lambda: PROJECTION_HEAD,
                note="Camarena et al. describe one layer; PCL's code has two",
            ),
            Setting("projection dimension", released=128, ours=default_of(PCLKD, "proj_dim")),
            Setting(
                "input",
                released="residual frames (--modality res)",
                ours=lambda: INPUT_FRAMES,
                note="the study feeds every method RGB clips; residual clips are PCL's own option",
            ),
            Setting("KD temperature", where="§3", ours=default_of(PCLKD, "temperature")),
            Setting("KD weight", where="§3", ours=default_of(PCLKD, "kd_weight")),
            *recipe_settings({"epochs": 100}, "§3", released=PCL_CODE_RECIPE, notes={"epochs": ONE_RECIPE}),
        ),
    )
)
