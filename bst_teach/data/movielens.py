"""MovieLens 100K, 1M and 20M: download, verify and load as
:class:`~bst_teach.data.samples.Interactions`.

MovieLens 1M and 20M (:func:`load_movielens_large`) are read straight from their official zip
archives, each verified against the md5 GroupLens publishes (:data:`RELEASES`); the rest of this
docstring is about 100K, whose files are unpacked and verified one by one.

MovieLens 100K (GroupLens, 1998) holds 100,000 ratings (1-5 stars) of 1,682 movies by 943 users,
with a few profile fields per user and genres per movie.  We read a rating as a *behaviour* and
call it positive when it is at least ``positive_threshold`` stars (4 by default).

Where the files live
--------------------
:func:`default_data_dir` answers, in this order:

1. the folder named by the environment variable ``BST_TEACH_ML100K``, if it is set, e.g.
   ``export BST_TEACH_ML100K=/data/ml-100k`` (a folder holding ``u.data``, ``u.item``, ...);
2. otherwise ``data/ml-100k`` at the root of this repository.

:func:`load_movielens` never touches the network unless you pass ``download=True``; then it
calls :func:`download_movielens`, which fetches the official zip, checks every file's md5 against
:data:`ML100K_MD5` and only then moves the folder into place, so a failed or interrupted
download leaves nothing behind.  Every load checks the md5 of the files it parses (a few
milliseconds; computed once per process per file, see :func:`_md5`), so a damaged or edited copy
is refused instead of silently giving other numbers.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import os
import re
import shutil
import tempfile
import time
import urllib.request
import zipfile
import zlib
from csv import QUOTE_NONE  # the standard library's csv module (absolute import)
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .errors import DataError
from .samples import Interactions

ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"

#: md5 checksums of the files of the official archive that we use (folder ``ml-100k/`` in the zip).
ML100K_MD5 = {
    "README": "364aae5a5037ed015864d55c04f1f476",
    "u.data": "6e47046882bad158b0efbb84cd5cb987",
    "u.genre": "a7578bdb37758741ae9429d2c736af18",
    "u.info": "6cae0afd8c0341aff31b631a192e57e6",
    "u.item": "c9e7f390115d79079537301d5204f3f7",
    "u.occupation": "035abaa2165f35cebce4b91e03481e0a",
    "u.user": "1b53539edc13caad0282c8500608a319",
}

ENV_VAR = "BST_TEACH_ML100K"
NEEDED = ("u.data", "u.item", "u.user", "u.genre")  # the files load_movielens parses

# Age buckets of MovieLens 1M (lower edges), used here for the raw ages of MovieLens 100K.
AGE_EDGES = (0, 18, 25, 35, 45, 50, 56)
AGE_LABELS = ("<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")


def default_data_dir() -> Path:
    """``$BST_TEACH_ML100K`` if set, else ``<repo>/data/ml-100k``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "data" / "ml-100k"


# ---------------------------------------------------------------------------------------------
# Download and verification
# ---------------------------------------------------------------------------------------------
_MD5_CACHE: dict[tuple, str] = {}  # (resolved path, size, mtime_ns, inode) -> md5, this process


def _md5(path: Path) -> str:
    """md5 of ``path``, computed once per process per version of the file.

    The fast path: a file whose resolved path, size, modification time and inode are unchanged
    since it was last hashed in this process is not read again.  The full check costs about 10 ms
    for the whole folder (under 2.5 MB), so every new process checks the files completely; no
    stamp is written anywhere (the shared copy may be read-only).
    """
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _MD5_CACHE:
        _MD5_CACHE[key] = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    return _MD5_CACHE[key]


def verify_movielens(data_dir, names=None) -> None:
    """Check that ``data_dir`` holds every file of :data:`ML100K_MD5` (or only ``names``) with
    the right md5.

    Raises :class:`DataError` listing the missing files and those whose checksum differs.
    """
    d = Path(data_dir)
    problems = []
    for name in names or ML100K_MD5:
        expected, path = ML100K_MD5[name], d / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif (actual := _md5(path)) != expected:
            problems.append(f"{name} has md5 {actual}, expected {expected}")
    if problems:
        raise DataError("not an intact copy of MovieLens 100K: " + "; ".join(problems), file=d)


