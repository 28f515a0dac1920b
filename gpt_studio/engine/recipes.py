"""Named training recipes: a model preset plus the training settings that were measured to work with it.

Model presets (``model.PRESETS``) say what network to build; a recipe also says how to train it, so a person
can reproduce a measured result with one name (``gpt-studio pretrain P --preset shakespeare-char-speedrun``).
Anything given with ``--set`` (or changed in the form) still wins over the recipe's values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gpt_studio.engine.model import PRESETS


@dataclass(frozen=True)
class Recipe:
    """A model preset with model overrides and training settings; ``measured`` says where the figures are."""

    name: str
    description: str  # one line for a chooser
    model_preset: str  # key in model.PRESETS
    model_settings: dict[str, Any] = field(default_factory=dict)
    train_settings: dict[str, Any] = field(default_factory=dict)
    measured: str = ""  # what it reached, and where that is recorded

    def settings(self) -> dict[str, Any]:
        """Model overrides and training settings together, as ``new_run`` takes them."""
        return {**self.model_settings, **self.train_settings}


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            name="shakespeare-char-speedrun",
            description="nanoGPT's CPU model, trained to its final loss in ~0.7x its time: lr 3e-3, 1,400 steps",
            model_preset="shakespeare-char",
            train_settings={
                "batch_size": 12, "max_steps": 1400, "lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 50,
                "schedule": "cosine", "precision": "fp32", "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.99,
                "grad_clip": 1.0, "eval_interval": 1400, "eval_batches": 20, "sample_tokens": 0,
                "checkpoint_interval": 1400,
            },
            measured="val loss 1.835 (nanoGPT's recipe: 1.886 in ~98 s) in 53-70 s on a 2-core CPU; "
                     "docs/BENCHMARKS.md, Pretraining",
        ),
    )
}


def names() -> list[str]:
    """Every name ``--preset`` accepts: model presets, then recipes."""
    return [*PRESETS, *RECIPES]


def expand(name: str, settings: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """``(model preset, settings)`` for a preset or recipe name; the given settings override the recipe's."""
    settings = dict(settings or {})
    recipe = RECIPES.get(name)
    if recipe is None:
        if name not in PRESETS:
            raise ValueError(f"Unknown preset {name!r}. Valid presets: {', '.join(names())}.")
        return name, settings
    return recipe.model_preset, {**recipe.settings(), **settings}
