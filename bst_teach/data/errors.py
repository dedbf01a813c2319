"""The one error type the data loaders raise for bad input.

A :class:`DataError` says *where* the problem is as precisely as it can: the file, the line
(1-based, the header counts as line 1), the column and the offending value::

    interactions.csv, line 7, column 'timestamp': 'abc' is not a number

It subclasses :class:`ValueError`, so ``except ValueError`` catches it too.  The message is always
one line: line breaks in a wrapped message (pandas' parser errors hold some) become spaces.
"""
from __future__ import annotations

_UNSET = object()


class DataError(ValueError):
    """Bad input data (or a dataset that could not be fetched), with its location.

    ``DataError(problem, file=..., line=..., column=..., value=...)`` builds the message from the
    parts that are given; the parts stay available as attributes (``None`` when not given).
    """

    def __init__(self, problem: str, *, file=None, line: int | None = None,
                 column: str | None = None, value=_UNSET):
        problem = " ".join(str(problem).split())  # one line, even around a pandas message
        self.problem = problem
        self.file = None if file is None else str(file)
        self.line = line
        self.column = column
        self.value = None if value is _UNSET else value
        where = [p for p in (self.file,
                             None if line is None else f"line {line}",
                             None if column is None else f"column {column!r}") if p]
        message = problem if value is _UNSET else f"{value!r} {problem}"
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
