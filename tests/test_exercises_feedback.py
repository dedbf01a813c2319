"""What a student sees: every checker answers in one line, never raises, and tells an untouched
stub ("not attempted yet") from a wrong answer ("not yet") and a right one ("correct")."""
import inspect

import numpy as np
import pytest
import torch

from bst_teach.exercises import ExerciseError, Feedback, checker
from bst_teach.exercises import ch01, ch02, ch03, ch04, ch05, ch06, ch07, ch08
from bst_teach.viz.attention_plots import attention_by_rank


def _stub(*args, **kwargs):
    raise NotImplementedError()


def _returns_garbage(*args, **kwargs):
    return "not an answer"


# (checker, a reference answer, a wrong answer)
CASES = {
    "ch01.mean_pool": (ch01.check_mean_pool, ch01.mean_pool_reference,
                       lambda h, m: h.mean(1)),
    "ch01.encode": (ch01.check_encode, lambda t, v: ch01.Vocabulary.fit(t).encode(v),
                    lambda t, v: np.zeros(len(v), dtype=np.int64)),
    "ch02.weighted_pool": (ch02.check_weighted_pool, ch02.weighted_pool_reference,
                           lambda h, w, m: (w.unsqueeze(-1) * h).sum(1)),
    "ch03.attention": (ch03.check_attention, ch03.reference_attention,
                       lambda q, k, v, m: (q @ k.transpose(-2, -1)).softmax(-1) @ v),
    "ch03.encoder_params": (ch03.check_encoder_params, ch03.reference_encoder_params,
                            lambda d, m, b: 4 * d * d),
    "ch04.calendar_buckets": (ch04.check_calendar_buckets, ch04.reference_calendar_buckets,
                              lambda g, m: np.zeros(g.shape, dtype=np.int64)),
    "ch04.recency_rank": (ch04.check_recency_rank, ch04.reference_recency_rank,
                          lambda m: torch.cumsum(m.long(), -1) * m),
    "ch05.layer_norm": (ch05.check_layer_norm, ch05.reference_layer_norm,
                        lambda x, eps: x - x.mean(-1, keepdim=True)),
    "ch05.masked_batch_norm": (ch05.check_masked_batch_norm, ch05.reference_masked_batch_norm,
                               lambda x, m, eps: x),
    "ch06.attention_by_rank": (ch06.check_attention_by_rank, attention_by_rank,
                               lambda w, m: w[:, :, -1, :-1].mean(0)),
    "ch07.block_params": (ch07.check_block_params, ch07.reference_block_params,
                          lambda d, m: 4 * d * d),
    "ch08.chronological_split": (ch08.check_chronological_split,
                                 ch08.reference_chronological_split,
                                 lambda ts, vf, tf: (np.arange(len(ts)),) * 3),
    "ch08.bootstrap_auc": (ch08.check_bootstrap_auc, ch08.reference_bootstrap_auc_ci,
                           lambda y, p, n_boot=1000, alpha=0.05, seed=0: (0.0, 0.1)),
    "ch08.group_auc": (ch08.check_group_auc, ch08.reference_group_auc,
                       lambda u, y, p: (0.5, len(np.unique(u)))),
}


def test_every_checker_is_covered():
    """A new checker must be added to CASES (so its student-facing form is tested too)."""
    found = {f"{mod.__name__.rsplit('.', 1)[1]}.{name}" for mod in (ch01, ch02, ch03, ch04, ch05,
                                                                     ch06, ch07, ch08)
             for name, obj in inspect.getmembers(mod, callable)
             if name.startswith("check_") and obj.__module__ == mod.__name__}
    covered = {f"{key.split('.')[0]}.{CASES[key][0].__name__}" for key in CASES}
    assert found - {"ch07.check_make_encoder"} == covered


@pytest.mark.parametrize("key", sorted(CASES))
def test_right_wrong_blank_and_garbage(key):
    check, right, wrong = CASES[key]
    verdicts = {"right": check(right), "wrong": check(wrong), "blank": check(_stub),
                "garbage": check(_returns_garbage)}
    for name, verdict in verdicts.items():
        assert isinstance(verdict, Feedback) and "\n" not in verdict, (name, verdict)
        assert "Traceback" not in verdict and "File \"" not in verdict, (name, verdict)
    assert verdicts["right"].startswith("Correct: ") and verdicts["right"].ok
    assert verdicts["wrong"].startswith("Not yet: ") and not verdicts["wrong"].ok
    assert verdicts["wrong"].attempted
    assert verdicts["blank"].startswith("Not attempted yet") and not verdicts["blank"].attempted
    assert verdicts["garbage"].startswith("Not yet: ") and not verdicts["garbage"].ok
    # the strict form is what tests and nbgrader's hidden tests call
    assert check.strict(right).startswith("Correct: ")
    with pytest.raises(ExerciseError):
        check.strict(wrong)


def test_make_encoder_blank_and_wrong():
    assert ch07.check_make_encoder(_stub).startswith("Not attempted yet")
    assert ch07.check_make_encoder(lambda n, d, h: torch.nn.Linear(d, d)).startswith("Not yet: ")


def test_wrong_answer_does_not_reveal_the_reference():
    """Chapter 3's parameter count: the message names the mistake, not the formula."""
    verdict = ch03.check_encoder_params(lambda d, m, b: ch03.reference_encoder_params(d, m, b)
                                        - b * (4 * d + m * d + d))
    assert verdict == ("Not yet: for dim=32, ffn_mult=4, blocks=1 you count 12416, PyTorch has "
                       "12704: you left out the biases of the Linear layers")


def test_a_crash_inside_the_checker_is_one_line():
    @checker
    def check_fragile(fn):
        return f"Correct: {fn() + 1}"

    assert check_fragile(lambda: 1) == "Correct: 2"
    verdict = check_fragile(lambda: "x")
    assert verdict.startswith("Not yet: the checker could not use your answer (TypeError:")
