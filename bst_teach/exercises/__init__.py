"""Checkers for the book's exercises.

A student writes a function, then calls the chapter's checker on it, e.g.
``check_mean_pool(my_mean_pool)``.  A checker runs the function on small inputs, compares with the
reference solution and either returns a short "correct" message or raises :class:`ExerciseError`
telling what is wrong (wrong shape, padding counted, order ignored, ...).
"""


class ExerciseError(AssertionError):
    """Raised by a checker with a message that tells the student what to fix."""


def passed(message: str) -> str:
    return f"Correct: {message}"
