"""Your own interaction logs, from CSV files, as :class:`~bst_teach.data.samples.Interactions`.

Three files, each with a header line (UTF-8, comma-separated):

``interactions`` (required), one row per event::

    user_id,item_id,timestamp,label        or    user_id,item_id,timestamp,rating
    u1,i7,1700000000,1                            u1,i7,1700000000,4.5

* ``timestamp``: seconds since 1970-01-01 (a non-negative number before the year 3000, so a
  log in milliseconds is refused rather than read as the year 55,000; fractions are dropped,
  whole seconds are read exactly);
* ``label``: 1 for a click / positive, 0 otherwise; or
* ``rating``: any number, turned into ``label = rating >= positive_threshold`` (you must pass
  ``positive_threshold``; ``label`` is then not needed).

``items`` (optional): ``item_id,category`` plus any other columns, which become extra item
features.  A ``|``-separated category list (``Action|Comedy``) keeps its first entry.  Items the
interactions mention but the file lacks, or every item when there is no items file, get the
category ``"unknown"``.

``users`` (optional): ``user_id`` plus categorical profile columns.  The first profile column is
the one :func:`build_dataset` crosses with the category, so put e.g. ``gender`` first.

Ids are kept as strings, exactly as written (surrounding spaces removed).  Extra columns in the
interactions file are ignored; empty values in extra item / user columns become ``"unknown"``.

Any problem raises a :class:`DataError` naming the file (as you passed it), the line (the header
is line 1), the column and the value, for the first bad line in the file::

    interactions.csv, line 7, column 'timestamp': 'abc' is not a number

Line numbers assume one record per line (no line breaks inside quoted values).  Blank lines are
skipped.
"""
from __future__ import annotations

import contextlib
import csv as _csv
import itertools
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .samples import Interactions

UNKNOWN = "unknown"
_EMPTY = "empty value"  # marker problem: turned into a field-count message when the line is short


@dataclass
class _Table:
    """A CSV file read as stripped strings: ``data`` has the header's names as columns and
    ``lines[i]`` is the 1-based line number of row ``i``."""

    path: Path
    file: str
    header: list[str]
    data: pd.DataFrame
    lines: np.ndarray

    def require(self, columns, hints: dict[str, str] | None = None) -> None:
        """Raise unless every column is in the header; ``hints`` add a note per missing column."""
        missing = [c for c in columns if c not in self.header]
        if missing:
            named = ", ".join(repr(c) + (hints or {}).get(c, "") for c in missing)
            raise DataError(f"missing column(s) {named}; the header has "
                            f"{', '.join(map(repr, self.header))}", file=self.file)


class _Ragged(Exception):
    """A line with more fields than the header (pandas stops reading there)."""

    def __init__(self, line: int, expected: int, found: int):
        self.line, self.expected, self.found = line, expected, found


_READ = dict(header=None, dtype=str, keep_default_na=False, index_col=False,
             skip_blank_lines=False, encoding="utf-8-sig")  # every value as written


def _check_path(path: Path, file: str) -> None:
    if path.is_dir():
        raise DataError("is a folder, not a CSV file", file=file)
    if not path.exists():
        raise DataError("file not found", file=file)


@contextlib.contextmanager
def _reading_errors(file: str):
    """Turn pandas' and the OS's reading errors into :class:`DataError` (or :class:`_Ragged`)."""
    try:
        yield
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty: it needs a header line naming its columns",
                        file=file) from None
    except pd.errors.ParserError as e:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
        if m:
            raise _Ragged(int(m[2]), int(m[1]), int(m[3])) from None
        m = re.search(r"EOF inside string starting at row (\d+)", str(e))
        if m:  # pandas counts rows from 0
            raise DataError("a quoted value is never closed", file=file,
                            line=int(m[1]) + 1) from None
        raise DataError(f"not a valid CSV file ({e})", file=file) from None
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text ({e})", file=file) from None
    except OSError as e:
        raise DataError(f"cannot be read ({e.strerror or e})", file=file) from None


def _header(raw: pd.DataFrame, file: str) -> list[str]:
    header = raw.iloc[0].str.strip().tolist()
    for j, name in enumerate(header):
        if name == "":
            raise DataError(f"column {j + 1} of the header has no name", file=file, line=1)
        if name in header[:j]:
            raise DataError(f"column {name!r} appears twice in the header", file=file, line=1)
    return header


def _table(path: Path, file: str, header: list[str], rows: pd.DataFrame, first_line: int) -> _Table:
    """The rows (header excluded) read from ``first_line`` on, stripped, blank lines dropped."""
    data = rows.apply(lambda col: col.str.strip()).set_axis(header, axis=1)  # '' if missing
    lines = np.arange(first_line, first_line + len(rows))
    filled = (data != "").any(axis=1).to_numpy()
    return _Table(path, file, header, data[filled].reset_index(drop=True), lines[filled])


