"""Training on a data set larger than memory, one shard at a time (:mod:`bst_teach.data.stream`).

:func:`train_sharded` is :func:`bst_teach.train.train` for a
:class:`~bst_teach.data.stream.ShardedDataset`: the same optimiser, training step, early
stopping on validation AUC and report (:class:`~bst_teach.train.TrainResult`).  What differs:

* shuffling: each epoch visits the shards in a new random order and shuffles the samples within
  each shard; users are spread over the shards at random, so a batch is a random draw of users,
  but not of the whole split as in ``train``;
* memory: one shard's samples at a time, plus one probability, label and user index per sample
  of the split being evaluated (16 bytes), kept for the exact AUC and gAUC;
* one process: under ``torchrun`` it refuses to start.

Seeded and reproducible like ``train``: the same seed gives the same numbers on one machine.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable

import numpy as np
import torch
from sklearn.metrics import log_loss, roc_auc_score
from tqdm.auto import tqdm

from . import distributed
from .data.stream import ShardedDataset
from .device import resolve_device, to_device
from .metrics import gauc
from .models import build_model
from .train import TrainConfig, TrainResult, batches, make_optimizer, predict, set_seed, train_step


def evaluate_sharded(model: torch.nn.Module, data: ShardedDataset, split: str) -> dict:
    """AUC, log-loss, gAUC and its number of users of ``model`` on ``split``, shard by shard."""
    device = next(model.parameters()).device
    probs, labels, users = [], [], []
    for i in range(len(data)):
        if data.counts[split][i] == 0:
            continue
        samples = data.samples(i, split)
        probs.append(predict(model, to_device(samples.tensors(data.time_scheme), device)))
        labels.append(samples.label)
        users.append(samples.user)
    p, y, u = np.concatenate(probs), np.concatenate(labels), np.concatenate(users)
    g, n_users = gauc(u, y, p)
    return {"auc": float(roc_auc_score(y, p)), "logloss": float(log_loss(y, p, labels=[0, 1])),
            "gauc": g, "gauc_users": n_users}


def train_sharded(model: torch.nn.Module, data: ShardedDataset, config: TrainConfig | None = None,
                  on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """Train ``model`` on ``data`` shard by shard (see the module docstring); keep the weights of
    the best validation epoch, then report test AUC, log-loss and gAUC."""
    cfg = config or TrainConfig()
    if distributed.current().world_size > 1 or distributed.launched_by_torchrun():
        raise ValueError("training from shards runs in one process; torchrun is not supported "
                         "with --stream")
    set_seed(cfg.seed)
    device = resolve_device(cfg.device)
    generator = torch.Generator().manual_seed(cfg.seed)
    model.to(device)
    optimizer = make_optimizer(model, cfg)
    result = TrainResult(model=model)
    best_auc, best_state, stale = -1.0, None, 0
    per_epoch = sum(-(-n // cfg.batch_size) for n in data.counts["train"])
    start = time.perf_counter()
    bar = tqdm(total=cfg.epochs * per_epoch, disable=not cfg.progress,
               desc=f"{model.name} on {data.name} ({len(data)} shards)", unit="batch")
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        losses = []
        for i in torch.randperm(len(data), generator=generator).tolist():
            if data.counts["train"][i] == 0:
                continue
            shard = to_device(data.tensors(i, "train"), device)
            for batch in batches(shard, cfg.batch_size, generator):
                losses.append(train_step(model, optimizer, batch))
                bar.update()
            del shard
        val = evaluate_sharded(model, data, "val")
        result.history.append({"epoch": epoch, "train_loss": float(np.mean(losses)),
                               "val_auc": val["auc"], "val_logloss": val["logloss"]})
        bar.set_postfix(val_auc=f"{val['auc']:.4f}")
        if on_epoch is not None:
            on_epoch(result.history[-1])
        if val["auc"] > best_auc:
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
    test = evaluate_sharded(model, data, "test")
    result.val_auc, result.test_auc, result.test_logloss = best_auc, test["auc"], test["logloss"]
    result.test_gauc, result.test_gauc_users = test["gauc"], test["gauc_users"]
    return result


def fit_sharded(name: str, data: ShardedDataset, config: TrainConfig | None = None,
                on_epoch: Callable[[dict], None] | None = None, **model_config) -> TrainResult:
    """Seed, build and train in one call, as :func:`bst_teach.train.fit` does."""
    cfg = config or TrainConfig()
    set_seed(cfg.seed)
    return train_sharded(build_model(name, data.schema, **model_config), data, cfg, on_epoch)
