"""Run ``python -m bst_teach`` under torchrun, logging the training rows each rank gets.

    torchrun --nproc-per-node 2 tests/ddp_probe.py LOGDIR train ...

Each rank writes LOGDIR/rank<R>.json: one list of row indices per epoch and the checkpoints it
saved (used by tests/test_distributed.py)."""
import json
import os
import sys

from bst_teach import __main__ as cli
from bst_teach import checkpoint, train

log_dir, argv = sys.argv[1], sys.argv[2:]
rank = int(os.environ["RANK"])
epochs = []
real = train.batch_rows


def logged(*args, **kwargs):
    rows = real(*args, **kwargs)
    epochs.append([int(i) for b in rows for i in b])
    return rows


saves = []
real_save = checkpoint.save_checkpoint


def logged_save(*args, **kwargs):
    saves.append(str(args[1]))
    return real_save(*args, **kwargs)


train.batch_rows, checkpoint.save_checkpoint = logged, logged_save
rc = cli.main(argv)
with open(os.path.join(log_dir, f"rank{rank}.json"), "w") as f:
    json.dump({"epochs": epochs, "saves": saves, "rc": rc}, f)
sys.exit(rc)
