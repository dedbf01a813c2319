"""Command line: ``python -m bst_teach train --data synthetic --model bst [--json]``,
``python -m bst_teach evaluate --checkpoint CKPT --data synthetic [--json]`` (a saved model on
the test split of the same data, built with the same data options as ``train``), and
``python -m bst_teach results run|check|table`` for the book's declared experiments.

Bad arguments and bad files give a one-line error and a non-zero exit, never a traceback.  The
arguments, and the ``--save`` path, are checked before any work (:func:`_validate`), so a run
never trains for minutes and then fails; an option that does not apply to the chosen data or
model is refused instead of silently ignored.  The JSON report never holds NaN.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import torch


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, with a pointer to --help."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bst_teach",
                                     description="Train and evaluate WDL, DIN and BST.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train one model and report test AUC / log-loss")
    _add_data_args(t)
    t.add_argument("--model", choices=["wdl", "din", "bst"], default="bst")
    t.add_argument("--max-len", type=_positive_int, default=20, help="history length L")
    t.add_argument("--epochs", type=_positive_int, default=20)
    t.add_argument("--patience", type=_positive_int, default=4, help="early-stopping patience (epochs)")
    t.add_argument("--min-epochs", type=_positive_int, default=1,
                   help="never stop early before this many epochs (a slow start is not convergence)")
    t.add_argument("--batch-size", type=_positive_int, default=256)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=0, help="seed of the model's initialisation and shuffling")
    t.add_argument("--blocks", type=_positive_int, default=1, help="BST encoder blocks")
    t.add_argument("--heads", type=_positive_int, default=4, help="BST attention heads")
    t.add_argument("--position", choices=["none", "index", "time", "both"], default="both",
                   help="BST positions")
    t.add_argument("--norm", choices=["layer", "batch", "none"], default="layer", help="BST norm")
    t.add_argument("--din-time", action="store_true", help="give DIN time-gap bucket features")
    t.add_argument("--threads", type=_positive_int, help="torch.set_num_threads")
    t.add_argument("--device", default="cpu",
                   help="auto, cpu, cuda, cuda:N or mps (auto: CUDA when present)")
    t.add_argument("--save", help="write a checkpoint here (under torchrun: by rank 0)")
    t.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _add_experiment_args(t)
    e = sub.add_parser("evaluate", help="score a saved checkpoint on the test split of the data")
    e.add_argument("--checkpoint", required=True, help="a checkpoint written by train --save")
    _add_data_args(e)
    e.add_argument("--max-len", type=_positive_int,
                   help="history length L (default: the checkpoint's)")
    e.add_argument("--time-scheme", choices=["calendar", "log"],
                   help="time-gap buckets (default: the one the checkpoint's time table fits)")
    e.add_argument("--threads", type=_positive_int, help="torch.set_num_threads")
    e.add_argument("--device", default="cpu", help="auto, cpu, cuda, cuda:N or mps")
    e.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    s = sub.add_parser("student-copies", help="copy notebooks with the solutions removed")
    s.add_argument("source", help="folder of notebooks (the book)")
    s.add_argument("dest", help="folder to write the student copies to")
    _add_results_parser(sub)
    parser.train_parser, parser.evaluate_parser = t, e
    return parser


def _add_data_args(p) -> None:
    """Where the data comes from: the same options for ``train`` and ``evaluate``."""
    p.add_argument("--data", choices=["synthetic", "synthetic-time", "ml-100k", "ml-1m", "ml-20m",
                                      "csv"],
                   default="synthetic", help="synthetic-time: the synthetic task's time variant")
    p.add_argument("--data-dir", help="MovieLens-100K folder (default: $BST_TEACH_ML100K or "
                   "data/ml-100k); for ml-1m / ml-20m the folder of ml-1m.zip / ml-20m.zip "
                   "(default: $BST_TEACH_MOVIELENS or data)")
    p.add_argument("--download", action="store_true", help="download the MovieLens data if missing")
    p.add_argument("--interactions", help="interactions CSV: user_id,item_id,timestamp[,label|rating]"
                   " (no label: every row a positive; add --negatives)")
    p.add_argument("--items", help="optional items CSV: item_id,category")
    p.add_argument("--users", help="optional users CSV: user_id plus categorical columns")
    p.add_argument("--positive-threshold", type=float, help="rating >= this is a positive")
    p.add_argument("--data-seed", type=int, default=0,
                   help="seed of the synthetic data set or of the sampled negatives")
    p.add_argument("--protocol", choices=["rating", "next-item"], default="rating",
                   help="ml-100k labels: rating >= threshold, or every rating a positive with "
                   "sampled negatives (next-item)")
    p.add_argument("--negatives", type=_positive_int,
                   help="sampled negatives per positive event (a CSV of positives only, or "
                   "--protocol next-item: default 1)")
    p.add_argument("--negative-sampling", choices=["uniform", "popularity"], default="uniform",
                   help="draw negatives uniformly or by training-period popularity")
    p.add_argument("--stream", action="store_true",
                   help="csv, ml-1m, ml-20m: cut the log into shards on disk and train one shard "
                   "at a time, for logs larger than memory (bst_teach.data.stream)")
    p.add_argument("--shard-dir", help="with --stream: the shards' folder (default: in the cache, "
                   "reused while the files are unchanged)")


def _add_experiment_args(t) -> None:
    """Settings the experiment registry (``bst_teach.results``) varies; defaults change nothing."""
    t.add_argument("--time-scheme", choices=["calendar", "log"], default="calendar",
                   help="time-gap buckets (bst_teach.features)")
    t.add_argument("--optimizer", choices=["adam", "adagrad"], default="adam")
    t.add_argument("--dropout", type=float, help="dropout of the model (default: the model's)")
    t.add_argument("--hidden", type=_positive_int, nargs="+",
                   help="MLP layer widths, e.g. 1024 512 256 (default: the model's)")
    t.add_argument("--shuffle-test", action="store_true",
                   help="also report test_auc_shuffled: test AUC with each history shuffled")


def _add_results_parser(sub) -> None:
    r = sub.add_parser("results", help="run or check the book's declared experiments")
    r.add_argument("action", choices=["run", "check", "table", "list"])
    r.add_argument("names", nargs="*", help="table: the experiment to show")
    r.add_argument("--only", nargs="+", metavar="NAME", help="run: only these experiments")
    r.add_argument("--jobs", type=_positive_int, default=2, help="run: trainings at once")
    r.add_argument("--seeds", type=int, nargs="+", help="run: only these seeds (a partial run)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


MOVIELENS = ("ml-100k", "ml-1m", "ml-20m")
#: Options that apply to some data sources or models only: (the option they depend on, values).
ONLY_WITH = {
    "interactions": ("data", ("csv",)), "items": ("data", ("csv",)), "users": ("data", ("csv",)),
    "data_dir": ("data", MOVIELENS), "download": ("data", MOVIELENS),
    "positive_threshold": ("data", (*MOVIELENS, "csv")), "protocol": ("data", ("ml-100k",)),
    "negatives": ("data", ("ml-100k", "csv")),
    "stream": ("data", ("csv", "ml-1m", "ml-20m")),
    "blocks": ("model", ("bst",)), "heads": ("model", ("bst",)), "position": ("model", ("bst",)),
    "norm": ("model", ("bst",)), "din_time": ("model", ("din",)),
}
MAX_BLOCKS = 16  # far beyond the paper's 1 to 4, and a bound on the work one command can ask for
SEED_LIMIT = 2 ** 32  # numpy's seeds are 0 .. 2**32 - 1


def _given(argv) -> set[str]:
    """The ``train`` or ``evaluate`` options written on the command line (not left at their
    defaults)."""
    parser = _parser()
    for action in parser.train_parser._actions + parser.evaluate_parser._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def _validate(args, given: set[str]) -> None:
    """Every check that needs no data, before any work; raises ValueError with one line."""
    _validate_data(args, given)
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr must be a positive finite number, got {args.lr}")
    if not 0 <= args.seed < SEED_LIMIT:
        raise ValueError(f"--seed must be between 0 and {SEED_LIMIT - 1}, got {args.seed}")
    if args.model == "bst":
        from .models import BSTConfig
        if args.blocks > MAX_BLOCKS:
            raise ValueError(f"--blocks must be at most {MAX_BLOCKS}, got {args.blocks}")
        c = BSTConfig()
        width = c.item_dim + c.cat_dim + c.pos_dim
        if width % args.heads:
            divisors = [h for h in range(1, width + 1) if width % h == 0]
            raise ValueError(f"--heads must divide the token width {width}: one of "
                             f"{', '.join(map(str, divisors))}; got {args.heads}")
    if args.save is not None:
        from .checkpoint import check_save_path
        check_save_path(args.save)


def _validate_data(args, given: set[str]) -> None:
    """The checks of the data options, shared by ``train`` and ``evaluate``."""
    sampled = args.negatives is not None or args.protocol == "next-item"
    if "data_seed" in given and not (args.data in ("synthetic", "synthetic-time") or sampled):
        raise ValueError(f"--data-seed applies to --data synthetic or synthetic-time, or with "
                         f"sampled negatives (--negatives, --protocol next-item) only, not "
                         f"--data {args.data} (it would be ignored)")
    if "negative_sampling" in given and not sampled:
        raise ValueError("--negative-sampling applies with sampled negatives only (--negatives K "
                         "or --protocol next-item; it would be ignored)")
    if args.protocol == "next-item" and args.positive_threshold is not None:
        raise ValueError("--positive-threshold does not apply to --protocol next-item (every "
                         "rating is a positive; it would be ignored)")
    if args.negatives is not None and args.data == "ml-100k" and args.protocol != "next-item":
        raise ValueError("--negatives on ml-100k needs --protocol next-item (with the rating "
                         "protocol the ratings give both classes)")
    for dest, (on, allowed) in ONLY_WITH.items():
        if dest in given and hasattr(args, dest) and getattr(args, on) not in allowed:
            raise ValueError(f"{_flag(dest)} applies to --{on} {' or '.join(allowed)} only, not "
                             f"--{on} {getattr(args, on)} (it would be ignored)")
    if "shard_dir" in given and not args.stream:
        raise ValueError("--shard-dir applies with --stream only (it would be ignored)")
    if args.stream:
        from .distributed import launched_by_torchrun
        not_here = [f for f in ("negatives", "protocol", "shuffle_test") if f in given]
        if not_here or launched_by_torchrun():
            raise ValueError(f"--stream trains in one process from labelled events; "
                             f"{_flag(not_here[0]) if not_here else 'torchrun'} needs the "
                             f"data in memory (drop --stream)")
    if args.positive_threshold is not None and not math.isfinite(args.positive_threshold):
        raise ValueError(f"--positive-threshold must be a finite number, got "
                         f"{args.positive_threshold}")
    if not 0 <= args.data_seed < SEED_LIMIT:
        raise ValueError(f"--data-seed must be between 0 and {SEED_LIMIT - 1}, got "
                         f"{args.data_seed}")
    cores = os.cpu_count() or 1
    if args.threads and args.threads > cores:
        raise ValueError(f"--threads {args.threads} is more than this machine's {cores} cores")
    from .device import resolve_device
    resolve_device(args.device)  # a device that is not there: refused before any work


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


#: Numbers that are undefined rather than wrong on some data: gAUC when no test user has both
#: classes.  Reported as null (strict JSON has no NaN).
MAY_BE_UNDEFINED = ("test_gauc", "val_gauc", "test_gauc_shuffled")


def _finite(report: dict) -> dict:
    """The report, or ValueError naming the first number that is NaN or infinite (NaN in
    :data:`MAY_BE_UNDEFINED` becomes None)."""
    for key in MAY_BE_UNDEFINED:
        if isinstance(report.get(key), float) and math.isnan(report[key]):
            report[key] = None
    for key, value in report.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"the run produced {key} = {value}: the model's outputs are not "
                             f"usable (training diverged? try a smaller --lr)")
    return report


def _train(args) -> dict:
    from . import distributed
    from .checkpoint import save_checkpoint
    from .data import load_dataset
    from .train import TrainConfig, fit

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.stream:
        return _train_stream(args)
    data = load_dataset(args.data, max_len=args.max_len, seed=args.data_seed, data_dir=args.data_dir,
                        interactions=args.interactions, items=args.items, users=args.users,
                        positive_threshold=args.positive_threshold, download=args.download,
                        protocol=args.protocol, negatives=args.negatives,
                        negative_sampling=args.negative_sampling,
                        time_scheme=args.time_scheme)
    if data.schema.max_len < args.max_len:
        print(f"note: --max-len {args.max_len} capped at {data.schema.max_len}, the longest "
              f"history in the data", file=sys.stderr)
    config = _model_config(args)
    try:
        result = fit(args.model, data, TrainConfig(epochs=args.epochs, batch_size=args.batch_size,
                                                lr=args.lr, seed=args.seed,
                                                patience=args.patience, min_epochs=args.min_epochs,
                                                progress=not args.json,
                                                device=args.device, **_train_overrides(args)),
                     **config)
    except ValueError as e:  # scikit-learn's metrics refuse NaN predictions
        if "NaN" in str(e) or "infinity" in str(e):
            raise ValueError(f"training diverged: the model's outputs became NaN or infinite "
                             f"(--lr {args.lr} too large?)") from None
        raise
    report = _finite({**result.summary(), "data": args.data, "config": config,
                      "seed": args.seed,
                      "n_train": len(data.train), "n_val": len(data.val),
                      "n_test": len(data.test), "threads": torch.get_num_threads(),
                      "device": str(next(result.model.parameters()).device),
                      "world_size": distributed.current().world_size,
                      **_report_extras(args, data, result)})
    if args.save and distributed.current().is_main:  # one writer under torchrun
        save_checkpoint(result.model, args.save)
    return report


def _model_config(args) -> dict:
    config = {"wdl": {}, "din": {"time_features": args.din_time},
              "bst": {"blocks": args.blocks, "heads": args.heads, "position": args.position,
                      "norm": args.norm}}[args.model]
    return {**config, **_model_overrides(args)}


def _shards(args, max_len: int, time_scheme: str):
    from .data.stream import build_movielens_shards, build_shards
    if args.data != "csv":
        return build_movielens_shards(
            args.data, args.data_dir, download=args.download, folder=args.shard_dir,
            positive_threshold=4 if args.positive_threshold is None else args.positive_threshold,
            max_len=max_len, time_scheme=time_scheme, progress=not args.json)
    if args.interactions is None:
        raise ValueError("--data csv needs --interactions FILE")
    return build_shards(args.interactions, folder=args.shard_dir, items=args.items,
                        users=args.users, positive_threshold=args.positive_threshold,
                        max_len=max_len, time_scheme=time_scheme, progress=not args.json)


def _train_stream(args) -> dict:
    """``train --stream``: shards on disk (bst_teach.data.stream), one shard at a time."""
    from .checkpoint import save_checkpoint
    from .streaming import fit_sharded
    from .train import TrainConfig

    data = _shards(args, args.max_len, args.time_scheme)
    config = _model_config(args)
    result = fit_sharded(args.model, data, TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        patience=args.patience, min_epochs=args.min_epochs, progress=not args.json,
        device=args.device, **_train_overrides(args)), **config)
    report = _finite({**result.summary(), "data": args.data, "config": config, "seed": args.seed,
                      "stream": True, "shards": len(data), "shard_dir": str(data.folder),
                      **{f"n_{s}": data.n_samples(s) for s in ("train", "val", "test")},
                      "threads": torch.get_num_threads(),
                      "device": str(next(result.model.parameters()).device), "world_size": 1,
                      "history": result.history, "max_len": data.schema.max_len,
                      "time_scheme": args.time_scheme})
    if args.save:
        save_checkpoint(result.model, args.save)
    return report


def _evaluate(args) -> dict:
    """Score the checkpoint on the validation and test splits of the data that ``args`` names.

    The data is built as ``train`` built it: ``--max-len`` defaults to the checkpoint's, and
    ``--time-scheme`` to the one whose number of buckets fits the checkpoint's time table."""
    from .checkpoint import CheckpointError, check_compatible, checkpoint_schema, load_checkpoint
    from .device import resolve_device
    from .data import load_dataset
    from .experiments import data_fingerprint
    from .features import n_time_buckets
    from .train import evaluate

    if args.threads:
        torch.set_num_threads(args.threads)
    schema = checkpoint_schema(args.checkpoint)  # the settings the data must be built with
    max_len = args.max_len or schema.max_len
    scheme = args.time_scheme or next(
        (s for s in ("calendar", "log") if n_time_buckets(s) == schema.n_time_buckets), "calendar")
    if args.stream:
        return _evaluate_stream(args, max_len, scheme)
    data = load_dataset(args.data, max_len=max_len, seed=args.data_seed, data_dir=args.data_dir,
                        interactions=args.interactions, items=args.items, users=args.users,
                        positive_threshold=args.positive_threshold, download=args.download,
                        protocol=args.protocol, negatives=args.negatives,
                        negative_sampling=args.negative_sampling,
                        time_scheme=scheme)
    model = load_checkpoint(args.checkpoint).to(resolve_device(args.device))
    try:
        check_compatible(model, data)  # data the model cannot take: the first reason why
    except CheckpointError as e:
        raise ValueError(f"{args.checkpoint} does not fit --data {args.data}: {e}") from None
    if data.schema != model.schema:
        raise ValueError(f"the data ({args.data}, max_len {data.schema.max_len}, time scheme "
                         f"{scheme}) is not the data {args.checkpoint} was trained on: its "
                         f"schema (vocabulary sizes, features, max_len) differs")
    val = evaluate(model, data.tensors("val"), users=data.val.user)
    test = evaluate(model, data.tensors("test"), users=data.test.user)
    return _finite({"model": model.name, "checkpoint": str(args.checkpoint), "data": args.data,
                    "test_auc": test["auc"], "test_logloss": test["logloss"],
                    "test_gauc": test["gauc"], "test_gauc_users": test["gauc_users"],
                    "val_auc": val["auc"], "val_logloss": val["logloss"],
                    "val_gauc": val["gauc"],
                    "n_val": len(data.val), "n_test": len(data.test),
                    "max_len": data.schema.max_len, "time_scheme": scheme,
                    "data_fingerprint": data_fingerprint(data)})


