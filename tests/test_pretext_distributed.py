"""Contrastive losses over two gloo processes equal one process holding the global batch.

Two processes (``torch.multiprocessing.spawn``, gloo on the CPU) each hold half of a global
batch of tiny features. Each computes its loss with ``gather_distributed=True`` and its
gradient, then the gradients are averaged as DDP does. The mean loss and the averaged gradient
must equal the loss and gradient of one process over the whole batch, computed here with a
plain loop over the NT-Xent / InfoNCE formulas (SimCLR Eq. 1; MoCo Eq. 1). Shuffled BN
(MoCo §3.3) must give each row the output of the encoder over the random sub-batch it was
sent to, and the queue must hold the keys of both processes.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from sslvid.pretext.distributed import gather_with_grad, shuffled_forward, world
from sslvid.pretext.heads import FeatureQueue, MomentumEncoder
from sslvid.pretext.losses import info_nce, info_nce_logits, nt_xent, nt_xent_logits

WORLD = 2
ROWS = 3  # per process
IN, OUT = 4, 3
TAU = 0.5
SHUFFLE_SEED = 11


def global_batch() -> dict[str, torch.Tensor]:
    """Inputs of the whole batch (WORLD * ROWS rows) and the weights of two tiny linear encoders."""
    gen = torch.Generator().manual_seed(0)
    n = WORLD * ROWS
    return {
        name: torch.randn(*shape, generator=gen, dtype=torch.float64)
        for name, shape in (("x1", (n, IN)), ("x2", (n, IN)), ("w", (OUT, IN)), ("w_key", (OUT, IN)))
    }


def reference_nt_xent(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    """SimCLR Eq. 1 with a loop: -log softmax of each view's other view among the 2N - 1 others."""
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    terms = []
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        others = [j for j in range(2 * n) if j != i]
        sims = torch.stack([z[i] @ z[j] / tau for j in others])
        terms.append(-(z[i] @ z[positive] / tau - torch.logsumexp(sims, dim=0)))
    return torch.stack(terms).mean()


def reference_in_batch_info_nce(q: torch.Tensor, k: torch.Tensor, tau: float) -> torch.Tensor:
    """InfoNCE with the batch's other keys as negatives: -log softmax of k_i among all keys."""
    q, k = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(k, dim=1)
    return torch.stack([-(q[i] @ k[i] / tau - torch.logsumexp(q[i] @ k.T / tau, dim=0)) for i in range(len(q))]).mean()


def bn_encoder() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(IN, OUT), nn.BatchNorm1d(OUT)).double().train()


def _local_losses(rank: int) -> dict[str, torch.Tensor]:
    """This process's losses and DDP-averaged gradients of the two in-batch losses."""
    data = global_batch()
    rows = slice(rank * ROWS, (rank + 1) * ROWS)
    out = {}
    for name in ("nt_xent", "info_nce"):
        w, w_key = data["w"].clone().requires_grad_(), data["w_key"].clone().requires_grad_()
        a, b = data["x1"][rows] @ w.T, data["x2"][rows] @ (w if name == "nt_xent" else w_key).T
        loss = (
            nt_xent(a, b, TAU, gather_distributed=True)
            if name == "nt_xent"
            else info_nce(a, b, None, TAU, gather_distributed=True)
        )
        loss.backward()
        grads = torch.cat([w.grad.flatten(), w_key.grad.flatten() if w_key.grad is not None else torch.zeros(0)])
        dist.all_reduce(grads)  # DDP: the mean over processes of each parameter's gradient
        out[name], out[f"{name}_grad"] = loss.detach(), grads / WORLD
    return out


def _uneven_logits(rank: int) -> dict[str, torch.Tensor]:
    """Logits of processes holding 3 and 2 rows: they must be rows of the one-process logits."""
    data = global_batch()
    rows = slice(0, 3) if rank == 0 else slice(3, 5)
    z1, z2 = data["x1"][rows] @ data["w"].T, data["x2"][rows] @ data["w"].T
    logits, target = nt_xent_logits(z1, z2, TAU, gather_distributed=True)
    in_batch, in_target = info_nce_logits(z1, z2, None, TAU, gather_distributed=True)
    gathered, offset = gather_with_grad(z1)
    return {
        "logits": logits,
        "target": target,
        "in_batch": in_batch,
        "in_target": in_target,
        "gathered": gathered,
        "offset": torch.tensor(offset),
    }


def _shuffled(rank: int) -> dict[str, torch.Tensor]:
    data = global_batch()
    rows = slice(rank * ROWS, (rank + 1) * ROWS)
    encoder = bn_encoder()
    shuffled = shuffled_forward(encoder, data["x1"][rows], torch.Generator().manual_seed(SHUFFLE_SEED))
    momentum = MomentumEncoder(nn.Identity(), nn.Identity(), shuffle_bn=True)
    queue = FeatureQueue(OUT, 4 * WORLD * ROWS).double()
    queue.push(data["x2"][rows, :OUT])
    return {
        "shuffled": shuffled,
        "plain": encoder(data["x1"][rows]).detach(),
        "queue": queue.keys.clone(),
        "ptr": queue.ptr.clone(),
        "momentum_world": torch.tensor(world()),
        "momentum": momentum.shuffle_bn,
    }


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        results = {**_local_losses(rank), **_uneven_logits(rank), **_shuffled(rank)}
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, torch.Tensor]]:
    """What each of the two gloo processes computed."""
    folder = tmp_path_factory.mktemp("gloo")
    mp.spawn(_worker, args=(str(folder / "init"), str(folder)), nprocs=WORLD, join=True)
    return [torch.load(folder / f"rank{r}.pt") for r in range(WORLD)]