def _read_strings(path, nrows: int | None = None) -> _Table:
    """Read ``path`` (its first ``nrows`` lines if given) without interpreting any value."""
    file, path = str(path), Path(path)
    _check_path(path, file)
    with _reading_errors(file):
        raw = pd.read_csv(path, nrows=nrows, **_READ)
    return _table(path, file, _header(raw, file), raw.iloc[1:], 2)


def read_chunks(path, chunk_rows: int = 200_000):
    """Yield the file as :class:`_Table` chunks of about ``chunk_rows`` lines, with their true
    line numbers, holding one chunk in memory at a time (:mod:`bst_teach.data.stream`).

    A line with more fields than the header: the lines before it are yielded first (so a bad
    value there is reported first, as :func:`load_csv` does), then :class:`DataError`."""
    file, path = str(path), Path(path)
    _check_path(path, file)
    header, first = None, 1  # `first`: the first line not yielded yet
    try:
        with _reading_errors(file):
            for raw in pd.read_csv(path, chunksize=chunk_rows, **_READ):
                if header is None:
                    header, raw, first = _header(raw, file), raw.iloc[1:], 2
                yield _table(path, file, header, raw, first)
                first += len(raw)
    except _Ragged as r:
        with _reading_errors(file):
            if header is None:
                header, first = _header(pd.read_csv(path, nrows=1, **_READ), file), 2
            rows = pd.read_csv(path, skiprows=range(1, first - 1), nrows=r.line - first + 1,
                               **_READ).iloc[1:]
        yield _table(path, file, header, rows, first)
        raise DataError(f"expected {r.expected} fields like the header, found {r.found}",
                        file=file, line=r.line) from None
    if header is None:
        raise DataError("the file is empty: it needs a header line naming its columns", file=file)


def _fields_on_line(path: Path, line: int) -> int:
    with open(path, encoding="utf-8-sig", newline="") as f:
        text = next(itertools.islice(f, line - 1, None), "")
    return len(next(_csv.reader([text]), []))


class _FirstProblem:
    """Collects row checks and raises the problem on the earliest line (leftmost column on ties)."""

    def __init__(self, table: _Table):
        self.t = table
        self.best = None  # ((line, column position), column, value or None, problem)

    def flag(self, bad, column: str, problem: str, show_value: bool = True) -> None:
        bad = np.asarray(bad, dtype=bool)
        if bad.any():
            i = int(bad.argmax())
            key = (int(self.t.lines[i]), self.t.header.index(column))
            if self.best is None or key < self.best[0]:
                value = self.t.data[column].iat[i] if show_value else None
                self.best = (key, column, value, problem)

    def empty(self, columns) -> None:
        for col in columns:
            self.flag(self.t.data[col] == "", col, _EMPTY, show_value=False)

    def raise_first(self) -> None:
        if self.best is None:
            return
        (line, _), column, value, problem = self.best
        where = dict(file=self.t.file, line=line)
        if problem == _EMPTY:
            found, expected = _fields_on_line(self.t.path, line), len(self.t.header)
            if found < expected:
                raise DataError(f"expected {expected} fields like the header, found {found}",
                                **where)
            raise DataError(_EMPTY, column=column, **where)
        raise DataError(problem, column=column, value=value, **where)


def _parse(path, parse_rows):
    """``parse_rows(table)`` on the file; a too-long line is reported only when no earlier line
    is bad."""
    try:
        return parse_rows(_read_strings(path))
    except _Ragged as r:
        parse_rows(_read_strings(path, nrows=r.line - 1))  # raises if an earlier line is bad
        raise DataError(f"expected {r.expected} fields like the header, found {r.found}",
                        file=str(path), line=r.line) from None


