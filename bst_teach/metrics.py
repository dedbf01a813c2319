"""Ranking metrics: AUC over all samples and gAUC, the AUC averaged over users.

AUC asks whether a random positive outranks a random negative *anywhere* in the split, so a
model can score well by ranking active users above quiet ones.  A recommender ranks items *for
one user*; the DIN paper therefore reports gAUC (Zhou et al., 2018, eq. 9): each user's AUC,
weighted by that user's number of impressions, over the users that have both classes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def gauc(users, labels, scores) -> tuple[float, int]:
    """Impression-weighted mean of per-user AUCs.  users, labels (0/1), scores: (N,).

    -> (gAUC, number of users with both classes); (nan, 0) when no user has both.  Equal to
    calling scikit-learn's ``roc_auc_score`` on each user's samples and averaging with weights
    ``n_u`` (ties count one half), but one vectorised pass: within each user, the positives' rank
    sum gives the Mann-Whitney U statistic, ``AUC_u = (R_pos - P (P + 1) / 2) / (P N)``.
    """
    users, labels, scores = (np.asarray(a).ravel() for a in (users, labels, scores))
    if not len(users) == len(labels) == len(scores):
        raise ValueError(f"users, labels and scores differ in length: "
                         f"{len(users)}, {len(labels)}, {len(scores)}")
    codes, _ = pd.factorize(users)
    ranks = pd.Series(scores).groupby(codes).rank(method="average").to_numpy()
    positive = labels == 1
    n = np.bincount(codes)
    n_pos = np.bincount(codes, weights=positive)
    rank_sum = np.bincount(codes, weights=np.where(positive, ranks, 0.0))
    n_neg = n - n_pos
    both = (n_pos > 0) & (n_neg > 0)
    if not both.any():
        return float("nan"), 0
    auc = (rank_sum[both] - n_pos[both] * (n_pos[both] + 1) / 2) / (n_pos[both] * n_neg[both])
    return float(np.average(auc, weights=n[both])), int(both.sum())