def _one_process(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and gradient (w, then w_key) of one process over the global batch, by the loop formulas."""
    data = global_batch()
    w, w_key = data["w"].clone().requires_grad_(), data["w_key"].clone().requires_grad_()
    if name == "nt_xent":
        loss = reference_nt_xent(data["x1"] @ w.T, data["x2"] @ w.T, TAU)
    else:
        loss = reference_in_batch_info_nce(data["x1"] @ w.T, data["x2"] @ w_key.T, TAU)
    loss.backward()
    grads = [w.grad.flatten()] + ([w_key.grad.flatten()] if w_key.grad is not None else [])
    return loss.detach(), torch.cat(grads)


@pytest.mark.parametrize("name", ["nt_xent", "info_nce"])
def test_two_processes_give_the_loss_and_gradient_of_the_global_batch(ranks, name):
    loss, grad = _one_process(name)
    distributed = torch.stack([r[name] for r in ranks]).mean()
    assert float(distributed) == pytest.approx(float(loss), rel=1e-12)
    for r in ranks:
        torch.testing.assert_close(r[f"{name}_grad"], grad, rtol=1e-10, atol=1e-12)
    # without the gather each process would see only its own 2 * ROWS - 2 negatives
    data = global_batch()
    alone = reference_nt_xent(data["x1"][:ROWS] @ data["w"].T, data["x2"][:ROWS] @ data["w"].T, TAU)
    assert not math.isclose(float(alone), float(ranks[0]["nt_xent"]), rel_tol=1e-6)


def test_uneven_batches_give_rows_of_the_one_process_logits(ranks):
    data = global_batch()
    z1, z2 = data["x1"][:5] @ data["w"].T, data["x2"][:5] @ data["w"].T
    logits, target = nt_xent_logits(z1, z2, TAU)
    in_batch, in_target = info_nce_logits(z1, z2, None, TAU)
    for r, rows in zip(ranks, ([0, 1, 2], [3, 4])):
        mine = rows + [5 + i for i in rows]  # this process's first views, then its second views
        torch.testing.assert_close(r["logits"], logits[mine], rtol=1e-12, atol=0)
        assert torch.equal(r["target"], target[mine])
        torch.testing.assert_close(r["in_batch"], in_batch[rows], rtol=1e-12, atol=0)
        assert torch.equal(r["in_target"], in_target[rows])
        torch.testing.assert_close(r["gathered"], z1)
        assert int(r["offset"]) == rows[0]


def test_shuffled_bn_encodes_each_row_in_its_random_sub_batch_and_restores_the_order(ranks):
    data = global_batch()
    permutation = torch.randperm(WORLD * ROWS, generator=torch.Generator().manual_seed(SHUFFLE_SEED))
    outputs = torch.cat([bn_encoder()(data["x1"][permutation[r * ROWS : (r + 1) * ROWS]]) for r in range(WORLD)])
    expected = outputs[torch.argsort(permutation)].detach()
    shuffled = torch.cat([r["shuffled"] for r in ranks])
    torch.testing.assert_close(shuffled, expected, rtol=1e-12, atol=1e-12)
    plain = torch.cat([r["plain"] for r in ranks])
    assert not torch.allclose(shuffled, plain), "BN statistics come from the shuffled sub-batch"


def test_the_queue_holds_the_keys_of_every_process(ranks):
    data = global_batch()
    keys = torch.nn.functional.normalize(data["x2"][:, :OUT], dim=1)
    for r in ranks:
        torch.testing.assert_close(r["queue"][: WORLD * ROWS], keys)
        assert int(r["ptr"]) == WORLD * ROWS
    assert torch.equal(ranks[0]["queue"], ranks[1]["queue"])


def test_one_process_is_unchanged_by_the_gather_flags():
    data = global_batch()
    z1, z2 = data["x1"] @ data["w"].T, data["x2"] @ data["w"].T
    assert world() == (0, 1)
    for flag in (False, True):
        logits, target = nt_xent_logits(z1, z2, TAU, gather_distributed=flag)
        assert float(nt_xent(z1, z2, TAU, flag)) == pytest.approx(float(reference_nt_xent(z1, z2, TAU)), rel=1e-12)
        assert torch.equal(target, torch.cat([torch.arange(6, 12), torch.arange(6)]))
        assert torch.isinf(logits.diagonal()).all()
    encoder = bn_encoder()
    torch.testing.assert_close(shuffled_forward(encoder, data["x1"]), bn_encoder()(data["x1"]))
