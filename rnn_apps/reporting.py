"""Plots and reports shared by the task pipelines: one figure saver, learning curves, the
confusion matrix (scikit-learn's `ConfusionMatrixDisplay`), JSON reports and the short human
summary the command line prints at the end of a run."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def new_figure(*args: Any, figsize: tuple[float, float] | None = None, **kwargs: Any):
    """A `matplotlib.figure.Figure` and its axes (`Figure.subplots(*args, **kwargs)`).

    Built without pyplot, so it needs no display and never changes the backend of the
    caller (a notebook keeps showing its own figures).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def save_figure(fig: Any, path: str | os.PathLike, *, dpi: int = 100) -> Path:
    """Writes `fig` as a PNG at `path` (folders created) and returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    return path


def plot_learning_curves(
    histories: Mapping[str, Mapping[str, Sequence[float | None]]],
    path: str | os.PathLike,
    *,
    metrics: Sequence[str] = ("loss",),
    title: str = "learning curves",
) -> Path:
    """PNG of training and validation curves per epoch, one panel per metric.

    Args:
        histories: `{model name: {metric: [value per epoch]}}` (Keras histories; a
            `val_<metric>` key is drawn dashed next to `<metric>`).
        path: Where to write the PNG.
        metrics: Metrics to draw (panels); a metric no history has is skipped.
        title: Figure title.
    """
    present = [m for m in metrics if any(m in h or f"val_{m}" in h for h in histories.values())]
    present = present or ["loss"]
    fig, axes = new_figure(1, len(present), figsize=(5 * len(present), 4), squeeze=False)
    for ax, key in zip(axes[0], present):
        for name, hist in histories.items():
            for prefix, style in (("", "-"), ("val_", "--")):
                values = [
                    float("nan") if v is None else float(v) for v in hist.get(prefix + key, [])
                ]
                if values and not all(math.isnan(v) for v in values):
                    label = f"{name} {'validation' if prefix else 'train'}"
                    ax.plot(range(1, len(values) + 1), values, style, marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]], class_names: Sequence[str], path: str | os.PathLike
) -> Path:
    """PNG of a confusion matrix (rows: true class, columns: predicted), drawn by
    `sklearn.metrics.ConfusionMatrixDisplay`."""
    from sklearn.metrics import ConfusionMatrixDisplay

    n = len(class_names)
    fig, ax = new_figure(figsize=(1.2 * n + 2.5, 1.2 * n + 2))
    ConfusionMatrixDisplay(np.asarray(matrix), display_labels=list(class_names)).plot(
        ax=ax, cmap="Blues", colorbar=False, xticks_rotation=45
    )
    ax.set_title("confusion matrix")
    return save_figure(fig, path)


def to_jsonable(value: Any) -> Any:
    """NumPy scalars/arrays, paths, dataclasses and tuples -> plain JSON values; NaN -> None."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Path):
        return value.as_posix()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    return value


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Writes `data` as indented JSON through a temporary file and a rename (never half)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(to_jsonable(data), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def format_metrics(metrics: Mapping[str, Any], keys: Sequence[str] | None = None) -> str:
    """`"accuracy 0.9142, f1 0.9140"`: the scalar metrics (of `keys`, in that order)."""
    keys = list(keys) if keys is not None else list(metrics)
    parts = []
    for k in keys:
        v = metrics.get(k)
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            parts.append(f"{k} {float(v):.4g}")
    return ", ".join(parts)
