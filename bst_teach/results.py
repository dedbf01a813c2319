"""Declared experiments and their records: the evidence behind every comparison the book reports.

Each experiment is declared once, in :data:`EXPERIMENTS`: a name, the data sets, the variants (each
a set of options of ``python -m bst_teach train``), the seeds and the training settings.  One run
is one (data set, variant, seed) and *is* one command::

    OMP_WAIT_POLICY=PASSIVE PYTHONHASHSEED=0 python -m bst_teach train --data synthetic \\
        --max-len 20 --model bst --blocks 1 ... --seed 3 --threads 1 --json

whose JSON report, with the experiment's names added, becomes the run's *record*:
``results/<experiment>/<data>/<variant>/seed<k>.json``, committed.  So a record's ``command``
reproduces it by construction (from the repository root, in the project's ``.venv``, with
``BST_TEACH_ML100K`` pointing at MovieLens-100K for the ``ml-100k`` runs).

* ``python -m bst_teach results run [--only NAME ...] [--jobs 2]`` (``make results [ONLY=NAME]``)
  runs every run whose record is missing or stale, ``--jobs`` at once with one torch thread each,
  experiment after experiment, and writes each record atomically the moment its run ends: a killed
  run keeps what finished, and running again resumes.  A command declared in several experiments
  (the book's BST appears in four) runs once; its record is copied.
* ``python -m bst_teach results check`` lists every record that is missing or stale -- made by
  other training code (:func:`code_hash`), from other data (``data_fingerprint``) or by another
  command than the one declared -- and exits non-zero naming the command that remakes them.
* ``python -m bst_teach results table NAME`` prints an experiment's :func:`summary`.

For the chapters: :func:`load_records`, :func:`summary` (mean and 95% t-interval per variant) and
:func:`paired_difference` (the interval of the difference of two variants over paired seeds), with
the statistics from scipy.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

PACKAGE_DIR = Path(__file__).resolve().parent
HASHED_CODE = ("models/*.py", "features.py", "train.py", "metrics.py")  # the training code (not checkpoint I/O)
SEEDS = (0, 1, 2, 3, 4)
ENV = {"OMP_WAIT_POLICY": "PASSIVE", "PYTHONHASHSEED": "0"}  # set in every run's environment
RERUN = ("from the repository root, in the project's .venv (make venv), with BST_TEACH_ML100K set "
         "to the MovieLens-100K folder for ml-100k runs (the Makefile sets it): run `command`")


#: The records packed into the wheel (``book/_ext/run_anywhere.py``), for a notebook run outside
#: the repository.
SHIPPED_RECORDS = PACKAGE_DIR / "_shipped" / "results"


def results_dir() -> Path:
    """Where records live: ``$BST_TEACH_RESULTS``, else ``results/`` in the repository, else (an
    installed wheel, no repository) the copy shipped inside the package."""
    if os.environ.get("BST_TEACH_RESULTS"):
        return Path(os.environ["BST_TEACH_RESULTS"])
    repo = PACKAGE_DIR.parent / "results"
    return SHIPPED_RECORDS if not repo.is_dir() and SHIPPED_RECORDS.is_dir() else repo


def code_hash() -> str:
    """sha256 of the training code: what a record's numbers depend on besides the data."""
    h = hashlib.sha256()
    for path in sorted(p for pattern in HASHED_CODE for p in PACKAGE_DIR.glob(pattern)):
        h.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# The registry.  Options are the long names of `python -m bst_teach train` (dashes as
# underscores); a command spells every option out in one fixed order, so the same settings give
# the same command wherever they are declared.
# ---------------------------------------------------------------------------------------------
OPTION_ORDER = ("data", "max_len", "data_seed", "protocol", "negatives", "negative_sampling", "model", "blocks", "heads", "position",
                "time_scheme", "norm", "din_time", "dropout", "hidden", "optimizer", "lr",
                "batch_size", "epochs", "patience", "min_epochs", "shuffle_test")

#: Training settings of every experiment: early stopping on validation AUC, with room to converge
#: (the best epoch comes before the last in the records' ``summary``).
TRAIN = {"epochs": 40, "patience": 4, "lr": 0.001, "batch_size": 256, "shuffle_test": True}