def _evaluate_stream(args, max_len: int, scheme: str) -> dict:
    """``evaluate --stream``: the checkpoint scored shard by shard on the shards of the CSV."""
    from .checkpoint import load_checkpoint
    from .device import resolve_device
    from .streaming import evaluate_sharded

    data = _shards(args, max_len, scheme)
    model = load_checkpoint(args.checkpoint).to(resolve_device(args.device))
    if data.schema != model.schema:
        raise ValueError(f"the data (--data {args.data}, max_len "
                         f"{data.schema.max_len}, time scheme {scheme}) is not the data "
                         f"{args.checkpoint} was trained on: its schema (vocabulary sizes, "
                         f"features, max_len) differs")
    val, test = (evaluate_sharded(model, data, s) for s in ("val", "test"))
    return _finite({"model": model.name, "checkpoint": str(args.checkpoint), "data": args.data,
                    "stream": True, "test_auc": test["auc"], "test_logloss": test["logloss"],
                    "test_gauc": test["gauc"], "test_gauc_users": test["gauc_users"],
                    "val_auc": val["auc"], "val_logloss": val["logloss"], "val_gauc": val["gauc"],
                    "n_val": data.n_samples("val"), "n_test": data.n_samples("test"),
                    "max_len": data.schema.max_len, "time_scheme": scheme})


