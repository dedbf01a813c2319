"""Command line: ``python -m bst_teach train --data synthetic --model bst [--json]``.

Bad arguments and bad files give a one-line error and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import argparse
import json
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
    t.add_argument("--data", choices=["synthetic", "ml-100k", "csv"], default="synthetic")
    t.add_argument("--model", choices=["wdl", "din", "bst"], default="bst")
    t.add_argument("--data-dir", help="MovieLens-100K folder (default: $BST_TEACH_ML100K or data/ml-100k)")
    t.add_argument("--download", action="store_true", help="download MovieLens-100K if missing")
    t.add_argument("--interactions", help="interactions CSV: user_id,item_id,timestamp,label|rating")
    t.add_argument("--items", help="optional items CSV: item_id,category")
    t.add_argument("--users", help="optional users CSV: user_id plus categorical columns")
    t.add_argument("--positive-threshold", type=float, help="rating >= this is a positive")
    t.add_argument("--max-len", type=_positive_int, default=20, help="history length L")
    t.add_argument("--epochs", type=_positive_int, default=20)
    t.add_argument("--patience", type=_positive_int, default=4, help="early-stopping patience (epochs)")
    t.add_argument("--batch-size", type=_positive_int, default=256)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=0, help="seed of the model's initialisation and shuffling")
    t.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic data set")
    t.add_argument("--blocks", type=_positive_int, default=1, help="BST encoder blocks")
    t.add_argument("--heads", type=_positive_int, default=4, help="BST attention heads")
    t.add_argument("--position", choices=["none", "index", "time", "both"], default="both",
                   help="BST positions")
    t.add_argument("--norm", choices=["layer", "batch", "none"], default="layer", help="BST norm")
    t.add_argument("--din-time", action="store_true", help="give DIN time-gap bucket features")
    t.add_argument("--threads", type=_positive_int, help="torch.set_num_threads")
    t.add_argument("--save", help="write a checkpoint here")
    t.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    s = sub.add_parser("student-copies", help="copy notebooks with the solutions removed")
    s.add_argument("source", help="folder of notebooks (the book)")
    s.add_argument("dest", help="folder to write the student copies to")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _train(args) -> dict:
    from .data import load_dataset
    from .train import TrainConfig, fit, save_checkpoint

    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset(args.data, max_len=args.max_len, seed=args.data_seed, data_dir=args.data_dir,
                        interactions=args.interactions, items=args.items, users=args.users,
                        positive_threshold=args.positive_threshold, download=args.download)
    config = {"wdl": {}, "din": {"time_features": args.din_time},
              "bst": {"blocks": args.blocks, "heads": args.heads, "position": args.position,
                      "norm": args.norm}}[args.model]
    result = fit(args.model, data, TrainConfig(epochs=args.epochs, batch_size=args.batch_size,
                                            lr=args.lr, seed=args.seed, patience=args.patience,
                                            progress=not args.json), **config)
    if args.save:
        save_checkpoint(result.model, args.save)
    return {**result.summary(), "data": args.data, "config": config, "seed": args.seed,
            "n_train": len(data.train), "n_val": len(data.val), "n_test": len(data.test),
            "threads": torch.get_num_threads()}


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            report = _train(args)
            if args.json:
                print(json.dumps(report))
            else:
                print(f"{report['model']} on {report['data']}: test AUC {report['test_auc']:.4f}, "
                      f"log-loss {report['test_logloss']:.4f}, {report['epochs']} epochs in "
                      f"{report['train_seconds']:.1f} s")
        elif args.command == "student-copies":
            from .exercises.student import write_student_copies
            for path in write_student_copies(args.source, args.dest):
                print(path)
    except (ValueError, OSError) as err:  # DataError is a ValueError
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