#: The book's models with every setting spelled out; variants override some.  Time buckets on the
#: log scale (chapter 4's recommendation) for every model, so data sets are shared.
MODEL = {
    "wdl": {"model": "wdl", "time_scheme": "log"},
    "din": {"model": "din", "time_scheme": "log"},
    "bst": {"model": "bst", "blocks": 1, "heads": 4, "position": "both", "time_scheme": "log",
            "norm": "layer"},
}

#: Full-size data sets: the canonical synthetic task, its time variant, MovieLens-100K at L = 20.
#: On the synthetic tasks some seeds sit on the starting plateau (validation AUC near 0.5) for a
#: few epochs before they learn; at least 10 epochs keeps early stopping from ending them there.
DATA = {"synthetic": {"data": "synthetic", "max_len": 20, "min_epochs": 10},
        "synthetic-time": {"data": "synthetic-time", "max_len": 20, "min_epochs": 10},
        "ml-100k": {"data": "ml-100k", "max_len": 20},
        # The same logs with every rating a positive and one sampled negative per event (the
        # DIN paper's and BARS's protocol), negatives drawn uniformly or by popularity.
        "ml-100k-next-uniform": {"data": "ml-100k", "max_len": 20, "protocol": "next-item",
                                 "negatives": 1, "negative_sampling": "uniform"},
        "ml-100k-next-popularity": {"data": "ml-100k", "max_len": 20, "protocol": "next-item",
                                    "negatives": 1, "negative_sampling": "popularity"}}

#: The paper's Table 3 settings where this package has them (one epoch there; early stopping here).
PAPER = {"heads": 8, "dropout": 0.2, "hidden": (1024, 512, 256), "optimizer": "adagrad",
         "lr": 0.01, "position": "time", "time_scheme": "log", "batch_size": 256}


def variant(model: str, **options) -> dict:
    """A model's book settings with ``options`` changed: ``variant("bst", blocks=2)``."""
    return {**MODEL[model], **options}


@dataclass(frozen=True)
class Experiment:
    name: str
    chapter: str  # where the book reports it
    question: str
    data: tuple[str, ...]  # keys of DATA
    variants: dict  # variant name -> options (see `variant`)
    seeds: tuple[int, ...] = SEEDS
    train: dict = field(default_factory=lambda: dict(TRAIN))


EXPERIMENTS = [
    Experiment(
        "positions", "04_time_positions",
        "Which positions does BST need: none, index, time (calendar or log buckets), or both? "
        "And DIN, with and without time features?",
        ("synthetic", "synthetic-time", "ml-100k"),
        {"bst-none": variant("bst", position="none"),
         "bst-index": variant("bst", position="index"),
         "bst-time-calendar": variant("bst", position="time", time_scheme="calendar"),
         "bst-time-log": variant("bst", position="time"),
         "bst-both": variant("bst"),
         "din": variant("din"),
         "din-time": variant("din", din_time=True)}),
    Experiment(
        "norms", "05_batchnorm_layernorm", "LayerNorm, BatchNorm or no norm in BST's blocks?",
        ("synthetic",),
        {"layer": variant("bst"), "batch": variant("bst", norm="batch"),
         "none": variant("bst", norm="none")}),
    Experiment(
        "depth", "07_how_deep", "One, two or three encoder blocks (the paper: one is best)?",
        ("synthetic",),
        {"blocks-1": variant("bst"), "blocks-2": variant("bst", blocks=2),
         "blocks-3": variant("bst", blocks=3)}),
    Experiment(
        "movielens", "08_movielens",
        "WDL, DIN and BST on MovieLens-100K; test_auc_shuffled is the shuffle test.",
        ("ml-100k",),
        {"wdl": variant("wdl"), "din": variant("din"), "bst": variant("bst")}),
    Experiment(
        "paper-settings", "08_movielens",
        "BST with the paper's Table 3 settings next to the book's.",
        ("synthetic", "ml-100k"),
        {"book": variant("bst"), "paper": variant("bst", **PAPER)}),
    Experiment(
        "next-item", "08_movielens",
        "WDL, DIN and BST on MovieLens-100K under the next-item protocol (sampled negatives, "
        "uniform or by popularity): AUC, gAUC and the shuffle test.",
        ("ml-100k-next-uniform", "ml-100k-next-popularity"),
        {"wdl": variant("wdl"), "din": variant("din"), "bst": variant("bst")}),
]


