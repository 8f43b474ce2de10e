"""The classifier two-sample test: can a logistic regression tell two sets of feature rows apart (torch-free)?

Written here (no scikit-learn): an L2-regularised, class-balanced logistic regression fitted by Newton's method,
scored by a stratified, shuffled, cross-validated AUC: 0.5 cannot tell the sets apart, 1.0 always can.
"""

from __future__ import annotations

import math

import numpy as np


def _logistic_fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 30) -> np.ndarray:
    """Weights (features + 1, bias last) of an L2-regularised logistic regression, classes weighted to balance,
    by Newton's method."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    weight = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    penalty = np.full(xb.shape[1], l2)
    penalty[-1] = 0.0
    w = np.zeros(xb.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (weight * (p - y)) + penalty * w
        hessian = (xb * (weight * p * (1 - p))[:, None]).T @ xb + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve: the chance a positive scores above a negative (ties count half)."""
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks of ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def classifier_auc(a: np.ndarray, b: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated AUC of a logistic regression telling feature rows a (n, d) from b (m, d): folds
    stratified and shuffled with `seed`, features standardized on each training part, the folds' AUCs
    averaged. NaN when either side has fewer than 2 rows."""
    folds = min(folds, len(a), len(b))
    if folds < 2:
        return math.nan
    rng = np.random.default_rng(seed)
    x = np.vstack([a, b]).astype(np.float64)
    y = np.concatenate([np.ones(len(a)), np.zeros(len(b))])
    fold = np.empty(len(x), int)
    for cls in (1.0, 0.0):
        rows = rng.permutation(np.flatnonzero(y == cls))
        fold[rows] = np.arange(len(rows)) % folds
    aucs = []
    for k in range(folds):
        train, test = fold != k, fold == k
        mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-6
        w = _logistic_fit((x[train] - mean) / std, y[train])
        scores = np.hstack([(x[test] - mean) / std, np.ones((int(test.sum()), 1))]) @ w
        aucs.append(auc(scores, y[test]))
    return float(np.mean(aucs))
