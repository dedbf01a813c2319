"""Test AUC of WDL, DIN and BST (1-3 blocks) over several seeds, through the command line.

    python bench/auc_table.py --data synthetic --seeds 0 1 2 [--jobs 2] [--out results.jsonl]

Each run is ``python -m bst_teach train ... --json``; the table gives the median over seeds and
the median training time.  ``--jobs 2`` runs two trainings at once with one thread each.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

RUNS = {
    "wdl": ["--model", "wdl"],
    "din": ["--model", "din"],
    "din + time": ["--model", "din", "--din-time"],
    "bst 1 block": ["--model", "bst", "--blocks", "1"],
    "bst 2 blocks": ["--model", "bst", "--blocks", "2"],
    "bst 3 blocks": ["--model", "bst", "--blocks", "3"],
}


def run(label, args, data, seed, threads, extra):
    cmd = [sys.executable, "-m", "bst_teach", "train", "--data", data, "--seed", str(seed),
           "--threads", str(threads), "--json", *args, *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return {"run": label, **json.loads(out)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="synthetic")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--runs", nargs="+", default=list(RUNS))
    p.add_argument("--out", help="append every run's JSON here")
    p.add_argument("extra", nargs="*", help="more arguments for `bst_teach train` (after --)")
    a = p.parse_args()
    threads = max(1, 2 // a.jobs)
    jobs = [(label, RUNS[label], a.data, s, threads, a.extra) for label in a.runs for s in a.seeds]
    def run_and_record(job):  # each run is written as soon as it ends, so a stopped table keeps it
        r = run(*job)
        print(f"{r['run']} seed {r['seed']}: test AUC {r['test_auc']:.4f}, {r['epochs']} epochs, "
              f"{r['train_seconds']:.1f} s", file=sys.stderr, flush=True)
        if a.out:
            with open(a.out, "a") as f:
                f.write(json.dumps(r) + "\n")
        return r

    with ThreadPoolExecutor(a.jobs) as pool:
        results = list(pool.map(run_and_record, jobs))
    print(f"data: {a.data}; seeds {a.seeds}; {threads} thread(s) per run, {a.jobs} run(s) at once\n")
    print("| model | test AUC (median) | per seed | epochs | train s (median) |")
    print("|---|---|---|---|---|")
    for label in a.runs:
        rs = [r for r in results if r["run"] == label]
        aucs = [r["test_auc"] for r in rs]
        print(f"| {label} | {statistics.median(aucs):.4f} | {' '.join(f'{x:.4f}' for x in aucs)} "
              f"| {' '.join(str(r['epochs']) for r in rs)} "
              f"| {statistics.median(r['train_seconds'] for r in rs):.1f} |")


if __name__ == "__main__":
    main()
