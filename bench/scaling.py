"""One process against two: data-parallel BST training on MovieLens-100K, measured.

    BST_TEACH_ML100K=/path/to/ml-100k .venv/bin/python bench/scaling.py

For seeds 0, 1, 2 it trains the book's BST (one block, four heads, both position signals, log
time scheme, LayerNorm, L = 20, batch 256, Adam at 1e-3, at most 40 epochs, patience 4) twice:

* once as a single process:  ``python -m bst_teach train ... --threads 1 --json``
* once as two DDP ranks:     ``torchrun --standalone --nproc-per-node 2 -m bst_teach train ...``

and records, per run: test AUC and gAUC, epochs, ``train_seconds``, training throughput
(training rows x epochs / train_seconds) and the peak resident memory of every process (each
rank runs under ``/usr/bin/time -f %M``; the torchrun launcher's own peak is its ``VmHWM``).
Under torchrun each rank takes whole batches of 256 (batches rank, rank + 2, ...), so one
optimiser step averages the gradients of 2 x 256 rows and an epoch has half as many steps.

Runs alternate (seed 0 alone, seed 0 on two ranks, seed 1 alone, ...) so that a drift of the
machine's speed hits both sides alike.  It waits until no other training, test or notebook
run is going on (up to 20 minutes), measures a seed's pair again if one started meanwhile
(the discarded runs are kept in the JSON), and records the load average before and after.
Writes bench/results/scaling.json and prints a table.  About 5-10 minutes on 2 cores.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "scaling.json"
PY = sys.executable
TORCHRUN = str(Path(PY).with_name("torchrun"))
TIME = "/usr/bin/time"  # GNU time: -f %M is the peak resident set size in KiB
SEEDS = [0, 1, 2]
WORLD = 2
BUSY = "nbconvert|pytest|bst_teach train|bst_teach results"  # what must not run meanwhile

TRAIN_ARGS = ["--data", "ml-100k", "--model", "bst", "--blocks", "1", "--heads", "4",
              "--position", "both", "--time-scheme", "log", "--norm", "layer", "--max-len", "20",
              "--epochs", "40", "--patience", "4", "--lr", "0.001", "--batch-size", "256",
              "--threads", "1", "--json"]
ENV = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONHASHSEED="0", BST_TEACH_PROGRESS="0")


def others_busy(mine=()) -> list[int]:
    """Pids of other trainings, tests or notebook runs (not this script's own children)."""
    found = subprocess.run(["pgrep", "-f", BUSY], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found if int(p) != os.getpid() and int(p) not in mine]


def descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        p, pp = map(int, line.split())
        children.setdefault(pp, []).append(p)
    found, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            found.add(c)
            todo.append(c)
    return found


def wait_until_idle(poll_s=20, max_s=20 * 60):
    """Block while another training, test or notebook run is going on."""
    t0 = time.time()
    while time.time() - t0 < max_s:
        busy = others_busy()
        if not busy:
            return time.time() - t0
        print(f"waiting: busy processes {busy}", flush=True)
        time.sleep(poll_s)
    raise SystemExit(f"the machine was not idle within {max_s} s; nothing measured")


def commands(seed: int, world: int, rss_dir: Path) -> list[str]:
    """The command line of one run; every rank's peak RSS goes to rss_dir/rank<N>.txt."""
    train = ["-m", "bst_teach", "train", *TRAIN_ARGS, "--seed", str(seed)]
    if world == 1:
        return [TIME, "-f", "%M", "-o", str(rss_dir / "rank0.txt"), PY, *train]
    # each rank is `sh -c 'time ... python -m bst_teach train ...'` so its own peak is recorded
    rank_cmd = (f"exec {TIME} -f %M -o {shlex.quote(str(rss_dir))}/rank$LOCAL_RANK.txt "
                + " ".join(shlex.quote(a) for a in [PY, *train]))
    return [TORCHRUN, "--standalone", f"--nproc-per-node={world}", "--no-python",
            "sh", "-c", rank_cmd]


def peak_kib(pid: int) -> int:
    """VmHWM (peak resident set) of a live process, in KiB; 0 once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_one(seed: int, world: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        rss_dir = Path(tmp)
        cmd = commands(seed, world, rss_dir)
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        launcher_kib, intruders, ticks = 0, set(), 0
        while proc.poll() is None:  # the launcher's high-water mark, read while it lives
            launcher_kib = max(launcher_kib, peak_kib(proc.pid))
            if ticks % 4 == 0:  # every 2 s: did another training or notebook start meanwhile?
                intruders |= set(others_busy(descendants(proc.pid) | {proc.pid}))
            ticks += 1
            time.sleep(0.5)
        stdout, stderr = proc.communicate()
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{cmd} failed ({proc.returncode}):\n{stderr[-3000:]}")
        report = json.loads([l for l in stdout.splitlines() if l.startswith("{")][-1])
        rss = [int((rss_dir / f"rank{r}.txt").read_text().split()[-1]) for r in range(world)]
    assert report["world_size"] == world, report["world_size"]
    row = dict(processes=world, seed=seed, test_auc=report["test_auc"],
               test_gauc=report["test_gauc"], val_auc=report["val_auc"],
               epochs=report["epochs"], best_epoch=report["best_epoch"],
               train_seconds=report["train_seconds"], wall_seconds=wall,
               n_train=report["n_train"],
               throughput=report["n_train"] * report["epochs"] / report["train_seconds"],
               steps_per_epoch=-(-report["n_train"] // (256 * world)),
               rss_mib_per_rank=[k / 1024 for k in rss], rss_mib_total=sum(rss) / 1024,
               launcher_rss_mib=launcher_kib / 1024 if world > 1 else None,
               others_running=sorted(intruders), history=report["history"])
    return row


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main():
    waited = wait_until_idle()
    load_before = os.getloadavg()
    rows, discarded = [], []
    for seed in SEEDS:
        for attempt in range(3):  # a pair during which anything else started is measured again
            pair = [run_one(seed, world) for world in (1, WORLD)]
            if not any(r["others_running"] for r in pair):
                break
            print(f"seed {seed}: other processes ran meanwhile, measuring again", flush=True)
            discarded += [{k: v for k, v in r.items() if k != "history"} for r in pair]
            waited += wait_until_idle()
        else:
            raise SystemExit(f"seed {seed}: never measured on an otherwise idle machine")
        for row in pair:
            rows.append(row)
            print(f"seed {seed} x{row['processes']}: AUC {row['test_auc']:.4f} gAUC {row['test_gauc']:.4f} "
                  f"{row['epochs']} epochs {row['train_seconds']:.1f} s "
                  f"{row['throughput']:.0f} rows/s RSS {row['rss_mib_total']:.0f} MiB", flush=True)
    load_after = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        shown = {w: " ".join(shlex.quote(a) for a in commands(0, w, Path("RSS_DIR")))
                 for w in (1, WORLD)}
    meta = dict(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                cpu=cpu_model(), cpus=os.cpu_count(), torch=torch.__version__,
                python=platform.python_version(), seeds=SEEDS, world_sizes=[1, WORLD],
                batch_size_per_rank=256,
                env={k: ENV[k] for k in ("OMP_WAIT_POLICY", "PYTHONHASHSEED", "BST_TEACH_PROGRESS")},
                commands={str(w): c.replace(str(ROOT) + "/", "") for w, c in shown.items()},
                waited_for_idle_seconds=waited, discarded_runs=discarded,
                loadavg_before=list(load_before), loadavg_after=list(load_after))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(dict(meta=meta, runs=rows), indent=1) + "\n")

    print(f"\n{'procs':>5} {'seed':>4} {'AUC':>6} {'gAUC':>6} {'epochs':>6} {'train s':>7} "
          f"{'rows/s':>7} {'RSS/rank MiB':>14} {'RSS MiB':>7}")
    for r in rows:
        per = "/".join(f"{m:.0f}" for m in r["rss_mib_per_rank"])
        print(f"{r['processes']:>5} {r['seed']:>4} {r['test_auc']:>6.3f} {r['test_gauc']:>6.3f} "
              f"{r['epochs']:>6} {r['train_seconds']:>7.1f} {r['throughput']:>7.0f} {per:>14} "
              f"{r['rss_mib_total']:>7.0f}")
    print(f"load average before {load_before}, after {load_after}; wrote {OUT}")


if __name__ == "__main__":
    main()
