"""Checkpoints: a trained model's weights, name, config and schema in one file.

The file holds plain types and tensors only, so it loads with ``torch.load(..., weights_only=True)``
(no code runs while loading).  Writing is atomic: the checkpoint goes to a temporary file in the
same folder and is renamed over the target in one step, so a save that fails part-way (disk full,
Ctrl-C) leaves any earlier file at that path untouched.  A file that is not a bst-teach checkpoint,
or a damaged one, raises :class:`CheckpointError` naming it::

    not a bst-teach checkpoint (or damaged): runs/bst.pt (EOFError: ...)

:func:`check_save_path` checks a path *before* any training starts (the command line's
``--save``); :func:`check_compatible` checks that data fits a model (history length, vocabulary
sizes), so a loaded model given the wrong data fails with a message instead of an ``IndexError``
deep inside an embedding.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch

from .features import PAD, Schema
from .models import MODELS

KEYS = ("model", "config", "schema", "state_dict")


class CheckpointError(ValueError):
    """A checkpoint that cannot be written or read, or that does not fit the data."""


def _not_a_checkpoint(path, detail: str) -> CheckpointError:
    detail = " ".join(str(detail).split())  # one line
    return CheckpointError(f"not a bst-teach checkpoint (or damaged): {path} ({detail})")


def save_checkpoint(model: torch.nn.Module, path) -> None:
    """Write weights, model name, config and schema to ``path`` atomically (temporary file in the
    same folder, then ``os.replace``)."""
    path = Path(path)
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(model.config).items()}
    payload = {"model": model.name, "config": config, "schema": model.schema.to_dict(),
               "state_dict": model.state_dict()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _file_mode(path))  # mkstemp makes 0600; keep what a plain write would give
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_mode(path: Path) -> int:
    """The existing file's permissions, else those of a new file under the current umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _read(path) -> dict:
    """The checkpoint's dict, or :class:`CheckpointError` for anything that is not one."""
    p = Path(path)
    if p.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    if not p.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(p, weights_only=True, map_location="cpu")
    except Exception as e:  # truncated zip, empty file, foreign pickle, refused global, ...
        raise _not_a_checkpoint(path, f"{type(e).__name__}: {e}") from None
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in KEYS):
        keys = sorted(map(str, ckpt)) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise _not_a_checkpoint(path, f"expected keys {', '.join(KEYS)}, found {keys}")
    if ckpt["model"] not in MODELS:
        raise _not_a_checkpoint(path, f"unknown model {ckpt['model']!r}")
    return ckpt


def load_checkpoint(path, data=None) -> torch.nn.Module:
    """Rebuild a model saved by :func:`save_checkpoint`, in evaluation mode (safe:
    ``weights_only=True``).  With ``data`` (a :class:`~bst_teach.data.samples.Dataset` or a
    batch dict) it also checks that the data fits the model (:func:`check_compatible`)."""
    ckpt = _read(path)
    try:
        cls, config_cls = MODELS[ckpt["model"]]
        config = {k: tuple(v) if isinstance(v, list) else v for k, v in ckpt["config"].items()}
        model = cls(Schema.from_dict(ckpt["schema"]), config_cls(**config))
        model.load_state_dict(ckpt["state_dict"])
    except Exception as e:  # wrong config keys, mismatched tensor shapes, ...
        raise _not_a_checkpoint(path, f"{type(e).__name__}: {e}") from None
    if data is not None:
        check_compatible(model, data)
    return model.eval()


def checkpoint_schema(path) -> Schema:
    """The schema a checkpoint's model was built with (vocabulary sizes, ``max_len``, time
    buckets), without building the model: what data must look like to be scored by it."""
    ckpt = _read(path)
    try:
        return Schema.from_dict(ckpt["schema"])
    except Exception as e:  # missing or wrong keys
        raise _not_a_checkpoint(path, f"{type(e).__name__}: {e}") from None


def is_checkpoint(path) -> bool:
    try:
        _read(path)
    except CheckpointError:
        return False
    return True


def check_save_path(path) -> Path:
    """Raise :class:`CheckpointError` unless a checkpoint can be written to ``path``: its folder
    exists and is writable, and ``path`` is not a folder nor an existing file that is not a
    checkpoint (which would be lost).  Call it before training, so no work is lost."""
    p = Path(path)
    if str(path) == "" or p.name in ("", ".", ".."):
        raise CheckpointError(f"--save needs a file name, got {str(path)!r}")
    if p.is_dir():
        raise CheckpointError(f"cannot save to {path}: it is a folder (give a file name inside it)")
    parent = p.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise CheckpointError(f"cannot save to {path}: the folder {parent} {what}")
    if p.exists() and not is_checkpoint(p):
        raise CheckpointError(f"cannot save to {path}: the file exists and is not a bst-teach "
                              f"checkpoint; refusing to overwrite it")
    try:  # the real test of writability (access() says yes to root even on read-only mounts)
        fd, probe = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise CheckpointError(f"cannot save to {path}: the folder {parent} is not writable "
                              f"({e.strerror})") from None
    return p


def check_compatible(model: torch.nn.Module, data) -> None:
    """Raise :class:`CheckpointError` if ``data`` (a Dataset or a batch dict) does not fit
    ``model``: a longer history than the model's ``max_len``, or indices beyond its vocabularies.

    A model is sized by the schema it was built with; BST indexes its position table by recency
    rank, so a longer history would fail deep inside an embedding, and the other models would
    silently pool over more behaviours than they were trained on.
    """
    schema = model.schema
    batches = ([data.tensors(s) for s in ("train", "val", "test")] if hasattr(data, "tensors")
               else [data])
    for b in batches:
        hist = b["hist_item"]
        length = int((hist != PAD).sum(1).max()) if hist.numel() else 0
        if length > schema.max_len:
            raise CheckpointError(f"the data holds histories of up to {length} behaviours, the "
                                  f"model was built for at most max_len = {schema.max_len}; "
                                  f"build the data with max_len={schema.max_len}")
        for key, size, what in (("target_item", schema.n_items, "items"),
                                ("hist_item", schema.n_items, "items"),
                                ("target_cat", schema.n_categories, "categories"),
                                ("hist_cat", schema.n_categories, "categories"),
                                ("hist_time", schema.n_time_buckets, "time buckets")):
            if key not in b:
                continue
            top = int(b[key].max()) if b[key].numel() else 0
            if top >= size:
                raise CheckpointError(f"{key} holds index {top}, the model knows {size} {what}: "
                                      f"the data was encoded with other vocabularies")
        if b["sparse"].shape[1] != len(schema.features):
            raise CheckpointError(f"the data has {b['sparse'].shape[1]} sparse features, the "
                                  f"model {len(schema.features)}")
        for j, f in enumerate(schema.features):
            top = int(b["sparse"][:, j].max()) if b["sparse"].numel() else 0
            if top >= f.vocab_size:
                raise CheckpointError(f"feature {f.name!r} holds index {top}, the model knows "
                                      f"{f.vocab_size} values")