def _numbers(values: pd.Series) -> np.ndarray:
    """Float values, NaN where the text is not a finite number."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    return np.where(np.isfinite(x), x, np.nan)


#: 3000-01-01 in seconds.  Anything later is taken for a mistake in units (milliseconds or
#: microseconds read as seconds), not a date.
LATEST_TIMESTAMP = 32_503_680_000
_PLAIN_NUMBER = re.compile(r"^\+?(\d+)(\.\d*)?$")


def _whole_seconds(values: pd.Series, ts: np.ndarray) -> np.ndarray:
    """Whole seconds of each timestamp, exact for plain decimal text (no float rounding of the
    integer part); other finite numbers (``1.7e9``) go through float64.  Bad values give 0 (they
    were flagged already)."""
    out = np.floor(np.where(np.isfinite(ts), ts, 0)).astype(np.int64)
    whole = values.str.extract(_PLAIN_NUMBER, expand=False)[0]
    plain = whole.notna().to_numpy()
    if plain.any():
        out[plain] = [int(w) for w in whole[plain]]
    return out


def _events(t: _Table, positive_threshold) -> pd.DataFrame:
    if positive_threshold is None:
        if "label" not in t.header and "rating" in t.header:
            raise DataError("has a 'rating' column but no 'label': pass positive_threshold "
                            "(--positive-threshold on the command line) to turn ratings into "
                            "labels, label = rating >= threshold", file=t.file)
        target, hint = "label", " (or 'rating' with positive_threshold)"
        if "label" not in t.header:  # a log of positives only (implicit feedback)
            target = None
    else:
        target, hint = "rating", " (positive_threshold was given)"
    required = ["user_id", "item_id", "timestamp"] + ([target] if target else [])
    t.require(required, {target: hint} if target else {})

    d, check = t.data, _FirstProblem(t)
    check.empty(required)
    ts = _numbers(d["timestamp"])
    y = _numbers(d[target]) if target else np.ones(len(d))
    filled_ts = (d["timestamp"] != "").to_numpy()
    filled_y = (d[target] != "").to_numpy() if target else np.ones(len(d), dtype=bool)
    check.flag(filled_ts & np.isnan(ts), "timestamp", "is not a number")
    check.flag(ts < 0, "timestamp", "is negative: timestamps are seconds since 1970-01-01")
    check.flag(ts >= LATEST_TIMESTAMP, "timestamp",
               "is after the year 3000: timestamps are seconds since 1970-01-01 "
               "(milliseconds? divide by 1000)")
    if target == "label":
        check.flag(filled_y & ~np.isin(y, (0, 1)), "label", "is not 0 or 1")
    else:
        check.flag(filled_y & np.isnan(y), "rating", "is not a number")
    check.raise_first()

    events = pd.DataFrame({
        "user_id": d["user_id"].to_numpy(),
        "item_id": d["item_id"].to_numpy(),
        "timestamp": _whole_seconds(d["timestamp"], ts),
    })
    if target != "rating":  # a label column, or none: every row a positive
        events["label"] = y.astype(np.int64)
    else:
        events["rating"] = y
        events["label"] = (y >= float(positive_threshold)).astype(np.int64)
    return events


def _profile(t: _Table, key: str, required: list[str]) -> tuple[pd.DataFrame, _FirstProblem]:
    """Checks shared by the items and users files: required columns, no empty or repeated key."""
    t.require(required)
    d, check = t.data, _FirstProblem(t)
    check.empty(required)
    repeated = d[key].duplicated(keep="first").to_numpy() & (d[key] != "").to_numpy()
    if repeated.any():
        i = int(repeated.argmax())
        first = int(t.lines[int((d[key] == d[key].iat[i]).to_numpy().argmax())])
        check.flag(np.arange(len(d)) == i, key, f"appears again (first on line {first})")
    out = d.replace("", UNKNOWN)  # empty optional values; empty required ones were flagged
    return out, check


def _items(t: _Table) -> pd.DataFrame:
    out, check = _profile(t, "item_id", ["item_id", "category"])
    first = t.data["category"].str.split("|").str[0].str.strip()
    check.flag((first == "") & (t.data["category"] != ""), "category",
               "starts with an empty category")
    check.raise_first()
    out["category"] = first
    return out[["item_id", "category"] + [c for c in t.header if c not in ("item_id", "category")]]


def _users(t: _Table) -> pd.DataFrame:
    out, check = _profile(t, "user_id", ["user_id"])
    check.raise_first()
    return out[["user_id"] + [c for c in t.header if c != "user_id"]]


def load_csv(interactions, items=None, users=None, positive_threshold=None,
             name: str | None = None) -> Interactions:
    """Load interaction logs (and optional item / user tables) from CSV files.

    See the module docstring for the expected columns.  ``name`` defaults to the interactions
    file's stem.  Either returns a complete :class:`Interactions` or raises :class:`DataError`.
    """
    events = _parse(interactions, partial(_events, positive_threshold=positive_threshold))
    if len(events) == 0:
        raise DataError("has a header but no events", file=str(interactions))

    used = pd.unique(events["item_id"])
    if items is None:
        item_table = pd.DataFrame({"item_id": used, "category": UNKNOWN})
    else:
        item_table = _parse(items, _items)
        absent = used[~pd.Index(used).isin(item_table["item_id"])]  # hashed, not O(n m)
        if len(absent):
            extra = pd.DataFrame({c: UNKNOWN for c in item_table.columns},
                                 index=range(len(absent)))
            extra["item_id"] = absent
            item_table = pd.concat([item_table, extra], ignore_index=True)

    user_table = _parse(users, _users) if users is not None else None
    return Interactions(name=name or Path(interactions).stem, events=events, items=item_table,
                        users=user_table, source=str(interactions))
