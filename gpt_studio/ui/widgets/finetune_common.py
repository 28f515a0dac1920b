"""What the Fine-tune wizard's pages share: the choices made so far, the page base class and small helpers.

The wizard keeps one :class:`FinetuneChoices`; each page writes what the person chose into it and reads what
earlier pages chose when it is entered. A page says why Next must wait through :meth:`WizardPage.reason`
(empty when the page is complete) and emits ``changed`` whenever that may have changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QWidget

from gpt_studio.engine.finetune_data import ColumnMap, LabelPlan, Table, TaskData
from gpt_studio.engine.project import Project
from gpt_studio.ui import theme
from gpt_studio.ui.widgets.wrap_label import WrapLabel

ERROR_STYLE = "color: #d0342c;"
WARNING_STYLE = "color: #b26a00;"
MUTED_STYLE = "color: palette(placeholder-text);"
ENGINE_MISSING = ("The fine-tuning engine is not available in this build yet; try again after updating "
                  "(or use `gpt-studio finetune` from the command line).")


@dataclass
class FinetuneChoices:
    """Everything chosen so far, page by page; the train page turns it into one fine-tuning request."""

    project: Project | None = None
    base: Any = None  # engine.finetune.BaseModel (typed loosely: that module may import torch)
    task: str = "classification"
    train_path: Path | None = None
    eval_path: Path | None = None
    table: Table | None = None  # the training file's first rows
    columns: ColumnMap = field(default_factory=ColumnMap)
    data: TaskData | None = None  # the training file read with ``columns`` and no label edits (for previews)
    label_counts: dict[str, int] = field(default_factory=dict)  # detected labels, first-seen order
    numeric_labels: bool = False  # every label value is a number (similarity: a score to regress on)
    plan: LabelPlan = field(default_factory=LabelPlan)
    regression: bool = False
    config: Any = None  # engine.finetune.FinetuneConfig from the options page
    max_examples: int = 0  # 0 = every example of the training file
    name: str = ""  # "" = let the engine name the model
    result: dict[str, Any] | None = None  # FinetuneResult.to_dict() once a run ended

    def effective_counts(self) -> dict[str, int]:
        """Examples per class after the label plan (renames merge, exclusions drop), in first-seen order."""
        counts: dict[str, int] = {}
        for label, count in self.label_counts.items():
            if label in self.plan.exclude:
                continue
            name = self.plan.rename.get(label, label)
            counts[name] = counts.get(name, 0) + count
        return counts

    def kept_examples(self) -> int:
        """How many rows survive the exclusions (all of them for regression)."""
        if self.regression or self.task == "multiple-choice":
            return sum(self.label_counts.values())
        return sum(self.effective_counts().values())


class WizardPage(QWidget):
    """One step of the wizard: a title for the step list, a reason while incomplete, hooks on entering."""

    changed = Signal()  # the page's completeness (or something shown elsewhere) may have changed
    title = ""

    def __init__(self, choices: FinetuneChoices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choices = choices

    def reason(self) -> str:
        """Why Next is not possible yet, in words a person can act on; "" when the page is complete."""
        return ""

    def enter(self) -> None:
        """Called each time the page is shown: pick up what earlier pages changed, keep this page's own choices."""

    def busy(self) -> bool:
        """Whether the page runs something that leaving it would disturb (training)."""
        return False


def heading(text: str, parent: QWidget | None = None, scale: float = 1.3) -> QLabel:
    """A bold title sized from the user's font."""
    label = QLabel(text, parent)
    label.setFont(theme.scaled_font(label, scale, bold=True))
    return label


def note(text: str = "", parent: QWidget | None = None, style: str = MUTED_STYLE) -> WrapLabel:
    """A wrapped explanation (muted by default; ERROR_STYLE / WARNING_STYLE for problems)."""
    label = WrapLabel(text, parent)
    label.setStyleSheet(style)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def format_parameters(n: int) -> str:
    """137,000 → "137K", 1,234,567 → "1.2M" (the size column of the base list)."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= limit:
            return f"{n / limit:.3g}{suffix}"
    return str(n)


def base_layers(base: Any) -> int | None:
    """The base's number of Transformer blocks, read from the config.json beside its weights.

    BaseModel does not carry it (see the report: a contract addition would be cleaner); checkpoints and model
    folders both keep the ModelConfig as config.json.
    """
    path = Path(getattr(base, "path", "") or "")
    for candidate in (path / "config.json", path.parent / "config.json"):
        try:
            value = json.loads(candidate.read_text(encoding="utf-8")).get("n_layer")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, int) and value > 0:
            return value
    return None


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved a share ``t`` (0…1) of the way to ``b`` (heat-map cells, bars)."""
    t = min(max(t, 0.0), 1.0)
    return QColor(round(a.red() + (b.red() - a.red()) * t), round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


def readable_on(fill: QColor) -> QColor:
    """Dark or light text, whichever reads on ``fill``."""
    return QColor("#111111") if fill.lightnessF() > 0.55 else QColor("#f5f5f5")