def experiment(name: str) -> Experiment:
    for e in EXPERIMENTS:
        if e.name == name:
            return e
    raise ValueError(f"unknown experiment {name!r}: choose one of {[e.name for e in EXPERIMENTS]}")


def train_args(options: dict) -> list[str]:
    """Options -> arguments of ``python -m bst_teach train``, in OPTION_ORDER."""
    unknown = set(options) - set(OPTION_ORDER)
    if unknown:
        raise ValueError(f"unknown training options {sorted(unknown)}")
    args = []
    for key in OPTION_ORDER:
        value = options.get(key)
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif isinstance(value, (tuple, list)):
            args += [flag, *map(str, value)]
        else:
            args += [flag, str(value)]
    return args


@dataclass(frozen=True)
class Run:
    """One (experiment, data set, variant, seed): one command, one record."""

    experiment: str
    data: str
    variant: str
    seed: int
    args: tuple[str, ...]  # `train` arguments without seed / threads / json

    @property
    def argv(self) -> list[str]:
        return ["-m", "bst_teach", "train", *self.args, "--seed", str(self.seed),
                "--threads", "1", "--json"]

    @property
    def command(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in ENV.items())
        return f"{env} python {shlex.join(self.argv)}"

    @property
    def path(self) -> Path:
        return results_dir() / self.experiment / self.data / self.variant / f"seed{self.seed}.json"


def runs(names=None, seeds=None) -> list[Run]:
    """Every declared run (of the experiments ``names``, default all; of ``seeds``, default all),
    experiment after experiment."""
    chosen = [experiment(n) for n in names] if names else EXPERIMENTS
    return [Run(e.name, d, v, s, tuple(train_args({**DATA[d], **e.train, **opts})))
            for e in chosen for d in e.data for v, opts in e.variants.items() for s in e.seeds
            if seeds is None or s in seeds]


def _parse(run: Run):
    """The run's arguments as the command line reads them (argparse Namespace)."""
    from .__main__ import _parser
    return _parser().parse_args(["train", *run.args])


# ---------------------------------------------------------------------------------------------
# Freshness: a record is fresh if it was made by the declared command, from the same data and by
# the same training code.
# ---------------------------------------------------------------------------------------------
class Fingerprints:
    """Data fingerprints of the runs' data sets, each data set built once."""

    def __init__(self):
        self._cache = {}

    def __call__(self, run: Run) -> str:
        from .data import load_dataset
        from .experiments import data_fingerprint

        a = _parse(run)
        key = (a.data, a.max_len, a.data_seed, a.time_scheme, a.data_dir, a.protocol, a.negatives,
               a.negative_sampling)
        if key not in self._cache:
            data = load_dataset(a.data, max_len=a.max_len, seed=a.data_seed, data_dir=a.data_dir,
                                time_scheme=a.time_scheme, protocol=a.protocol,
                                negatives=a.negatives, negative_sampling=a.negative_sampling)
            self._cache[key] = data_fingerprint(data)
        return self._cache[key]


def read_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def staleness(run: Run, record: dict | None, code: str, fingerprint: str) -> str | None:
    """Why ``record`` does not stand for ``run`` (None: it does)."""
    if record is None:
        return "missing"
    if record.get("command") != run.command:
        return "declared differently"
    if record.get("code_hash") != code:
        return "training code changed"
    if record.get("data_fingerprint") != fingerprint:
        return "data changed"
    return None


def stale_runs(todo: list[Run], fingerprints: Fingerprints | None = None) -> list[tuple[Run, str]]:
    """(run, reason) for every run of ``todo`` whose record is missing or stale."""
    fingerprints = fingerprints or Fingerprints()
    code = code_hash()
    out = []
    for run in todo:
        reason = staleness(run, read_record(run.path), code, fingerprints(run))
        if reason:
            out.append((run, reason))
    return out


