"""One training function for the command line, the book and the benchmarks.

Seeded and reproducible (same seed, same numbers on the same machine), a tqdm progress bar that can
be turned off, early stopping on validation AUC, and AUC and log-loss from scikit-learn
(checkpoints: :mod:`bst_teach.checkpoint`).

A training step at batch 256 is a few milliseconds of small kernels, so fixed costs count: a batch
is cut from one packed id tensor (:func:`pack`) with one ``index_select``, and Adam runs fused (one
kernel over all parameters instead of a dozen small ones per parameter).

``TrainConfig.device`` (:mod:`bst_teach.device`) puts the model and each split on that device
once, so a batch is cut on the device (no host round trip per tensor).  Under ``torchrun`` the
same function trains with DistributedDataParallel (:mod:`bst_teach.distributed`).
"""
from __future__ import annotations

import contextlib
import copy
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import log_loss, roc_auc_score
from tqdm.auto import tqdm

from . import distributed
from .data.samples import Dataset
from .device import resolve_device, to_device
from .metrics import gauc
from .models import build_model


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3  # Adam's default; 3e-3 left deep BSTs stuck on a plateau for some seeds
    weight_decay: float = 0.0
    patience: int = 2  # stop after this many epochs without a better validation AUC
    min_epochs: int = 1  # never stop before this many epochs (a slow start is not convergence)
    seed: int = 0
    progress: bool = True
    optimizer: str = "adam"  # "adam" | "adagrad"
    device: str = "cpu"  # "auto" | "cpu" | "cuda" | "cuda:N" | "mps" (bst_teach.device)

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}")


@dataclass
class TrainResult:
    model: torch.nn.Module
    history: list[dict] = field(default_factory=list)  # one row per epoch
    best_epoch: int = 0
    val_auc: float = float("nan")
    test_auc: float = float("nan")
    test_logloss: float = float("nan")
    test_gauc: float = float("nan")  # user-averaged AUC (bst_teach.metrics.gauc)
    test_gauc_users: int = 0  # users with both classes in the test split
    train_seconds: float = 0.0

    def summary(self) -> dict:
        return {"model": self.model.name, "test_auc": self.test_auc,
                "test_logloss": self.test_logloss, "test_gauc": self.test_gauc,
                "test_gauc_users": self.test_gauc_users, "val_auc": self.val_auc,
                "epochs": len(self.history), "best_epoch": self.best_epoch,
                "train_seconds": self.train_seconds}


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# On the CPU, fused=True updates every parameter in one kernel; PyTorch's CPU default runs about
# ten small kernels per parameter tensor, which took longer than a BST's forward pass.
OPTIMIZERS = {
    "adam": lambda params, cfg: torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                                 fused=True),
    "adagrad": lambda params, cfg: torch.optim.Adagrad(params, lr=cfg.lr,
                                                       weight_decay=cfg.weight_decay, fused=True),
}


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser ``cfg.optimizer`` names, over all of ``model``'s parameters."""
    return OPTIMIZERS[cfg.optimizer](model.parameters(), cfg)