def _model_overrides(args) -> dict:
    """--dropout / --hidden, only where given (so the model's defaults stay the defaults)."""
    out = {}
    if args.dropout is not None:
        out["dropout"] = args.dropout
    if args.hidden:
        out["hidden"] = tuple(args.hidden)
    return out


def _train_overrides(args) -> dict:
    """--optimizer, passed on only when it is not the default Adam."""
    from dataclasses import fields

    from .train import TrainConfig
    if args.optimizer == "adam":
        return {}
    if "optimizer" not in {f.name for f in fields(TrainConfig)}:
        raise ValueError(f"--optimizer {args.optimizer} needs TrainConfig.optimizer in bst_teach/train.py")
    return {"optimizer": args.optimizer}


def _report_extras(args, data, result) -> dict:
    """What a record of ``bst_teach.results`` needs beyond the summary: the per-epoch history,
    the settings, the data and code it was made from and, with --shuffle-test, the shuffle test."""
    from .experiments import data_fingerprint
    from .results import code_hash

    extras = {"history": result.history, "time_scheme": args.time_scheme, "max_len": data.schema.max_len,
              "train": {"max_epochs": args.epochs, "patience": args.patience,
                        "min_epochs": args.min_epochs, "lr": args.lr,
                        "batch_size": args.batch_size, "optimizer": args.optimizer},
              "data_fingerprint": data_fingerprint(data), "code_hash": code_hash(),
              "torch": torch.__version__}
    if args.shuffle_test:
        from sklearn.metrics import roc_auc_score

        from .data.samples import shuffle_history
        from .metrics import gauc
        from .train import predict
        test = data.tensors("test")
        p = predict(result.model, shuffle_history(test, seed=args.seed))
        extras["test_auc_shuffled"] = float(roc_auc_score(test["label"].numpy(), p))
        extras["test_gauc_shuffled"] = gauc(data.test.user, test["label"].numpy(), p)[0]
    return extras