def orphans(declared: list[Run]) -> list[Path]:
    """Record files under results/ that no declared run writes."""
    paths = {r.path for r in declared}
    root = results_dir()
    return sorted(p for p in root.glob("*/*/*/seed*.json") if p not in paths) if root.exists() else []


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------
def _rounded(value, digits=6):
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: _rounded(v, 2 if k == "train_seconds" else digits) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v, digits) for v in value]
    return value


FIRST_KEYS = ("experiment", "data", "variant", "seed", "test_auc", "test_logloss", "test_gauc",
              "test_gauc_users", "val_auc",
              "test_auc_shuffled", "best_epoch", "epochs", "train_seconds", "command", "rerun",
              "code_hash", "data_fingerprint", "date", "torch", "threads")


def make_record(run: Run, report: dict) -> dict:
    """A run's record: its ``train --json`` report with the experiment's names, the command and
    the date, floats rounded to 6 decimals (seconds to 2)."""
    record = {**report, "experiment": run.experiment, "data": run.data, "variant": run.variant,
              "seed": run.seed, "command": run.command, "rerun": RERUN,
              "data_source": report.get("data"),
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    ordered = {k: record[k] for k in FIRST_KEYS if k in record}
    ordered.update({k: v for k, v in record.items() if k not in ordered})
    return _rounded(ordered)


def write_record(path: Path, record: dict) -> None:
    """Write atomically: a reader (or a killed run) sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path)


def copy_record(record: dict, run: Run) -> dict:
    return {**record, "experiment": run.experiment, "data": run.data, "variant": run.variant}


def execute(run: Run, cwd: Path | None = None) -> dict:
    """Run one command and return its record (raises RuntimeError with the stderr's last line)."""
    env = {**os.environ, **ENV}
    proc = subprocess.run([sys.executable, *run.argv], capture_output=True, text=True, env=env,
                          cwd=cwd or PACKAGE_DIR.parent)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"{run.command} failed (exit {proc.returncode}): {last}")
    return make_record(run, json.loads(proc.stdout))


# ---------------------------------------------------------------------------------------------
# Time estimates: seconds of one run (one thread, two runs at once) on the idle 2-core development
# machine with the training code of 2026-11-29..12-02, before the training-step speed-up (the
# README's table: early stopping ends most runs well before 20 epochs); a stale record's own
# train_seconds is used instead where there is one.
# ---------------------------------------------------------------------------------------------
SECONDS = {("synthetic", "wdl"): 3, ("synthetic", "din"): 17, ("ml-100k", "wdl"): 5,
           ("ml-100k", "din"): 15}
BST_SECONDS = {"synthetic": {1: 28, 2: 74, 3: 81}, "ml-100k": {1: 17, 2: 53, 3: 87}}
PAPER_FACTOR = 1.5  # the paper's MLP 1024-512-256 (measured with Adam)
STARTUP_SECONDS = 5  # interpreter, torch import, data set
SAMPLING_SECONDS = 10  # building ml-100k with one sampled negative per event (more features)


#: The runner's progress bar: estimated seconds done of the total.  (No format specs on n or total:
#: tqdm sets total to None once n passes it, and "{total:.0f}" then raises.)
PROGRESS_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} est. s [{elapsed}<{remaining}]{postfix}"


def estimate_seconds(run: Run) -> float:
    old = read_record(run.path)
    if old and "train_seconds" in old:
        return old["train_seconds"] + STARTUP_SECONDS
    a = _parse(run)
    family = "ml-100k" if a.data == "ml-100k" else "synthetic"
    if a.model == "bst":
        seconds = BST_SECONDS[family][min(a.blocks, 3)]
        if a.hidden and a.hidden[0] >= 1024:
            seconds *= PAPER_FACTOR
    else:
        seconds = SECONDS[(family, a.model)]
    if a.protocol == "next-item" or a.negatives:  # (1 + k) samples per event, slower to build
        k = a.negatives or 1
        seconds = seconds * (1 + k) + SAMPLING_SECONDS * k
    return seconds + STARTUP_SECONDS


