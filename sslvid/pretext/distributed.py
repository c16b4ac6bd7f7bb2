"""Contrastive learning over several processes: negatives from every process, and shuffled BN.

Under ``torchrun`` each process holds a slice of the global batch. Two things then differ
from one process holding the whole batch, and this module restores both:

* **In-batch negatives.** NT-Xent (SimCLR, CVRL) and in-batch InfoNCE contrast each row with
  the other rows of the batch. ``gather_with_grad`` concatenates every process's rows, so the
  negatives are the global batch, and lets the gradient flow back to the process that made each
  row (as lightly's and pytorchvideo's gather layers): the backward pass sums the gradient of
  the gathered tensor over processes and keeps this process's slice. With DDP's averaging of
  parameter gradients the result is the gradient of the mean of the per-process losses, i.e.
  of the single-process loss over the global batch.
* **Shuffled BN for key encoders.** A momentum encoder's BatchNorm statistics over a batch
  whose rows are the queries' own videos let the query find its key by the statistics alone
  (He et al. 2020, MoCo §3.3). ``shuffled_forward`` runs the key encoder on a random
  permutation of the global batch spread over processes, and un-shuffles the outputs, as MoCo's
  ``_batch_shuffle_ddp`` / ``_batch_unshuffle_ddp``.

With a single process (no process group, or world size 1) every function returns its input's
result unchanged, so single-device runs are bit-for-bit what they were. Processes may hold
batches of different sizes (sizes are exchanged first). Every function here is a collective:
every process of the group must call it, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import Tensor


def world() -> tuple[int, int]:
    """``(rank, world size)`` of the default process group; ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def batch_sizes(rows: int, device: torch.device) -> list[int]:
    """Every process's number of rows, in rank order (one small all-gather)."""
    mine = torch.tensor([rows], device=device)
    every = [torch.zeros_like(mine) for _ in range(world()[1])]
    dist.all_gather(every, mine)
    return [int(n) for n in every]


def _all_gather_rows(x: Tensor, sizes: list[int]) -> Tensor:
    """Concatenation of every process's ``x`` (rows padded to the longest, then trimmed)."""
    longest = max(sizes)
    padded = x.new_zeros((longest, *x.shape[1:]))
    padded[: len(x)] = x
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([part[:n] for part, n in zip(parts, sizes)])


class _GatherWithGrad(torch.autograd.Function):
    """All-gather whose backward sums the gathered gradient over processes and keeps this process's rows."""

    @staticmethod
    def forward(ctx, x: Tensor, sizes: list[int], rank: int) -> Tensor:
        ctx.start, ctx.rows = sum(sizes[:rank]), sizes[rank]
        return _all_gather_rows(x, sizes)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.start : ctx.start + ctx.rows], None, None


def gather_with_grad(x: Tensor) -> tuple[Tensor, int]:
    """Every process's rows of ``x``, in rank order, with gradient back to each row's process.

    Args:
        x: (N_r, ...) this process's rows (N_r may differ between processes).

    Returns:
        ``(rows (sum_r N_r, ...), offset)``: the global batch and the index of this process's first
        row in it. Without a process group: ``(x, 0)``.
    """
    rank, size = world()
    if size == 1:
        return x, 0
    sizes = batch_sizes(len(x), x.device)
    return _GatherWithGrad.apply(x, sizes, rank), sum(sizes[:rank])


@torch.no_grad()
def gather_rows(x: Tensor) -> Tensor:
    """Every process's rows of ``x`` in rank order, without gradient (keys for a queue); ``x`` alone
    without a process group."""
    if world()[1] == 1:
        return x
    return _all_gather_rows(x, batch_sizes(len(x), x.device))


@torch.no_grad()
def shuffled_forward(
    encoder: Callable[[Tensor], Tensor], x: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """``encoder(x)`` with the global batch shuffled over processes first and un-shuffled after (shuffle BN).

    MoCo's batch shuffle (He et al. 2020 §3.3): the clips of every process are gathered, permuted
    by one permutation drawn on rank 0 and broadcast, and each process encodes as many permuted
    rows as it holds, so its BatchNorm statistics come from a random subset of the global batch
    instead of its own videos. The outputs are gathered again and each process keeps its own
    rows' outputs, in its original order. Without a process group: ``encoder(x)``.

    Args:
        encoder: the key encoder, (N, ...) -> (N, D); run without gradient.
        x: (N_r, ...) this process's inputs, e.g. clips (N_r, C, T, H, W).
        generator: the permutation's randomness on rank 0 (None: torch's global RNG).

    Returns:
        (N_r, D) the encoder's outputs for this process's rows.
    """
    rank, size = world()
    if size == 1:
        return encoder(x)
    sizes = batch_sizes(len(x), x.device)
    everything, start = _all_gather_rows(x, sizes), sum(sizes[:rank])
    permutation = (
        torch.randperm(len(everything), generator=generator)
        if rank == 0
        else torch.empty(len(everything), dtype=torch.long)
    ).to(x.device)
    dist.broadcast(permutation, src=0)  # other ranks draw nothing: their RNG streams stay as they were
    outputs = _all_gather_rows(encoder(everything[permutation[start : start + len(x)]]), sizes)
    position = torch.argsort(permutation)  # where each global row went
    return outputs[position[start : start + len(x)]]
