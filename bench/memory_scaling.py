"""Peak memory and time of building samples from an N-row interactions CSV, and of training on
them: the in-memory builder (``build_dataset``), the chunked one (``build_dataset_chunked``) and
the shards on disk (``bst_teach.data.stream.build_shards``, trained by
``bst_teach.streaming.fit_sharded``).

    python bench/memory_scaling.py --rows 1000000 10000000 [--train] [--out bench/results]

With ``--train`` each run then trains a BST for one epoch (batch 256, one thread) and reports the
peak RSS of the training phase alone (VmHWM reset through /proc/self/clear_refs after building).
A builder that refuses the size (the in-memory ones above ``MAX_HISTORY_CELLS``) is reported as
refused, with its message.

For each N it writes ``interactions-N.csv`` (user_id,item_id,timestamp,label; about 100 events
per user, 50,000 items drawn Zipf-like, times uniform over three years, 40% positives, seeded)
plus an items and a users file, then,
for each builder, runs a fresh Python process that reads the files and builds
the data set.  Reported per run: seconds to read, seconds to build, the resident set size (RSS)
after reading and the peak RSS of the process (VmHWM of /proc/self/status), which includes
Python, pandas and the events table, not the samples alone.  A fresh process per run, so one
run's freed memory never hides another's peak.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def write_log(folder: Path, rows: int, seed: int = 0) -> dict[str, Path]:
    """interactions / items / users CSVs of ``rows`` events; written in blocks of 1 M rows."""
    rng = np.random.default_rng(seed)
    n_users, n_items = max(1, rows // 100), 50_000
    paths = {k: folder / f"{k}-{rows}.csv" for k in ("interactions", "items", "users")}
    if not paths["interactions"].exists():
        tmp = paths["interactions"].with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.write("user_id,item_id,timestamp,label\n")
            for start in range(0, rows, 1_000_000):
                n = min(1_000_000, rows - start)
                user = rng.integers(0, n_users, n)
                item = rng.zipf(1.3, n) % n_items
                ts = 1_500_000_000 + rng.integers(0, 3 * 365 * 86400, n)
                label = (rng.random(n) < 0.4).astype(int)
                f.writelines(f"u{u},i{i},{t},{y}\n" for u, i, t, y in zip(user, item, ts, label))
        os.replace(tmp, paths["interactions"])
    if not paths["items"].exists():
        paths["items"].write_text("item_id,category\n" + "".join(
            f"i{i},c{i % 40}\n" for i in range(n_items)))
    if not paths["users"].exists():
        paths["users"].write_text("user_id,gender,age\n" + "".join(
            f"u{u},{'FM'[u % 2]},{18 + u % 50}\n" for u in range(n_users)))
    return paths


CHILD = r"""
import json, shutil, sys, time
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
def reset_peak():  # VmHWM back to the current RSS (Linux >= 4.0); False where not allowed
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
from bst_teach.data import load_csv
from bst_teach.data.samples import build_dataset, build_dataset_chunked
from bst_teach.data.stream import build_shards
from bst_teach.streaming import fit_sharded
from bst_teach.train import TrainConfig, fit
interactions, items, users, builder, max_len, train, shard_dir = sys.argv[1:8]
out = {}
t0 = time.perf_counter()
if builder == "stream":
    shutil.rmtree(shard_dir, ignore_errors=True)
    data = build_shards(interactions, folder=shard_dir, items=items, users=users,
                        max_len=int(max_len), progress=False)
    t1 = t2 = time.perf_counter()
    out["samples"] = sum(data.n_samples(s) for s in ("train", "val", "test"))
    out["shards"] = len(data)
    out["sample_bytes"] = None
else:
    raw = load_csv(interactions, items=items, users=users)
    t1 = time.perf_counter()
    out["rss_after_read"] = status("VmRSS:")
    build = build_dataset if builder == "in-memory" else build_dataset_chunked
    data = build(raw, max_len=int(max_len))
    t2 = time.perf_counter()
    out["samples"] = len(data.train) + len(data.val) + len(data.test)
    out["sample_bytes"] = sum(a.nbytes for s in (data.train, data.val, data.test)
                              for a in vars(s).values())