# ---------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------
def run_all(names=None, jobs: int = 2, progress: bool = True, log=print, seeds=None) -> int:
    """Make every missing or stale record of the experiments ``names`` (default all; only the
    ``seeds`` given, default all).

    Returns the number of runs that failed.  Identical commands run once; finished records are
    written as each run ends, so stopping and running again resumes.
    """
    from tqdm.auto import tqdm

    declared = runs(names, seeds)
    code, fingerprints = code_hash(), Fingerprints()
    todo = stale_runs(declared, fingerprints)
    by_command: dict[str, list[Run]] = {}
    for run, _ in todo:
        by_command.setdefault(run.command, []).append(run)
    # A command already recorded fresh elsewhere (another experiment) is copied, not run again.
    fresh = {r.command: r for r in runs() if r.path.exists()}
    copied = 0
    for command in list(by_command):
        source = fresh.get(command)
        record = read_record(source.path) if source else None
        if source and staleness(source, record, code, fingerprints(source)) is None:
            for run in by_command.pop(command):
                write_record(run.path, copy_record(record, run))
                copied += 1
    groups = list(by_command.values())
    estimates = [round(estimate_seconds(g[0])) for g in groups]  # whole seconds: n never passes total
    total = sum(estimates)
    log(f"{len(declared)} declared runs: {len(declared) - len(todo)} fresh, {copied} copied, "
        f"{len(groups)} to run ({jobs} at once, 1 thread each); estimated wall time "
        f"{total / jobs / 60:.0f} min (per-run times of the idle 2-core development machine "
        f"with the training code of 2026-12-02; a busy machine takes longer)")
    if not groups:
        return 0
    bar = tqdm(total=round(total), unit="s", disable=not progress, desc="results",
               bar_format=PROGRESS_FORMAT)
    with ThreadPoolExecutor(jobs) as pool:
        futures = {pool.submit(execute, g[0]): (g, est) for g, est in zip(groups, estimates)}
        try:
            failed = _collect(futures, bar)
        except KeyboardInterrupt:  # Ctrl-C also stops the running commands; start no others
            for future in futures:
                future.cancel()
            raise
    bar.close()
    return failed


def _collect(futures: dict, bar) -> int:
    """Write each finished run's records (and copies) as it ends; return how many failed."""
    from tqdm.auto import tqdm

    done = failed = 0
    for future in as_completed(futures):
        group, est = futures[future]
        done += 1
        try:
            record = future.result()
        except (RuntimeError, ValueError) as err:
            failed += 1
            tqdm.write(f"FAILED {group[0].experiment}/{group[0].data}/{group[0].variant} "
                       f"seed {group[0].seed}: {err}")
        else:
            for run in group:
                write_record(run.path, copy_record(record, run))
            tqdm.write(f"{group[0].experiment}/{group[0].data}/{group[0].variant} seed "
                       f"{group[0].seed}: test AUC {record['test_auc']:.4f}, "
                       f"{record['epochs']} epochs, {record['train_seconds']:.0f} s"
                       + (f" (also {len(group) - 1} copies)" if len(group) > 1 else ""))
        bar.update(est)
        bar.set_postfix_str(f"{done}/{len(futures)} runs, {failed} failed")
    return failed


def check(names=None, log=print) -> int:
    """Print every missing or stale record and return 1 if there is any (0 if all are fresh)."""
    start = time.perf_counter()
    declared = runs(names)
    try:
        stale = stale_runs(declared)
    except (ValueError, OSError) as err:  # e.g. MovieLens-100K not found: nothing can be verified
        log(f"results check: cannot build the data sets to verify the records: {err}")
        return 1
    extra = [] if names else orphans(declared)
    for run, reason in stale:
        log(f"{reason}: {run.path.relative_to(results_dir())}")
    for path in extra:
        log(f"not declared (delete it): {path}")
    if stale or extra:
        bad = sorted({run.experiment for run, _ in stale}, key=[e.name for e in EXPERIMENTS].index)
        log(f"results check: {len(stale)} of {len(declared)} records missing or stale"
            + (f", {len(extra)} undeclared" if extra else "")
            + (f"; remake them with: make results ONLY=\"{' '.join(bad)}\"" if bad else ""))
        return 1
    log(f"results check: all {len(declared)} records fresh "
        f"({time.perf_counter() - start:.1f} s)")
    return 0


