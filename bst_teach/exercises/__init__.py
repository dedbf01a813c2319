"""Checkers for the book's exercises.

A student writes a function, then calls the chapter's checker on it, e.g.
``check_mean_pool(my_mean_pool)``.  A checker runs the function on small inputs, compares with the
reference solution and either returns a short "correct" message or raises :class:`ExerciseError`
telling what is wrong (wrong shape, padding counted, order ignored, ...).
"""
import torch


class ExerciseError(AssertionError):
    """Raised by a checker with a message that tells the student what to fix."""


def passed(message: str) -> str:
    return f"Correct: {message}"


def call_student(fn, *args, expect_tensor: bool = True):
    """Run a student's function; a crash or a non-tensor result becomes an :class:`ExerciseError`."""
    try:
        out = fn(*args)
    except Exception as err:  # report any crash as a hint, not a traceback
        raise ExerciseError(f"your function raised {type(err).__name__}: {err}") from err
    if expect_tensor and not isinstance(out, torch.Tensor):
        raise ExerciseError(f"return a torch.Tensor, got {type(out).__name__}")
    return out
