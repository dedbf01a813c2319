"""Checkers for the book's exercises.

A student writes a function, then calls the chapter's checker on it, e.g.
``print(check_mean_pool(my_mean_pool))``.  A checker runs the function on small inputs, compares
with the reference solution and returns one short line, a :class:`Feedback`:

* ``Correct: ...`` when the answer is right,
* ``Not yet: ...`` with what is wrong (wrong shape, padding counted, order ignored, ...),
* ``Not attempted yet: ...`` while the function is still the stub (it raises
  ``NotImplementedError``).

It never raises and never shows a traceback, so "Run All" goes on past an unanswered exercise.
Every checker also has a strict form, ``check_mean_pool.strict(fn)``, that returns the
"Correct" message or raises :class:`ExerciseError`: the tests and the nbgrader hidden tests use
it.
"""
from __future__ import annotations

import functools

import torch


class ExerciseError(AssertionError):
    """Raised by a strict checker with a message that tells the student what to fix."""


class NotAttempted(ExerciseError):
    """The answer is still the stub (it raised ``NotImplementedError``)."""


class Feedback(str):
    """A checker's one-line verdict; ``ok`` is True for a correct answer."""

    ok: bool
    attempted: bool

    def __new__(cls, text: str, ok: bool, attempted: bool = True):
        self = super().__new__(cls, text)
        self.ok, self.attempted = ok, attempted
        return self


def passed(message: str) -> str:
    return f"Correct: {message}"


def _not_implemented(err: BaseException | None) -> bool:
    """True if ``err`` or an exception it was raised from is a ``NotImplementedError``."""
    while err is not None:
        if isinstance(err, NotImplementedError):
            return True
        err = err.__cause__ or err.__context__
    return False


def checker(strict):
    """Turn a strict checker (returns "Correct: ...", raises :class:`ExerciseError`) into the one
    the notebooks call: it returns a :class:`Feedback` line and never raises."""

    @functools.wraps(strict)
    def check(*args, **kwargs) -> Feedback:
        try:
            return Feedback(strict(*args, **kwargs), ok=True)
        except Exception as err:  # noqa: BLE001 - every failure becomes one line of feedback
            if _not_implemented(err):
                return Feedback("Not attempted yet: replace `raise NotImplementedError()` with "
                                "your code, run that cell, then run this one again.",
                                ok=False, attempted=False)
            if isinstance(err, ExerciseError):
                return Feedback(f"Not yet: {err}", ok=False)
            return Feedback(f"Not yet: the checker could not use your answer "
                            f"({type(err).__name__}: {err})", ok=False)

    check.strict = strict
    return check


def call_student(fn, *args, expect_tensor: bool = True):
    """Run a student's function; a crash or a non-tensor result becomes an :class:`ExerciseError`."""
    try:
        out = fn(*args)
    except Exception as err:  # report any crash as a hint, not a traceback
        raise ExerciseError(f"your function raised {type(err).__name__}: {err}") from err
    if expect_tensor and not isinstance(out, torch.Tensor):
        raise ExerciseError(f"return a torch.Tensor, got {type(out).__name__}")
    return out
