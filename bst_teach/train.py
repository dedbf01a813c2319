"""One training function for the command line, the book and the benchmarks.

Seeded and reproducible (same seed, same numbers on the same machine), a tqdm progress bar that can
be turned off, early stopping on validation AUC, AUC and log-loss from scikit-learn, and
checkpoints that hold weights and config and load with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import log_loss, roc_auc_score
from tqdm.auto import tqdm

from .data.samples import Dataset
from .models import build_model


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3  # Adam's default; 3e-3 left deep BSTs stuck on a plateau for some seeds
    weight_decay: float = 0.0
    patience: int = 2  # stop after this many epochs without a better validation AUC
    seed: int = 0
    progress: bool = True


@dataclass
class TrainResult:
    model: torch.nn.Module
    history: list[dict] = field(default_factory=list)  # one row per epoch
    best_epoch: int = 0
    val_auc: float = float("nan")
    test_auc: float = float("nan")
    test_logloss: float = float("nan")
    train_seconds: float = 0.0

    def summary(self) -> dict:
        return {"model": self.model.name, "test_auc": self.test_auc,
                "test_logloss": self.test_logloss, "val_auc": self.val_auc,
                "epochs": len(self.history), "best_epoch": self.best_epoch,
                "train_seconds": self.train_seconds}


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def batches(tensors: dict[str, torch.Tensor], batch_size: int, generator=None):
    """Yield dicts of (batch_size, ...) slices; shuffled when a torch.Generator is given."""
    n = len(tensors["label"])
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield {k: v[idx] for k, v in tensors.items()}


@torch.inference_mode()
def predict(model: torch.nn.Module, tensors: dict[str, torch.Tensor],
            batch_size: int = 2048) -> np.ndarray:
    """Click probabilities (N,) in evaluation mode."""
    was_training = model.training
    model.eval()
    out = [torch.sigmoid(model(b)) for b in batches(tensors, batch_size)]
    model.train(was_training)
    return torch.cat(out).numpy()


def evaluate(model, tensors) -> dict[str, float]:
    """AUC and log-loss (scikit-learn) of ``model`` on a split."""
    p = predict(model, tensors)
    y = tensors["label"].numpy()
    return {"auc": float(roc_auc_score(y, p)), "logloss": float(log_loss(y, p, labels=[0, 1]))}


def train(model: torch.nn.Module, data: Dataset, config: TrainConfig | None = None) -> TrainResult:
    """Train with Adam on binary cross-entropy, keep the weights of the best validation epoch,
    then report test AUC / log-loss.  Reproducible: seeds Python, NumPy and torch, and shuffles
    with its own generator."""
    cfg = config or TrainConfig()
    set_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    train_t, val_t, test_t = (data.tensors(s) for s in ("train", "val", "test"))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    result = TrainResult(model=model)
    best_auc, best_state, stale = -1.0, None, 0
    n_batches = -(-len(train_t["label"]) // cfg.batch_size)
    start = time.perf_counter()
    bar = tqdm(total=cfg.epochs * n_batches, disable=not cfg.progress,
               desc=f"{model.name} on {data.name}", unit="batch")
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        losses = []
        for batch in batches(train_t, cfg.batch_size, generator):
            loss = F.binary_cross_entropy_with_logits(model(batch), batch["label"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            bar.update()
        val = evaluate(model, val_t)
        result.history.append({"epoch": epoch, "train_loss": float(np.mean(losses)),
                               "val_auc": val["auc"], "val_logloss": val["logloss"]})
        bar.set_postfix(val_auc=f"{val['auc']:.4f}")
        if val["auc"] > best_auc:
            best_auc, best_state, stale = val["auc"], copy.deepcopy(model.state_dict()), 0
            result.best_epoch = epoch
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    bar.close()
    result.train_seconds = time.perf_counter() - start
    model.load_state_dict(best_state)
    model.eval()
    test = evaluate(model, test_t)
    result.val_auc, result.test_auc, result.test_logloss = best_auc, test["auc"], test["logloss"]
    return result


def fit(name: str, data: Dataset, config: TrainConfig | None = None, **model_config) -> TrainResult:
    """Seed, build and train in one call: ``fit("bst", data, TrainConfig(seed=1), blocks=2)``.

    Seeding *before* building makes the initial weights part of what the seed fixes.
    """
    cfg = config or TrainConfig()
    set_seed(cfg.seed)
    return train(build_model(name, data.schema, **model_config), data, cfg)