def pack(tensors: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Every int64 tensor of a split side by side in one (N, C) tensor; the rest (the float labels)
    as they are.  -> (ids (N, C), others)."""
    ids = [v.reshape(len(v), -1) for v in tensors.values() if v.dtype == torch.long]
    return torch.cat(ids, dim=1), {k: v for k, v in tensors.items() if v.dtype != torch.long}


def unpack(ids: torch.Tensor, others: dict[str, torch.Tensor], like: dict[str, torch.Tensor]):
    """The inverse of :func:`pack` for a batch of rows: views of ``ids``, keys and shapes of
    ``like``."""
    out, start = {}, 0
    for k, v in like.items():
        if v.dtype != torch.long:
            out[k] = others[k]
            continue
        width = v[0].numel()
        out[k] = ids[:, start:start + width].view(len(ids), *v.shape[1:])
        start += width
    return out


def batch_rows(n: int, batch_size: int, generator: torch.Generator,
               ctx: distributed.Context = distributed.SINGLE) -> list[torch.Tensor]:
    """An epoch's shuffled row indices cut into batches, this rank's share of them
    (:func:`bst_teach.distributed.my_batches`; all of them in a single process).  Every rank
    draws the same permutation from its identically seeded ``generator``."""
    order = torch.randperm(n, generator=generator)
    return distributed.my_batches(list(order.split(batch_size)), ctx)


def batches(tensors: dict[str, torch.Tensor], batch_size: int, generator=None):
    """Yield dicts of (batch_size, ...) slices; shuffled when a torch.Generator is given.

    A batch is one ``index_select`` of the packed ids and one of the labels, not one per tensor.
    """
    n = len(tensors["label"])
    order = torch.randperm(n, generator=generator) if generator is not None else None
    ids, others = pack(tensors)
    for start in range(0, n, batch_size):
        if order is None:  # in order: slices are views, nothing to copy
            rows = slice(start, start + batch_size)
            yield unpack(ids[rows], {k: v[rows] for k, v in others.items()}, tensors)
        else:
            idx = order[start:start + batch_size]
            yield unpack(ids.index_select(0, idx),
                         {k: v.index_select(0, idx) for k, v in others.items()}, tensors)


@torch.inference_mode()
def predict(model: torch.nn.Module, tensors: dict[str, torch.Tensor],
            batch_size: int = 2048) -> np.ndarray:
    """Click probabilities (N,) in evaluation mode, on the model's device, returned on the CPU.

    Under ``torchrun`` (a process group running) each rank scores its slice of the rows and the
    slices are gathered: every rank gets all N probabilities, each row scored once."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ctx = distributed.current()
    n = len(tensors["label"])
    mine = {k: v[distributed.my_rows(n, ctx)] for k, v in tensors.items()}
    out = [torch.sigmoid(model(b)) for b in batches(to_device(mine, device), batch_size)]
    model.train(was_training)
    local = torch.cat(out) if out else torch.zeros(0, device=device)
    return distributed.gather_rows(local, n, ctx).cpu().numpy()


def evaluate(model, tensors, users=None) -> dict[str, float]:
    """AUC and log-loss (scikit-learn) of ``model`` on a split (the whole split, once, under
    ``torchrun`` too); with ``users`` (N,), also gAUC and the number of users it averages."""
    p = predict(model, tensors)
    y = tensors["label"].cpu().numpy()
    out = {"auc": float(roc_auc_score(y, p)), "logloss": float(log_loss(y, p, labels=[0, 1]))}
    if users is not None:
        out["gauc"], out["gauc_users"] = gauc(users, y, p)
    return out


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch) -> float:
    """Forward, binary cross-entropy on the logits, backward, update.  -> the batch's loss."""
    loss = F.binary_cross_entropy_with_logits(model(batch), batch["label"])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def train(model: torch.nn.Module, data: Dataset, config: TrainConfig | None = None,
          on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """Train on binary cross-entropy (Adam unless ``config.optimizer`` says otherwise), keep the
    weights of the best validation epoch, then report test AUC / log-loss.  Reproducible: seeds
    Python, NumPy and torch, and shuffles with its own generator.  ``on_epoch(row)`` is called
    after every epoch with that epoch's row of ``history``.

    On ``cfg.device``; under ``torchrun``, data parallel (:mod:`bst_teach.distributed`): this
    rank's share of each epoch's batches, gradients averaged by DDP, validation over the whole
    split, rank 0's early-stopping decision on every rank."""
    cfg = config or TrainConfig()
    set_seed(cfg.seed)
    device = resolve_device(cfg.device)
    ctx = distributed.setup(device)
    generator = torch.Generator().manual_seed(cfg.seed)  # the same shuffles on every rank
    model.to(device)
    train_t, val_t, test_t = (data.tensors(s) for s in ("train", "val", "test"))
    ids, others = pack(train_t)
    ids, others = ids.to(device), to_device(others, device)  # once, not per batch
    optimizer = make_optimizer(model, cfg)
    net = distributed.wrap(model, device, ctx)  # DDP under torchrun, else model itself
    if ctx.active:  # dropout differs between ranks; the shuffling generator does not
        torch.manual_seed(cfg.seed + ctx.rank)
    result = TrainResult(model=model)
    best_auc, best_state, stale = -1.0, None, 0
    n_train = len(train_t["label"])
    n_batches = len(distributed.my_batches(range(-(-n_train // cfg.batch_size)), ctx))
    start = time.perf_counter()
    bar = tqdm(total=cfg.epochs * n_batches, disable=not cfg.progress or not ctx.is_main,
               desc=f"{model.name} on {data.name}", unit="batch")
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        losses = []
        rows = batch_rows(n_train, cfg.batch_size, generator, ctx)
        with net.join() if ctx.active else contextlib.nullcontext():  # ranks may have one batch fewer
            for idx in rows:
                idx = idx.to(device)
                batch = unpack(ids.index_select(0, idx),
                               {k: v.index_select(0, idx) for k, v in others.items()}, train_t)
                losses.append(train_step(net, optimizer, batch))
                bar.update()
        val = evaluate(model, val_t)
        train_loss = distributed.mean_over_ranks(float(np.sum(losses)), len(losses), ctx, device)
        result.history.append({"epoch": epoch, "train_loss": train_loss,
                               "val_auc": val["auc"], "val_logloss": val["logloss"]})
        bar.set_postfix(val_auc=f"{val['auc']:.4f}")
        if on_epoch is not None:
            on_epoch(result.history[-1])
        if distributed.agree(val["auc"] > best_auc, ctx, device):
            best_auc, best_state, stale = val["auc"], copy.deepcopy(model.state_dict()), 0
            result.best_epoch = epoch
        else:
            stale += 1
            if stale >= cfg.patience and epoch >= cfg.min_epochs:
                break
    bar.close()
    result.train_seconds = time.perf_counter() - start
    model.load_state_dict(best_state)
    model.eval()
    test = evaluate(model, test_t, users=data.test.user)
    result.val_auc, result.test_auc, result.test_logloss = best_auc, test["auc"], test["logloss"]
    result.test_gauc, result.test_gauc_users = test["gauc"], test["gauc_users"]
    return result


def fit(name: str, data: Dataset, config: TrainConfig | None = None,
        on_epoch: Callable[[dict], None] | None = None, **model_config) -> TrainResult:
    """Seed, build and train in one call: ``fit("bst", data, TrainConfig(seed=1), blocks=2)``.

    Seeding *before* building makes the initial weights part of what the seed fixes.
    """
    cfg = config or TrainConfig()
    set_seed(cfg.seed)
    return train(build_model(name, data.schema, **model_config), data, cfg, on_epoch)
