"""The one training loop every kind of training goes through.

Pre-training, finetuning, linear probing and distillation differ in what module is trained
and how a batch becomes a loss; the loop around them is the same, and lives here:

* a module called on a batch returns a ``StepOutput`` (loss, detached metrics, batch size;
  ``sslvid.engine.step``), or anything with those three attributes (a pretext task's ``TaskOutput``);
* an optimiser built by a factory, a learning-rate multiplier per step (warm-up, cosine);
* epochs streamed back to back from the loader (``sslvid.engine.loading.epoch_batches``), each
  with a fresh, derived seed (``derive_seed(seed, "epoch", epoch, rank)``), so a
  resumed run repeats exactly the randomness of an uninterrupted one;
* resumable checkpoints every ``checkpoint_every`` epochs through a ``RunHandle`` (the
  optimiser's state, ``RESUME_KEYS``, is stored apart and dropped once the run completes);
* a tidy per-epoch log (loss and metrics averaged over samples, lr, step, seconds), written
  after every epoch;
* batches prepared and copied to the device one ahead (``sslvid.engine.datapath``: uint8 clips,
  pinned memory, a side CUDA stream), so the copy of the next batch overlaps this step;
* bf16 autocast on CUDA, DistributedDataParallel under torchrun (only rank 0 writes and
  shows progress), and no host-device synchronisation per step: losses and metrics are
  summed on the device and read once per epoch (and when the progress bar is refreshed).

The caller (``sslvid.engine.pretrain`` and later evaluation and distillation) builds the
module, the loader and the hooks; nothing here knows about pretext tasks or videos.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from sslvid.engine.datapath import prefetch_to_device
from sslvid.engine.distributed import DistInfo, all_reduce_sum, broadcast_object
from sslvid.engine.loading import batches_per_epoch, epoch_batches
from sslvid.engine.step import StepOutput, StepResult
from sslvid.progress import RunStatus, show_bars, status_file
from sslvid.seeding import derive_seed, seed_everything
from sslvid.store.runs import RunHandle

log = logging.getLogger(__name__)

RESUME_KEYS = ("optimizer",)
"""The entries of ``Trainer.state_dict`` that only resuming needs (``RunHandle.save_checkpoint``)."""

LOG_COLUMNS = ("run", "epoch", "step", "loss", "acc", "lr", "seconds")


@dataclass
class Hooks:
    """What a kind of training adds to the loop, all optional.

    Args:
        prepare: raw loader batch -> batch to train on, or None to skip it (e.g. every video of
            the batch failed). Runs before the batch is moved to the device.
        after_step: after each optimiser step (momentum encoders, queues).
        end_epoch: epoch -> extra log columns (e.g. failed videos); called on every process.
    """

    prepare: Callable[[Any], Any | None] | None = None
    after_step: Callable[[], None] | None = None
    end_epoch: Callable[[int], Mapping[str, float]] | None = None


@dataclass
class Trainer:
    """Trains ``module`` for ``epochs`` epochs over ``loader`` (module docstring).

    Args:
        module: called as ``module(batch) -> StepOutput`` (or any ``StepResult``); its whole state is checkpointed.
        loader: yields raw batches; from ``make_loader`` the epochs stream through one iterator,
            otherwise its sampler's ``set_epoch`` is called before each epoch.
        optimizer: built over ``module``'s parameters after ``module`` is on ``device``.
        epochs: total epochs (a resumed run continues up to it).
        device: where the module and batches live.
        schedule: learning-rate multiplier per step (None: constant).
        run: where checkpoints and the log go (None: nowhere; nothing is resumed).
        checkpoint_every: epochs between checkpoints.
        seed: root of the per-epoch seeds.
        amp: bf16 autocast on CUDA (no effect on CPU).
        info: rank and world size; with world size > 1 the module is wrapped in DDP.
        hooks: see ``Hooks``.
        progress: show tqdm bars (rank 0 only); while ``sslvid book execute`` runs a chapter the bars
            stay off and rank 0 writes its status to the book's status file instead (``sslvid.progress``).
        desc: label of the progress bar.
        find_unused_parameters: passed to DDP for modules with branches unused in a step.
        refresh_every: steps between progress-bar loss updates (each reads the loss once).
    """

    module: nn.Module
    loader: DataLoader
    optimizer: torch.optim.Optimizer
    epochs: int
    device: torch.device
    schedule: Callable[[int], float] | None = None
    run: RunHandle | None = None
    checkpoint_every: int = 1
    seed: int = 0
    amp: bool = True
    info: DistInfo = field(default_factory=DistInfo)
    hooks: Hooks = field(default_factory=Hooks)
    progress: bool = True
    desc: str = "train"
    find_unused_parameters: bool = False
    refresh_every: int = 20

    def __post_init__(self) -> None:
        self.step = 0
        self.epoch = 0
        self.resumed_epoch = 0
        self._resumed = False
        self._model: nn.Module | None = None
        self.rows: list[dict[str, Any]] = []
        self._status = RunStatus(self.desc, self.epochs, path=None)
        for group in self.optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])

    # ------------------------------------------------------------------ public
    def fit(self) -> pd.DataFrame:
        """Resume from the latest checkpoint if any, train the remaining epochs, return the log.

        Calling it again after raising ``epochs`` trains on from where it stopped.

        Returns:
            one row per epoch: run, epoch, step, loss, acc (NaN if the module reports none),
            lr, seconds, the ``end_epoch`` hook's columns, data_seconds, then any other metrics
            (means over every sample of every process).

        Raises:
            RuntimeError: when an epoch makes no optimiser step (nothing is written for it).
        """
        self.resume()
        if self._model is None:
            self._model = self._wrapped()
        model = self._model
        show = show_bars(self.progress) and self.info.is_main
        self._status = RunStatus(self.desc, self.epochs, path=status_file() if self.info.is_main else None)
        with tqdm(total=self.epochs, initial=self.epoch, desc=self.desc, unit="epoch", disable=not show) as bar:
            for epoch, batches in epoch_batches(self.loader, self.epoch + 1, self.epochs):
                row = self._train_epoch(model, epoch, batches, show)
                self.epoch = epoch
                self.rows.append(row)
                self._write(row)
                bar.set_postfix(loss=f"{row['loss']:.4f}", acc=f"{row['acc']:.3f}")
                bar.update(1)
        return self.table()

    def table(self) -> pd.DataFrame:
        """The log so far as a DataFrame (the columns of ``fit``)."""
        return pd.DataFrame(self.rows, columns=_columns(self.rows))

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint holds: epoch, step, module, optimiser and the log so far."""
        return {
            "epoch": self.epoch,
            "step": self.step,
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "log": list(self.rows),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a checkpoint written from ``state_dict`` (the optimiser's state where it has one)."""
        self.module.load_state_dict(state["model"])
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.step, self.rows = int(state["epoch"]), int(state["step"]), list(state["log"])

    def resume(self) -> int:
        """Load the run's latest good checkpoint (rank 0 chooses it), once; return the epoch it ends.

        A truncated or unreadable checkpoint is skipped with a warning naming it, and the one
        before it is used (``RunHandle.latest_good_checkpoint``). A checkpoint without its
        optimiser state (a complete run drops them) only finishes a run that has no epoch left, and is
        skipped otherwise; with none left, the run trains again from epoch 1, with a warning (on a CPU the
        same seed gives the same weights).
        """
        if self.run is None or self._resumed:
            return self.epoch
        self._resumed = True
        found = self.run.latest_good_checkpoint(accept=self._can_resume_from) if self.info.is_main else None
        latest = broadcast_object(found[0] if found else None, self.info)
        if latest is None:
            if self.info.is_main and self.run.checkpoints():
                log.warning(
                    "no checkpoint of %s can be trained on from (each is damaged or has no optimiser state); "
                    "training again from epoch 1",
                    self.run.key,
                )
            return self.epoch
        self.load_state_dict(found[1] if found else self.run.load_checkpoint_file(latest, resumable=True))
        self.resumed_epoch = self.epoch
        log.info("resumed %s from %s (epoch %d, step %d)", self.run.key, latest, self.epoch, self.step)
        return self.epoch

    def _can_resume_from(self, state: Mapping[str, Any]) -> bool:
        """A checkpoint resumes with its optimiser's state, or, without one (a complete run dropped it), only
        when no epoch is left to train."""
        return all(key in state for key in RESUME_KEYS) or int(state["epoch"]) >= self.epochs

    # ------------------------------------------------------------------ the loop
    def _wrapped(self) -> nn.Module:
        if not self.info.is_distributed:
            return self.module
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(
            _TupleOutput(self.module), device_ids=ids, find_unused_parameters=self.find_unused_parameters
        )

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _set_lr(self) -> float:
        factor = self.schedule(self.step) if self.schedule is not None else 1.0
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor
        return self.optimizer.param_groups[0]["lr"]

    def _train_epoch(self, model: nn.Module, epoch: int, batches: Iterator[Any], show: bool) -> dict[str, Any]:
        """One pass over the loader; returns the epoch's log row (reduced over processes).

        ``seconds`` is the epoch's wall time; ``data_seconds`` the part of it spent waiting for
        the loader (what the data path costs beyond what the workers hide; on CUDA the host runs
        ahead of the GPU, so waits there can overlap GPU work).

        Raises:
            RuntimeError: when the epoch made no optimiser step (every batch skipped, or none at
                all): a run that learnt nothing is never saved as a result.
        """
        seed_everything(derive_seed(self.seed, "epoch", epoch, self.info.rank))
        model.train()
        sums = _Sums(self.device)
        lr = self.optimizer.param_groups[0]["lr"]
        start = mark = time.perf_counter()
        waited, first_step = 0.0, self.step
        on_device = prefetch_to_device(batches, self.device, self.hooks.prepare)  # the next batch copies meanwhile
        steps = batches_per_epoch(self.loader)
        bar = tqdm(on_device, total=steps, desc=f"epoch {epoch}", leave=False, disable=not show, unit="batch")
        for index, batch in enumerate(bar, start=1):
            waited += time.perf_counter() - mark
            if batch is None:
                self._skip(epoch)
            else:
                lr = self._set_lr()
                sums.add(self._step(model, batch))
                self.step += 1
                if show and self.step % self.refresh_every == 0:
                    bar.set_postfix(loss=f"{sums.mean('loss'):.4f}")
            self._status.update(epoch, index, steps)
            mark = time.perf_counter()
        bar.close()
        metrics = sums.reduce(self.info)
        seconds = time.perf_counter() - start
        extra = dict(self.hooks.end_epoch(epoch)) if self.hooks.end_epoch else {}
        if self.step == first_step:
            raise RuntimeError(
                f"epoch {epoch} of {self.desc} made no training step: no batch was usable "
                f"({', '.join(f'{k}={v}' for k, v in extra.items()) or 'no usable batch'}); "
                "the run is not saved"
            )
        fixed = {"loss": metrics.pop("loss"), "acc": metrics.pop("acc")}
        return {
            "run": self.run.key if self.run else "",
            "epoch": epoch,
            "step": self.step,
            **fixed,
            "lr": lr,
            "seconds": round(seconds, 3),
            **extra,
            "data_seconds": round(waited, 3),
            **metrics,
        }

    def _step(self, model: nn.Module, batch: Any) -> StepResult:
        with self._autocast():
            output = model(batch)
        if isinstance(output, tuple):  # from _TupleOutput under DDP
            output = StepOutput(*output)
        self.optimizer.zero_grad(set_to_none=True)
        output.loss.backward()
        self.optimizer.step()
        if self.hooks.after_step:
            self.hooks.after_step()
        return output

    def _skip(self, epoch: int) -> None:
        if self.info.is_distributed:
            raise RuntimeError(
                f"rank {self.info.rank}: a batch of epoch {epoch} was unusable (unreadable items); "
                "a distributed run cannot skip a step on one process"
            )
        log.warning("epoch %d: skipped a batch (too few readable items)", epoch)

    def _write(self, row: Mapping[str, Any]) -> None:
        """Rank 0: rewrite the log; save a checkpoint every ``checkpoint_every`` epochs."""
        if self.run is None or not self.info.is_main:
            return
        self.run.write_log(self.table())
        if self.epoch % self.checkpoint_every == 0:
            self.run.save_checkpoint(self.epoch, self.state_dict(), resume_keys=RESUME_KEYS)
        log.info("epoch %d: %s", self.epoch, {k: v for k, v in row.items() if k != "run"})


class _TupleOutput(nn.Module):
    """Returns a step's output as a plain tuple, so DDP can find the loss among the outputs."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, batch: Any) -> tuple[torch.Tensor, dict[str, Any], int]:
        output = self.module(batch)
        return output.loss, output.metrics, output.batch_size


class _Sums:
    """Sample-weighted sums of the loss and metrics, kept on the device until the epoch ends."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.values: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, output: StepResult) -> None:
        n = int(output.batch_size) or 1
        for name, value in (("loss", output.loss), *output.metrics.items()):
            value = value.detach().float() if isinstance(value, torch.Tensor) else float(value)
            previous = self.values.get(name)
            self.values[name] = (previous if previous is not None else torch.zeros((), device=self.device)) + value * n
        self.count += n

    def mean(self, name: str) -> float:
        return float(self.values[name]) / max(self.count, 1)

    def reduce(self, info: DistInfo) -> dict[str, float]:
        """Means over every sample of every process; ``acc`` is NaN when no metric of that name came."""
        names = sorted(self.values)
        packed = (
            torch.stack(
                [self.values[n].to(self.device) for n in names] + [torch.tensor(float(self.count), device=self.device)]
            )
            if names
            else None
        )
        if packed is None:
            return {"loss": math.nan, "acc": math.nan}
        sums = all_reduce_sum(packed, info).tolist()
        count = max(sums[-1], 1.0)
        means = {n: v / count for n, v in zip(names, sums[:-1])}
        return {"loss": means.pop("loss"), "acc": means.pop("acc", math.nan), **means}


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The log's columns: the fixed ones first, then the others in order of appearance."""
    columns = list(LOG_COLUMNS)
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns
