"""Validation metrics of fine-tuned models: accuracy, macro-F1, per-class precision/recall, confusion, correlations.

Plain numpy, no torch. Conventions: a class that is neither a true label nor predicted is left out of the
macro average (scikit-learn's default); precision of a class never predicted is 0; a correlation with a constant
side (no variation to correlate) is reported as 0.0 rather than NaN, so JSON stays valid.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def classification_metrics(y_true: list[int] | np.ndarray, y_pred: list[int] | np.ndarray,
                           labels: list[str]) -> dict[str, Any]:
    """accuracy, macro_f1, per_class {label: precision, recall, f1, support} and confusion [true][predicted]."""
    t = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_pred, dtype=np.int64)
    k = len(labels)
    confusion = np.zeros((k, k), dtype=np.int64)
    if len(t):
        np.add.at(confusion, (t, p), 1)
    tp = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1).astype(np.float64)
    predicted = confusion.sum(axis=0).astype(np.float64)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(k), where=denominator > 0)
    present = (support > 0) | (predicted > 0)
    macro_f1 = float(f1[present].mean()) if present.any() else 0.0
    per_class = {name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                        "support": int(support[i])} for i, name in enumerate(labels)}
    accuracy = float(tp.sum() / len(t)) if len(t) else 0.0
    return {"accuracy": accuracy, "macro_f1": macro_f1, "per_class": per_class, "confusion": confusion.tolist()}


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (as Spearman's rho needs)."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pearson(x: list[float] | np.ndarray, y: list[float] | np.ndarray) -> float:
    """Pearson's r; 0.0 when either side is constant or there are fewer than two points."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(a) < 2:
        return 0.0
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def spearman(x: list[float] | np.ndarray, y: list[float] | np.ndarray) -> float:
    """Spearman's rho: Pearson's r of the (tie-averaged) ranks."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return pearson(_ranks(a), _ranks(b)) if len(a) >= 2 else 0.0


def regression_metrics(targets: list[float] | np.ndarray, predictions: list[float] | np.ndarray) -> dict[str, float]:
    """pearson, spearman and mse (on the targets' own scale)."""
    t = np.asarray(targets, dtype=np.float64)
    p = np.asarray(predictions, dtype=np.float64)
    mse = float(((t - p) ** 2).mean()) if len(t) else 0.0
    return {"pearson": pearson(t, p), "spearman": spearman(t, p), "mse": mse}


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    array = np.asarray(values, dtype=np.float64)
    if not len(array):
        return 0.0, 0.0
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


def comparison_summary(rows: list[dict[str, Any]], metric: str, stopped: bool) -> dict[str, Any]:
    """The compare-with-scratch result from its per-seed rows: each start's values, mean and sd, and the gap.

    Shared by :func:`finetune_analyses.compare_with_scratch` and the app's analysis job, which assembles the
    same rows from models trained one by one (this module imports no torch, so the GUI can import it).
    """
    out: dict[str, Any] = {"analysis": "compare-scratch", "metric": metric, "seeds": [r["seed"] for r in rows],
                           "runs": rows, "stopped": stopped}
    for label in ("pretrained", "scratch"):
        values = [r[label]["metric"] for r in rows]
        mean, sd = mean_sd(values)
        out[label] = {"values": values, "mean": mean, "sd": sd}
    out["difference"] = out["pretrained"]["mean"] - out["scratch"]["mean"]
    return out