# ---------------------------------------------------------------------------------------------
# Statistics (scipy): what the chapters call.
# ---------------------------------------------------------------------------------------------
def t_interval(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi): the mean and its Student-t confidence interval (nan bounds below 2 values)."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    mean = float(x.mean()) if len(x) else float("nan")
    if len(x) < 2:
        return mean, float("nan"), float("nan")
    sem = stats.sem(x)
    if sem == 0:
        return mean, mean, mean
    lo, hi = stats.t.interval(confidence, len(x) - 1, loc=mean, scale=sem)
    return mean, float(lo), float(hi)


def load_records(name: str) -> pd.DataFrame:
    """One row per existing record of experiment ``name``, in declared order (history is a
    column of lists)."""
    rows = [rec for run in runs([name]) if (rec := read_record(run.path)) is not None]
    return pd.DataFrame(rows)


def summary(name: str, metric: str = "test_auc", confidence: float = 0.95) -> pd.DataFrame:
    """Per data set and variant: n seeds, mean of ``metric`` with its t-interval (lo, hi), the share
    of runs whose best epoch came before the last (converged), and the mean number of epochs."""
    e = experiment(name)
    df = load_records(name)
    rows = []
    for data in e.data:
        for v in e.variants:
            sel = df[(df["data"] == data) & (df["variant"] == v)] if len(df) else df
            mean, lo, hi = t_interval(sel[metric] if len(sel) else [], confidence)
            rows.append({"data": data, "variant": v, "n": len(sel), "mean": mean, "lo": lo,
                         "hi": hi,
                         "best_before_last": float((sel["best_epoch"] < sel["epochs"]).mean())
                         if len(sel) else float("nan"),
                         "epochs": float(sel["epochs"].mean()) if len(sel) else float("nan")})
    return pd.DataFrame(rows)


def paired_difference(name: str, a: str, b: str, data: str, metric: str = "test_auc",
                      confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi) of ``metric(a) - metric(b)`` over the seeds both variants have: "a beats b"
    only where lo > 0."""
    df = load_records(name)
    df = df[df["data"] == data]
    pa = df[df["variant"] == a].set_index("seed")[metric]
    pb = df[df["variant"] == b].set_index("seed")[metric]
    seeds = pa.index.intersection(pb.index)
    return t_interval(pa[seeds] - pb[seeds], confidence)


def convergence(names=None) -> tuple[int, int]:
    """(runs whose best epoch came before the last, runs) over the existing records."""
    recs = [rec for run in runs(names) if (rec := read_record(run.path)) is not None]
    return sum(r["best_epoch"] < r["epochs"] for r in recs), len(recs)


def table(name: str) -> str:
    """An experiment's summary as a markdown table."""
    s = summary(name)
    lines = [f"{experiment(name).question}", "",
             "| data | variant | n | test AUC | 95% interval | best before last | epochs |",
             "|---|---|---|---|---|---|---|"]
    for r in s.itertuples():
        lines.append(f"| {r.data} | {r.variant} | {r.n} | {r.mean:.4f} | [{r.lo:.4f}, {r.hi:.4f}] "
                     f"| {r.best_before_last:.0%} | {r.epochs:.1f} |")
    return "\n".join(lines)


def main(args) -> int:
    """``python -m bst_teach results ...`` (arguments parsed in ``bst_teach.__main__``)."""
    names = args.only or args.names or None
    if names:
        for n in names:
            experiment(n)  # unknown names: a one-line error
    if args.action == "run":
        return 1 if run_all(names, jobs=args.jobs, seeds=args.seeds) else 0
    if args.action == "check":
        return check(names)
    if args.action == "list":
        for e in EXPERIMENTS if not names else map(experiment, names):
            n = sum(1 for _ in runs([e.name]))
            print(f"{e.name} ({e.chapter}): {n} runs, data {', '.join(e.data)}; variants "
                  f"{', '.join(e.variants)}; seeds {', '.join(map(str, e.seeds))}")
        return 0
    if not args.names:
        raise ValueError("results table needs an experiment name, e.g. results table positions")
    for n in args.names:
        print(table(n))
        print()
    return 0
