"""Peak memory and time of building samples from an N-row interactions CSV: the in-memory
builder (``build_dataset``) against the chunked one (``build_dataset_chunked``).

    python bench/memory_scaling.py --rows 1000000 [--max-len 20] [--out bench/results]

For each N it writes ``interactions-N.csv`` (user_id,item_id,timestamp,label; about 100 events
per user, 50,000 items, one event a minute per user, seeded) plus an items and a users file, then,
for each builder, runs a fresh Python process that reads the files with ``load_csv`` and builds
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
import json, sys, time
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
from bst_teach.data import load_csv
from bst_teach.data.samples import build_dataset, build_dataset_chunked
interactions, items, users, builder, max_len = sys.argv[1:6]
t0 = time.perf_counter()
raw = load_csv(interactions, items=items, users=users)
t1 = time.perf_counter()
before = rss("VmRSS:")
build = build_dataset if builder == "in-memory" else build_dataset_chunked
data = build(raw, max_len=int(max_len))
t2 = time.perf_counter()
print(json.dumps({"read_s": t1 - t0, "build_s": t2 - t1, "rss_after_read": before,
                  "peak_rss": rss("VmHWM:"), "samples": len(data.train) + len(data.val) + len(data.test),
                  "sample_bytes": sum(a.nbytes for s in (data.train, data.val, data.test)
                                      for a in vars(s).values())}))
"""


def measure(paths: dict[str, Path], builder: str, max_len: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", CHILD, str(paths["interactions"]), str(paths["items"]),
                        str(paths["users"]), builder, str(max_len)],
                       capture_output=True, text=True, env=env, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--max-len", type=int, default=20)
    ap.add_argument("--builders", nargs="+", default=["in-memory", "chunked"],
                    choices=["in-memory", "chunked"])
    ap.add_argument("--data-dir", default="/tmp/bst-teach-memory-scaling",
                    help="where the generated CSVs go (kept for the next run)")
    ap.add_argument("--out", help="also write memory_scaling.json here")
    args = ap.parse_args(argv)
    folder = Path(args.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    rows_out = []
    print(f"{'rows':>11} {'builder':>10} {'read s':>7} {'build s':>8} {'RSS read':>9} "
          f"{'peak RSS':>9} {'samples MB':>10}")
    for rows in args.rows:
        start = time.perf_counter()
        paths = write_log(folder, rows)
        print(f"# {paths['interactions']} ready ({time.perf_counter() - start:.0f} s)", flush=True)
        for builder in args.builders:
            m = {"rows": rows, "builder": builder, "max_len": args.max_len,
                 **measure(paths, builder, args.max_len)}
            rows_out.append(m)
            print(f"{rows:>11,} {builder:>10} {m['read_s']:>7.1f} {m['build_s']:>8.1f} "
                  f"{m['rss_after_read'] / 1e9:>7.2f}GB {m['peak_rss'] / 1e9:>7.2f}GB "
                  f"{m['sample_bytes'] / 1e6:>10.0f}", flush=True)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "memory_scaling.json").write_text(json.dumps(rows_out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
