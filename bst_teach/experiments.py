"""Train-once cache for the book: the same call with the same data, settings and package code
returns the stored result instead of training again.

Chapters train the same models (the synthetic BST appears in chapters 3, 4 and 6); the cache keeps
the book build and the notebook tests from repeating that work.  The key covers the data's
contents, the model and training settings and the source code of ``bst_teach`` itself, so any
change to the package invalidates it.  Results are stored under ``$BST_TEACH_CACHE`` (default:
``data/cache`` in the repository, ``~/.cache/bst-teach`` when installed from the wheel), which is
safe to delete.

The floating-point arithmetic belongs to the key too (:func:`cpu_arithmetic`): torch threads,
the vector instructions ATen and MKL use, the processor.  Two machines agree on the last bit
only when their code paths agree; the Makefile pins them (``OMP_NUM_THREADS=1``,
``ATEN_CPU_CAPABILITY=avx2``, ``MKL_CBWR=COMPATIBLE``, ``ONEDNN_MAX_CPU_ISA=AVX2``,
``NPY_DISABLE_CPU_FEATURES``) so that the book, its tests and ``make lab`` give the same numbers
on Intel and AMD machines with AVX2.

Each call says what it does: "loaded from cache" with the stored figures, or "training" followed by
a tqdm bar (a widget in JupyterLab) and a "done" line.  ``BST_TEACH_PROGRESS=0`` silences them; the
Makefile sets it when it executes notebooks, so stored outputs (which nbval compares) hold neither
bars nor messages that depend on the state of the cache.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from .data.samples import Dataset
from .checkpoint import load_checkpoint, save_checkpoint
from .train import TrainConfig, TrainResult, fit

PACKAGE_DIR = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """``$BST_TEACH_CACHE``; else ``data/cache`` in a checkout; else ``~/.cache/bst-teach``."""
    env = os.environ.get("BST_TEACH_CACHE")
    if env:
        return Path(env).expanduser()
    if (PACKAGE_DIR.parent / "pyproject.toml").is_file():  # used from the repository
        return PACKAGE_DIR.parent / "data" / "cache"
    home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(home) / "bst-teach"  # installed from the wheel: never inside site-packages


TRAINING_CODE = ("data", "models", "features.py", "train.py")  # what a trained result depends on


def _source_hash() -> str:
    h = hashlib.sha256()
    paths = [p for name in TRAINING_CODE for p in sorted((PACKAGE_DIR / name).glob("**/*.py"))
             or [PACKAGE_DIR / name]]
    for path in paths:
        h.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _processor() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name")), platform.processor())
    except OSError:
        return platform.processor() or platform.machine()


def cpu_arithmetic() -> dict:
    """What decides the last bits of a CPU run: threads, ATen's vector ISA, MKL's code path
    (``MKL_CBWR``; AUTO: chosen by processor) and the processor itself."""
    return {"threads": torch.get_num_threads(), "aten": torch.backends.cpu.get_cpu_capability(),
            "mkl": os.environ.get("MKL_CBWR", "AUTO"), "processor": _processor()}


def progress_wanted() -> bool:
    """False when ``BST_TEACH_PROGRESS`` is 0 / false / no / off (set by the Makefile)."""
    return os.environ.get("BST_TEACH_PROGRESS", "1").strip().lower() not in ("0", "false", "no",
                                                                             "off")


def _describe(name: str, data: Dataset, cfg: TrainConfig, model_config: dict) -> str:
    options = "".join(f", {k}={v}" for k, v in sorted(model_config.items()))
    return f"{name}{options} on {data.name} (seed {cfg.seed})"


def data_fingerprint(data: Dataset) -> str:
    """SHA-256 of a data set's contents, the time gaps to the second.

    The synthetic gaps are sums of ``np.exp`` of random numbers, and numpy's AVX-512 ``exp``
    differs from its AVX2 one in the last bit: to the second, both machines hold the same data.
    """
    h = hashlib.sha256(data.name.encode())
    for split in (data.train, data.val, data.test):
        gap_seconds = np.rint(split.hist_gap).astype(np.int64)
        for arr in (split.sparse, split.target_item, split.hist_item, gap_seconds, split.label):
            h.update(np.ascontiguousarray(arr).tobytes())
    h.update(json.dumps(data.schema.to_dict(), sort_keys=True).encode())
    h.update(data.time_scheme.encode())
    return h.hexdigest()


def cached_fit(name: str, data: Dataset, config: TrainConfig | None = None,
               **model_config) -> TrainResult:
    """Like :func:`bst_teach.train.fit`, but reuses a stored result for an identical run.

    ``result.train_seconds`` is always the time the original training took.  A run on a GPU
    (``config.device``) is stored apart from the CPU's, and a CPU run is keyed by its
    :func:`cpu_arithmetic` as well.
    """
    from .device import resolve_device
    cfg = config or TrainConfig()
    device = resolve_device(cfg.device)
    train = {k: v for k, v in asdict(cfg).items() if k not in ("progress", "device")}
    if device.type != "cpu":
        train["device"] = device.type  # cuda:0 and cuda:1 give the same numbers
    else:
        train["arithmetic"] = cpu_arithmetic()
    key_parts = {"model": name, "model_config": model_config, "data": data_fingerprint(data),
                 "train": train,
                 "code": _source_hash()}
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True, default=str).encode()).hexdigest()[:20]
    folder = cache_dir() / "runs"
    ckpt, meta = folder / f"{key}.pt", folder / f"{key}.json"
    show = progress_wanted()
    label = _describe(name, data, cfg, model_config)
    if ckpt.exists() and meta.exists():
        info = json.loads(meta.read_text())
        if show:
            print(f"{label}: loaded from cache (trained once in {info['train_seconds']:.0f} s, "
                  f"{len(info['history'])} epochs, test AUC {info['test_auc']:.3f})", flush=True)
        return TrainResult(model=load_checkpoint(ckpt), history=info["history"],
                           best_epoch=info["best_epoch"], val_auc=info["val_auc"],
                           test_auc=info["test_auc"], test_logloss=info["test_logloss"],
                           train_seconds=info["train_seconds"])
    if show:
        print(f"{label}: training, up to {cfg.epochs} epochs (stored for next time)", flush=True)
    result = fit(name, data, replace(cfg, progress=show), **model_config)
    if show:
        print(f"{label}: done, {len(result.history)} epochs in {result.train_seconds:.0f} s, "
              f"test AUC {result.test_auc:.3f}", flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(result.model, ckpt)  # atomic
    info = {k: getattr(result, k) for k in ("history", "best_epoch", "val_auc", "test_auc",
                                             "test_logloss", "train_seconds")}
    tmp = folder / f".{key}.{os.getpid()}.json"
    tmp.write_text(json.dumps({**info, "key": key_parts}))
    os.replace(tmp, meta)
    return result


# Settings every chapter uses, so a model trained in one chapter is reused by the next.
BOOK_TRAIN = TrainConfig(epochs=20, patience=4, progress=False)


def book_fit(name: str, data: Dataset, seed: int = 0, **model_config) -> TrainResult:
    """``cached_fit`` with the book's training settings (:data:`BOOK_TRAIN`) and a seed."""
    return cached_fit(name, data, replace(BOOK_TRAIN, seed=seed), **model_config)
