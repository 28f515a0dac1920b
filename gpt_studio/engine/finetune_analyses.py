"""The paper's two analyses: fine-tuning from the pretrained weights against from scratch, and layers transferred.

Each trains several models one after another through :class:`~gpt_studio.engine.finetune_train._Finetuner`
(measured, not saved) on one shared :class:`TrainControl`: a stop ends the analysis at its last complete seed or
point. Re-exported by :mod:`gpt_studio.engine.finetune`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gpt_studio.engine.finetune_bases import resolve_base
from gpt_studio.engine.finetune_config import CONFIG_FILE, BaseModel, FinetuneConfig, FinetuneResult
from gpt_studio.engine.finetune_data import TaskData
from gpt_studio.engine.finetune_metrics import comparison_summary
from gpt_studio.engine.finetune_train import _Finetuner
from gpt_studio.engine.project import Project


def _summary_row(result: FinetuneResult) -> dict[str, Any]:
    return {"metric": result.best_val_metric, "accuracy": result.val_accuracy, "macro_f1": result.val_macro_f1,
            "pearson": result.val_pearson, "spearman": result.val_spearman, "steps": result.steps,
            "best_step": result.best_step, "reason": result.reason, "wall_seconds": round(result.wall_seconds, 3)}


def compare_with_scratch(project: Project, base: str, train_data: TaskData, config: FinetuneConfig, *,
                         eval_data: TaskData | None = None, seeds: tuple[int, ...] = (1337,),
                         listeners: list[Callable[[Any], None]] | None = None, control: Any = None,
                         ) -> dict[str, Any]:
    """The paper's first analysis: the same fine-tuning from the pretrained weights and from scratch.

    Scratch = layers_transferred=0, transfer_embeddings=False; same steps and seeds. Both metrics per seed and
    their means (models are measured, not saved).
    """
    from gpt_studio.engine.trainer import TrainControl

    control = control if control is not None else TrainControl()
    resolved = base if isinstance(base, BaseModel) else resolve_base(project, base)
    rows, stopped = [], False
    for seed in seeds:
        row: dict[str, Any] = {"seed": seed}
        for label, changes in (("pretrained", {}), ("scratch", {"layers_transferred": 0,
                                                                "transfer_embeddings": False})):
            if control.stop_requested:  # a stop between models ends the table at the last complete seed
                stopped = True
                break
            settings = replace(config, seed=seed, **changes)
            result = _Finetuner(project, resolved, train_data, settings, eval_data, listeners, control).run(save=False)
            if result.reason == "stopped":  # a model cut short is not a measurement
                stopped = True
                break
            row[label] = _summary_row(result)
        if stopped:
            break
        rows.append(row)
    metric = "pearson" if config.regression else "accuracy"
    return {"task": config.task, "base": resolved.spec, **comparison_summary(rows, metric, stopped)}


def sweep_layers(project: Project, base: str, train_data: TaskData, config: FinetuneConfig, *,
                 eval_data: TaskData | None = None, layers: list[int] | None = None,
                 listeners: list[Callable[[Any], None]] | None = None, control: Any = None,
                 seeds: tuple[int, ...] | None = None) -> dict[str, Any]:
    """The paper's Figure 2 (left): validation metric against layers transferred 0..n (all by default).

    Embeddings follow ``config.transfer_embeddings``; with several ``seeds`` each point is their mean.
    """
    from gpt_studio.engine.atomic import read_json
    from gpt_studio.engine.finetune_metrics import mean_sd
    from gpt_studio.engine.trainer import TrainControl

    control = control if control is not None else TrainControl()
    resolved = base if isinstance(base, BaseModel) else resolve_base(project, base)
    n_layer = read_json(resolved.path / CONFIG_FILE)["n_layer"]
    layers = list(range(n_layer + 1)) if layers is None else list(layers)
    seeds = seeds or (config.seed,)
    points, stopped = [], False
    for k in layers:
        runs = []
        for seed in seeds:
            if control.stop_requested:  # a stop between models ends the sweep at the last complete point
                stopped = True
                break
            settings = replace(config, seed=seed, layers_transferred=k)
            result = _Finetuner(project, resolved, train_data, settings, eval_data, listeners, control).run(save=False)
            if result.reason == "stopped":  # a model cut short is not a measurement
                stopped = True
                break
            runs.append({"seed": seed, **_summary_row(result)})
        if stopped:
            break
        mean, sd = mean_sd([r["metric"] for r in runs])
        points.append({"layers": k, "metric": mean, "sd": sd, "runs": runs})
    return {"analysis": "sweep-layers", "task": config.task, "base": resolved.spec,
            "metric": "pearson" if config.regression else "accuracy", "n_layer": n_layer,
            "transfer_embeddings": config.transfer_embeddings, "seeds": list(seeds), "points": points,
            "stopped": stopped}