out.update(read_s=t1 - t0, build_s=t2 - t1, peak_rss_build=status("VmHWM:"),
           rss_after_build=status("VmRSS:"))
if train == "1":
    out["peak_reset"] = reset_peak()
    cfg = TrainConfig(epochs=1, progress=False)
    t3 = time.perf_counter()
    result = (fit_sharded if builder == "stream" else fit)("bst", data, cfg)
    out.update(train_s=time.perf_counter() - t3, test_auc=result.test_auc,
               peak_rss_train=status("VmHWM:"), n_train=(data.n_samples("train")
               if builder == "stream" else len(data.train)))
print(json.dumps(out))
"""


def measure(paths: dict[str, Path], builder: str, max_len: int, train: bool,
            shard_dir: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "OMP_WAIT_POLICY": "PASSIVE"}
    r = subprocess.run([sys.executable, "-c", CHILD, str(paths["interactions"]), str(paths["items"]),
                        str(paths["users"]), builder, str(max_len), "1" if train else "0",
                        str(shard_dir)], capture_output=True, text=True, env=env)
    if r.returncode:
        last = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
        return {"error": last.split("DataError: ", 1)[-1]}  # the message, without the class
    return json.loads(r.stdout.strip().splitlines()[-1])


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _gb(x) -> str:
    return f"{x / 1e9:>7.2f}GB" if isinstance(x, (int, float)) else f"{'-':>9}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--max-len", type=int, default=20)
    ap.add_argument("--builders", nargs="+", default=["in-memory", "chunked", "stream"],
                    choices=["in-memory", "chunked", "stream"])
    ap.add_argument("--train", action="store_true",
                    help="also train a BST for one epoch after building (peak RSS of training)")
    ap.add_argument("--data-dir", default="/tmp/bst-teach-memory-scaling",
                    help="where the generated CSVs and the shards go (CSVs kept for the next run)")
    ap.add_argument("--out", help="also write memory_scaling.json here")
    args = ap.parse_args(argv)
    folder = Path(args.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    rows_out, load_before = [], list(os.getloadavg())
    print(f"{'rows':>11} {'builder':>10} {'read s':>7} {'build s':>8} {'peak build':>10} "
          f"{'train s':>8} {'peak train':>10} {'test AUC':>8}")
    for rows in args.rows:
        start = time.perf_counter()
        paths = write_log(folder, rows)
        print(f"# {paths['interactions']} ready ({time.perf_counter() - start:.0f} s)", flush=True)
        for builder in args.builders:
            m = {"rows": rows, "builder": builder, "max_len": args.max_len,
                 **measure(paths, builder, args.max_len, args.train,
                           folder / f"shards-{rows}")}
            rows_out.append(m)
            if "error" in m:
                print(f"{rows:>11,} {builder:>10} refused: {m['error']}", flush=True)
                continue
            auc = f"{m['test_auc']:>8.4f}" if "test_auc" in m else f"{'-':>8}"
            print(f"{rows:>11,} {builder:>10} {m['read_s']:>7.1f} {m['build_s']:>8.1f} "
                  f"{_gb(m['peak_rss_build']):>10} {m.get('train_s', float('nan')):>8.1f} "
                  f"{_gb(m.get('peak_rss_train')):>10} {auc}", flush=True)
    if args.out:
        import torch
        meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "command": "python bench/memory_scaling.py " + " ".join(argv or sys.argv[1:]),
                "cpu": _cpu_model(), "cpus": os.cpu_count(),
                "torch": torch.__version__, "threads": 1, "max_len": args.max_len,
                "model": "bst", "epochs": 1, "batch_size": 256,
                "loadavg_before": load_before, "loadavg_after": list(os.getloadavg())}
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "memory_scaling.json").write_text(
            json.dumps({"meta": meta, "runs": rows_out}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