def _clean_stale_parts(dest: Path) -> None:
    """Remove the hidden ``.<dest>.<pid>.*.part`` folders (or files) of downloads that were killed: their
    process is gone (or, for names without a process id, they are over an hour old)."""
    for part in dest.parent.glob(f".{dest.name}.*.part"):
        m = re.match(rf"^\.{re.escape(dest.name)}\.(\d+)\.", part.name)
        if m:
            try:
                os.kill(int(m[1]), 0)
                continue  # that download is still running
            except ProcessLookupError:
                pass
            except (PermissionError, OverflowError, ValueError):
                continue  # alive but someone else's, or not a process id
        else:
            try:
                if time.time() - part.stat().st_mtime < 3600:
                    continue
            except OSError:
                continue
        if part.is_dir():
            shutil.rmtree(part, ignore_errors=True)
        else:  # the .part file of an archive download (MovieLens 1M / 20M)
            part.unlink(missing_ok=True)


def _fetch(url: str, path: Path, progress: bool) -> None:
    """Stream ``url`` into ``path``; a short or failed transfer raises :class:`DataError`."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(path, "wb") as out:
            size = response.headers.get("Content-Length")
            total = int(size) if size and size.isdigit() else None
            received = 0
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=path.name, disable=not progress) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except (OSError, http.client.HTTPException) as e:  # URLError and HTTPError are OSErrors
        raise DataError(f"download failed: {e}", file=url) from e
    if total is not None and received != total:
        raise DataError(f"download interrupted: got {received} of {total} bytes", file=url)


def _extract(zip_path: Path, out_dir: Path, url: str) -> None:
    """Copy the ``ml-100k/<name>`` members listed in :data:`ML100K_MD5` into ``out_dir``."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            members = set(zf.namelist())
            missing = [n for n in ML100K_MD5 if f"ml-100k/{n}" not in members]
            if missing:
                listed = ", ".join(f"ml-100k/{n}" for n in missing)
                raise DataError(f"the archive has no {listed}", file=url)
            for name in ML100K_MD5:
                with zf.open(f"ml-100k/{name}") as src, open(out_dir / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise DataError(f"not a valid zip archive ({e})", file=url) from e


def download_movielens(dest_dir=None, url: str = ML100K_URL, progress: bool = True) -> Path:
    """Download MovieLens 100K into ``dest_dir`` (default :func:`default_data_dir`) and return it.

    If ``dest_dir`` already exists it is only verified, every file's md5 (no network).
    Otherwise everything happens in a hidden temporary folder next to ``dest_dir``
    (``.ml-100k.<pid>.<random>.part``): the zip is downloaded there, the files are extracted and
    their md5 checked, and only then is the folder renamed to ``dest_dir`` in one step.  Whatever
    goes wrong (network error, corrupted archive, Ctrl-C), the temporary folder is removed and
    ``dest_dir`` does not exist; the folders of downloads that were killed outright are removed
    by the next call.
    """
    dest = Path(dest_dir) if dest_dir is not None else default_data_dir()
    if dest.exists():
        if not dest.is_dir():
            raise DataError("is a file, not a MovieLens 100K folder", file=dest)
        try:
            verify_movielens(dest)
        except DataError as e:
            raise DataError(f"{e}. Delete the folder and download again.") from e
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _clean_stale_parts(dest)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{os.getpid()}.", suffix=".part",
                                    dir=dest.parent))
    except OSError as e:
        raise DataError(f"cannot create a folder for the download ({e.strerror or e})",
                        file=dest.parent) from None
    try:
        zip_path, staged = tmp / "ml-100k.zip", tmp / "ml-100k"
        staged.mkdir()
        _fetch(url, zip_path, progress)
        _extract(zip_path, staged, url)
        try:
            verify_movielens(staged)
        except DataError as e:
            raise DataError(f"downloaded archive is corrupted: {e.problem}", file=url) from e
        try:
            os.replace(staged, dest)  # atomic: dest appears complete or not at all
        except OSError:
            if not dest.exists():  # someone else may have just put a copy there
                raise
            verify_movielens(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------
def _locate(data_dir, download: bool = False) -> Path:
    """The folder to read from, downloading it first if asked; errors say how to get the data."""
    d = Path(data_dir) if data_dir is not None else default_data_dir()
    if download:  # fetches a missing folder, verifies every file of an existing one
        return download_movielens(d)
    if not d.exists():
        raise DataError(
            f"MovieLens 100K not found in {d}. Pass download=True to fetch it from {ML100K_URL} "
            f"(about 5 MB), or set the environment variable {ENV_VAR} to a folder that holds "
            f"{', '.join(NEEDED)}.")
    if not d.is_dir():
        raise DataError("is a file, not a MovieLens 100K folder", file=d)
    missing = [n for n in NEEDED if not (d / n).is_file()]
    if missing:
        raise DataError(f"MovieLens 100K folder lacks {', '.join(missing)}", file=d)
    try:  # the files we parse, on every load (see _md5 for the fast path)
        verify_movielens(d, NEEDED)
    except DataError as e:
        raise DataError(f"{e.problem}: the files were changed or damaged; download a fresh "
                        f"copy (download=True into an empty folder)", file=d) from None
    return d


def _read(path: Path, sep: str, names: list[str], **kw) -> pd.DataFrame:
    """Read one headerless MovieLens file; any parsing problem becomes a :class:`DataError`."""
    try:
        return pd.read_csv(path, sep=sep, header=None, names=names, quoting=QUOTE_NONE, **kw)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DataError(f"could not parse ({e}); check the folder with verify_movielens()",
                        file=path) from e


def _genres(d: Path) -> list[str]:
    g = _read(d / "u.genre", "|", ["name", "index"], dtype={"name": str, "index": "int64"})
    return g.sort_values("index")["name"].tolist()


def _items_raw(d: Path) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """u.item as strings, its (n_items, 19) genre flag matrix, and the genre names."""
    genres = _genres(d)
    names = ["item_id", "title", "release_date", "video_release_date", "imdb_url"] + genres
    raw = _read(d / "u.item", "|", names, dtype=str, keep_default_na=False, encoding="latin-1")
    try:
        flags = raw[genres].astype("int64").to_numpy()
        raw["item_id"] = raw["item_id"].astype("int64")
    except ValueError as e:
        raise DataError(f"could not parse ({e})", file=d / "u.item") from e
    return raw, flags, genres


def _decade(date: str) -> str:
    """'01-Jan-1995' -> '1990s'; no date -> 'unknown'."""
    m = re.search(r"(\d{4})$", date.strip())
    return f"{int(m.group(1)) // 10 * 10}s" if m else "unknown"


def load_movielens(data_dir=None, download: bool = False,
                   positive_threshold: int = 4) -> Interactions:
    """Load MovieLens 100K from ``data_dir`` (default :func:`default_data_dir`).

    The result holds three tables:

    - ``events``: user_id, item_id, timestamp (int64 seconds), rating (1-5),
      label = rating >= threshold
    - ``items``: item_id, category (the movie's first listed genre, or 'unknown'),
      release_decade
    - ``users``: user_id, gender, age_bucket, occupation, zip_region (first digit of the zip code)

    Gender comes first among the user columns because :func:`build_dataset` crosses the first
    user column with the category, and gender x category is the paper's example cross feature.
    Titles and full genre lists are not features; get them from :func:`movielens_titles`.
    """
    d = _locate(data_dir, download)

    events = _read(d / "u.data", "\t", ["user_id", "item_id", "rating", "timestamp"], dtype="int64")
    events = events[["user_id", "item_id", "timestamp", "rating"]]
    events["label"] = (events["rating"] >= positive_threshold).astype("int64")

    raw, flags, genres = _items_raw(d)
    first = np.asarray(genres, dtype=object)[flags.argmax(axis=1)]
    items = pd.DataFrame({
        "item_id": raw["item_id"],
        "category": np.where(flags.any(axis=1), first, "unknown"),
        "release_decade": raw["release_date"].map(_decade),
    })

    u = _read(d / "u.user", "|", ["user_id", "age", "gender", "occupation", "zip"],
              dtype={"user_id": "int64", "age": "int64", "gender": str, "occupation": str,
                     "zip": str}, keep_default_na=False)
    age = pd.cut(u["age"], bins=[*AGE_EDGES, np.inf], right=False, labels=AGE_LABELS)
    zip_first = u["zip"].str.strip().str[:1]
    users = pd.DataFrame({
        "user_id": u["user_id"],
        "gender": u["gender"],
        "age_bucket": age.astype(str),
        "occupation": u["occupation"],
        "zip_region": zip_first.where(zip_first.str.isdigit(), "other"),
    })
    return Interactions(name="ml-100k", events=events, items=items, users=users, source=str(d))


def movielens_titles(data_dir=None) -> pd.DataFrame:
    """item_id, title and genres ('|'-joined, e.g. 'Animation|Children's|Comedy') of every movie.

    For display only: none of these columns is a model feature.
    """
    raw, flags, genres = _items_raw(_locate(data_dir))
    names = np.asarray(genres, dtype=object)
    joined = ["|".join(names[row.astype(bool)]) for row in flags]
    return pd.DataFrame({"item_id": raw["item_id"], "title": raw["title"], "genres": joined})



# ---------------------------------------------------------------------------------------------
# MovieLens 1M and 20M: the official archives, kept as they are
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Release:
    """One of the larger MovieLens releases: its archive, the archive's md5 (GroupLens publishes
    it next to the archive as ``<name>.zip.md5``) and the folder inside the zip."""

    name: str
    md5: str
    members: tuple[str, ...]  # the files we parse, inside the archive's folder ``name/``

    @property
    def url(self) -> str:
        return f"https://files.grouplens.org/datasets/movielens/{self.name}.zip"

    @property
    def archive(self) -> str:
        return f"{self.name}.zip"


#: The md5 of each archive as GroupLens publishes it (files.grouplens.org/datasets/movielens/
#: ml-1m.zip.md5 and ml-20m.zip.md5).
RELEASES = {
    "ml-1m": Release("ml-1m", "c4d9eecfca2ab87c1945afe126590906",
                     ("ratings.dat", "movies.dat", "users.dat")),
    "ml-20m": Release("ml-20m", "cd245b17a1ae2cc31bb14903e1204af3", ("ratings.csv", "movies.csv")),
}
ARCHIVE_ENV_VAR = "BST_TEACH_MOVIELENS"

# MovieLens 1M's users.dat: age is the lower edge of its bucket, occupation a code.
ML1M_AGES = dict(zip((1, 18, 25, 35, 45, 50, 56), AGE_LABELS))


def default_archive_dir() -> Path:
    """Where ``ml-1m.zip`` and ``ml-20m.zip`` are looked for: ``$BST_TEACH_MOVIELENS`` if set,
    else ``<repo>/data``."""
    env = os.environ.get(ARCHIVE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "data"


def _release(name: str) -> Release:
    if name not in RELEASES:
        raise DataError(f"unknown MovieLens release {name!r}: use {' or '.join(RELEASES)}")
    return RELEASES[name]


def verify_archive(path, name: str) -> None:
    """Raise :class:`DataError` unless ``path`` is the official archive of release ``name``
    (its md5; once per process per version of the file, see :func:`_md5`)."""
    release, p = _release(name), Path(path)
    if not p.is_file():
        raise DataError(f"{'is a folder, not' if p.is_dir() else 'not found: expected'} the "
                        f"archive {release.archive}", file=p)
    if (actual := _md5(p)) != release.md5:
        raise DataError(f"has md5 {actual}, expected {release.md5}: not an intact copy of "
                        f"{release.archive}; delete it and download again", file=p)


def download_movielens_archive(name: str, dest_dir=None, url: str | None = None,
                               progress: bool = True) -> Path:
    """Download the archive of release ``name`` (``"ml-1m"``, about 6 MB, or ``"ml-20m"``, about
    190 MB) into ``dest_dir`` (default :func:`default_archive_dir`); return its path.

    An archive already there is only verified (no network).  Otherwise the download goes to a
    hidden temporary file next to it (``.ml-1m.zip.<pid>.<random>.part``), its md5 is checked,
    and only then is it renamed into place in one step: whatever goes wrong (network error,
    wrong checksum, Ctrl-C), no archive and no temporary file are left behind.
    """
    release = _release(name)
    folder = Path(dest_dir) if dest_dir is not None else default_archive_dir()
    dest = folder / release.archive
    if dest.exists():
        verify_archive(dest, name)
        return dest
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _clean_stale_parts(dest)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.{os.getpid()}.", suffix=".part",
                                   dir=folder)
        os.close(fd)
    except OSError as e:
        raise DataError(f"cannot write the download here ({e.strerror or e})", file=folder) from None
    tmp = Path(tmp)
    try:
        _fetch(url or release.url, tmp, progress)
        if (actual := _md5(tmp)) != release.md5:
            raise DataError(f"downloaded archive is corrupted: md5 {actual}, expected "
                            f"{release.md5}", file=url or release.url)
        os.replace(tmp, dest)  # atomic: the archive appears complete or not at all
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _archive(name: str, data_dir, download: bool) -> Path:
    """The verified archive of ``name`` in ``data_dir``, downloaded first if asked."""
    release = _release(name)
    folder = Path(data_dir) if data_dir is not None else default_archive_dir()
    if folder.suffix == ".zip":  # the archive itself was named
        folder, path = folder.parent, folder
    else:
        path = folder / release.archive
    if download:
        return download_movielens_archive(name, folder)
    if not path.exists():
        raise DataError(
            f"{release.archive} not found in {folder}. Pass download=True to fetch it from "
            f"{release.url}, or set the environment variable {ARCHIVE_ENV_VAR} to the folder "
            f"that holds it (the zip as downloaded; it is read without unpacking).")
    verify_archive(path, name)
    return path


@contextlib.contextmanager
def _member_errors(path: Path, name: str, member: str):
    """Reading problems of ``<name>/<member>`` in the archive, as :class:`DataError`."""
    try:
        yield
    except KeyError:
        raise DataError(f"the archive has no {name}/{member}", file=path) from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise DataError(f"not a valid zip archive ({e})", file=path) from e
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DataError(f"could not parse ({e})", file=f"{path}:{name}/{member}") from e


def _read_member(path: Path, name: str, member: str, **kw) -> pd.DataFrame:
    """Read ``<name>/<member>`` of the archive; '::'-separated ``.dat`` files of MovieLens 1M are
    read as tab-separated (no field holds a tab).  Problems become a :class:`DataError`."""
    with _member_errors(path, name, member), zipfile.ZipFile(path) as zf:
        with zf.open(f"{name}/{member}") as f:
            if member.endswith(".dat"):
                text = io.BytesIO(f.read().replace(b"::", b"\t"))
                return pd.read_csv(text, sep="\t", header=None, quoting=QUOTE_NONE,
                                   encoding="latin-1", **kw)
            return pd.read_csv(f, **kw)


def _member_chunks(path: Path, name: str, member: str, chunk_rows: int, **kw):
    """:func:`_read_member` of a CSV member, ``chunk_rows`` rows at a time, the archive open
    while the chunks are read."""
    with _member_errors(path, name, member), zipfile.ZipFile(path) as zf:
        with zf.open(f"{name}/{member}") as f:
            yield from pd.read_csv(f, chunksize=chunk_rows, **kw)


def _movies(titles: pd.Series, genres: pd.Series) -> pd.DataFrame:
    """item table from titles 'Toy Story (1995)' and genres 'Animation|Children's|Comedy':
    category = the first genre ('unknown' for none), release_decade from the year in the title."""
    first = genres.fillna("").str.split("|").str[0]
    year = titles.fillna("").str.extract(r"\((\d{4})\)\s*$")[0]
    return pd.DataFrame({
        "category": first.where(~first.isin(["", "(no genres listed)"]), "unknown"),
        "release_decade": (year.dropna().astype(int) // 10 * 10).astype(str).add("s")
                          .reindex(year.index).fillna("unknown"),
    })


def load_movielens_large(name: str, data_dir=None, download: bool = False,
                         positive_threshold: float = 4) -> Interactions:
    """Load MovieLens 1M (``name="ml-1m"``: 1,000,209 ratings of 3,706 movies by 6,040 users) or
    20M (``"ml-20m"``: 20,000,263 ratings of 26,744 movies by 138,493 users) from its official
    archive in ``data_dir`` (default :func:`default_archive_dir`, or the path of the zip),
    verified by md5 on every load; ``download=True`` fetches a missing archive.

    The tables are those of :func:`load_movielens`: ``events`` (user_id, item_id, timestamp,
    rating, label = rating >= ``positive_threshold``), ``items`` (item_id, category = first genre,
    release_decade) and, for 1M only (20M has no user profiles), ``users`` (user_id, gender,
    age_bucket, occupation, zip_region).  20M's ratings are in half stars.
    """
    path = _archive(name, data_dir, download)
    events = next(rating_chunks(path, name, positive_threshold))  # all of them: one chunk
    items, users = movielens_tables(path, name)
    return Interactions(name=name, events=events, items=items, users=users, source=str(path))


def rating_chunks(path: Path, name: str, positive_threshold: float = 4,
                  chunk_rows: int | None = None):
    """Yield the ratings of the verified archive ``path`` of release ``name`` as event tables
    (user_id, item_id, timestamp, rating, label), ``chunk_rows`` at a time (None: all at once).
    1M's ``ratings.dat`` is always read whole (24 MB); 20M's ``ratings.csv`` streams."""
    release = _release(name)
    where = f"{path}:{name}/{release.members[0]}"
    if name == "ml-1m":
        parts = [_read_member(path, name, "ratings.dat",
                              names=["user_id", "item_id", "rating", "timestamp"], dtype="int64")]
    else:
        dtype = {"userId": "int64", "movieId": "int64", "rating": "float64", "timestamp": "int64"}
        parts = ([_read_member(path, name, "ratings.csv", dtype=dtype)] if chunk_rows is None
                 else _member_chunks(path, name, "ratings.csv", chunk_rows, dtype=dtype))
    for events in parts:
        events = events.rename(columns={"userId": "user_id", "movieId": "item_id"})
        missing = {"user_id", "item_id", "timestamp", "rating"} - set(events.columns)
        if missing:
            raise DataError(f"lacks the columns {', '.join(sorted(missing))}", file=where)
        events = events[["user_id", "item_id", "timestamp", "rating"]]
        events["label"] = (events["rating"] >= positive_threshold).astype("int64")
        yield events


def movielens_tables(path: Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The items table and (1M only) the users table of the verified archive ``path``."""
    if name == "ml-1m":
        movies = _read_member(path, name, "movies.dat", names=["item_id", "title", "genres"],
                              dtype={"item_id": "int64", "title": str, "genres": str},
                              keep_default_na=False)
        u = _read_member(path, name, "users.dat",
                         names=["user_id", "gender", "age", "occupation", "zip"],
                         dtype={"user_id": "int64", "gender": str, "age": "int64",
                                "occupation": str, "zip": str}, keep_default_na=False)
        zip_first = u["zip"].str.strip().str[:1]
        users = pd.DataFrame({"user_id": u["user_id"], "gender": u["gender"],
                              "age_bucket": u["age"].map(ML1M_AGES).fillna("unknown"),
                              "occupation": u["occupation"],
                              "zip_region": zip_first.where(zip_first.str.isdigit(), "other")})
    else:
        movies = _read_member(path, name, "movies.csv", dtype={"movieId": "int64"},
                              keep_default_na=False).rename(columns={"movieId": "item_id"})
        users = None
    items = pd.concat([movies[["item_id"]].reset_index(drop=True),
                       _movies(movies["title"], movies["genres"]).reset_index(drop=True)], axis=1)
    return items, users