def _print_report(report: dict, as_json: bool, summary: str) -> None:
    """The report as one strict JSON line (``--json``), else its one-line summary."""
    print(json.dumps(report, allow_nan=False) if as_json else summary)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            from . import distributed
            _validate(args, _given(argv))
            report = _train(args)
            if not distributed.current().is_main:  # under torchrun, rank 0 reports
                return 0
            _print_report(report, args.json,
                          f"{report['model']} on {report['data']}: test AUC "
                          f"{report['test_auc']:.4f}, log-loss {report['test_logloss']:.4f}, "
                          f"{report['epochs']} epochs in {report['train_seconds']:.1f} s")
        elif args.command == "evaluate":
            _validate_data(args, _given(argv))
            report = _evaluate(args)
            _print_report(report, args.json,
                          f"{report['model']} from {report['checkpoint']} on {report['data']}: "
                          f"test AUC {report['test_auc']:.4f}, log-loss "
                          f"{report['test_logloss']:.4f} ({report['n_test']:,} samples)")
        elif args.command == "results":
            from .results import main as results_main
            return results_main(args)
        elif args.command == "student-copies":
            from .exercises.student import write_student_copies
            for path in write_student_copies(args.source, args.dest):
                print(path)
    except (ValueError, OSError) as err:  # DataError and CheckpointError are ValueErrors
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory: try a smaller --max-len or --batch-size", file=sys.stderr)
        return 2
    finally:
        from .distributed import shutdown
        shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
