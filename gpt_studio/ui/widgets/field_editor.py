"""Editors for the run form: one :class:`Field` per ``FieldSpec`` row, and the small pieces around them.

Besides the fields: notes under a choice, stacked rows, and token counts as people type and read them. A
field owns its editor and the inline error label under it, so a refusal is shown next to the setting that
causes it. Nothing here validates combinations; that is :mod:`form_checks`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLabel, QLineEdit, QSpinBox, QVBoxLayout, QWidget

from gpt_studio.ui.widgets.run_fields import TRAIN_SECTIONS, FieldSpec

ERROR_STYLE = "color: #d0342c;"

_COUNT_UNITS = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def parse_count(text: str) -> float:
    """A token count as people type it: 5M, 2.5e9, 300B, 1,000,000."""
    clean = text.strip().lower().replace(",", "").replace("_", "").replace(" ", "").removesuffix("tokens")
    scale = 1.0
    if clean and clean[-1] in _COUNT_UNITS:
        clean, scale = clean[:-1], _COUNT_UNITS[clean[-1]]
    try:
        value = float(clean) * scale
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"Enter a token count like 5M, 2.5e9 or 1,000,000 (not {text!r}).")
    return value


def format_count(n: float) -> str:
    """137K, 1.05M, 2.6B: three significant digits and a unit."""
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:,.0f}"


PROBE_LIMIT = 200  # items per probe scored at each evaluation (evenly spaced through the file)


def parse_probes(text: str) -> list[dict[str, Any]]:
    """``TASK:FILE; TASK:FILE`` → the trainer's probe list; a missing file or a bad entry is named."""
    probes = []
    for entry in (part.strip() for part in text.split(";")):
        if not entry:
            continue
        task, sep, path = entry.partition(":")
        if not sep or not path.strip():
            raise ValueError(f"Zero-shot probes: write TASK:FILE (label-words, multiple-choice or winograd), "
                             f"not {entry!r}.")
        file = Path(path.strip()).expanduser()
        if not file.is_file():
            raise ValueError(f"Zero-shot probes: {file} is not a file.")
        probes.append({"task": task.strip(), "data": str(file.resolve()), "limit": PROBE_LIMIT})
    return probes


class Field(QObject):
    """One spec's editor with its inline error label; ``value()`` raises ValueError on text that is no number."""

    changed = Signal()

    def __init__(self, spec: FieldSpec) -> None:
        super().__init__()
        self.spec = spec
        self.editor = self._make_editor()
        self.editor.setToolTip(spec.tip)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setVisible(False)
        self.container = stack(self.editor, self.error)

    def _make_editor(self) -> QWidget:
        spec = self.spec
        if spec.kind == "int":
            editor: Any = QSpinBox()
            editor.setRange(int(spec.lo), int(spec.hi))
        elif spec.kind == "float":
            editor = QDoubleSpinBox()
            editor.setDecimals(spec.decimals)
            editor.setRange(spec.lo, spec.hi)
        elif spec.kind in ("sci", "opt_sci"):
            editor = QLineEdit()
            editor.setPlaceholderText("peak / 10" if spec.kind == "opt_sci" else "")
            editor.textChanged.connect(self.changed)
            return editor
        elif spec.kind == "bool":
            editor = QCheckBox()
            editor.toggled.connect(self.changed)
            return editor
        elif spec.kind == "probes":
            editor = QLineEdit()
            editor.setPlaceholderText("none  (e.g. label-words:/data/sentiment.csv; multiple-choice:/data/copa.jsonl)")
            editor.textChanged.connect(self.changed)
            return editor
        else:
            editor = QComboBox()
            for label, _value in spec.choices:
                editor.addItem(label)
            editor.currentIndexChanged.connect(self.changed)
            return editor
        editor.setSingleStep(spec.step)
        editor.setSpecialValueText(spec.special)
        editor.setSuffix(spec.suffix)
        editor.setKeyboardTracking(True)
        editor.valueChanged.connect(self.changed)
        return editor

    def value(self) -> Any:
        """The setting's value as the config wants it."""
        spec, editor = self.spec, self.editor
        if spec.kind in ("int", "float"):
            value = editor.value()
            return None if spec.none_at_min and value == spec.lo else value
        if spec.kind in ("sci", "opt_sci"):
            text = editor.text().strip()
            if not text and spec.kind == "opt_sci":
                return None
            try:
                return float(text)
            except ValueError:
                raise ValueError(f"{spec.label}: enter a number like 6e-4 or 0.0006.") from None
        if spec.kind == "bool":
            return editor.isChecked()
        if spec.kind == "probes":
            return parse_probes(editor.text())
        return spec.choices[max(editor.currentIndex(), 0)][1]

    def set_value(self, value: Any) -> None:
        """Show ``value`` (None maps to the special minimum, or an empty text)."""
        spec, editor = self.spec, self.editor
        if spec.kind in ("int", "float"):
            editor.setValue(spec.lo if value is None else value)
        elif spec.kind in ("sci", "opt_sci"):
            editor.setText("" if value is None else f"{value:g}")
        elif spec.kind == "bool":
            editor.setChecked(bool(value))
        elif spec.kind == "probes":
            editor.setText("; ".join(f"{p['task']}:{p['data']}" for p in value or []))
        else:
            values = [v for _label, v in spec.choices]
            editor.setCurrentIndex(values.index(value) if value in values else 0)

    def set_error(self, text: str) -> None:
        """Show (or clear, with '') the reason this field is refused."""
        self.error.setText(text[:1].upper() + text[1:])
        self.error.setVisible(bool(text))


def disable_unavailable_devices(combo: QComboBox) -> None:
    """Grey out CUDA/MPS where torch cannot use them (the list keeps them, so people see what exists)."""
    import torch

    available = {"auto": True, "cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())}
    model = combo.model()
    for row, (label, value) in enumerate(dict(TRAIN_SECTIONS)["Hardware"][0].choices):
        item = model.item(row)  # type: ignore[attr-defined]
        item.setEnabled(available[value])
        if not available[value]:
            item.setToolTip(f"Not available here: torch sees no {label} on this machine.")


def note_label() -> QLabel:
    """A wrapped, quiet label for the explanation under a choice."""
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


def stack(*widgets: QWidget) -> QWidget:
    """``widgets`` one above the other without margins (an editor over its note or error)."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    for widget in widgets:
        layout.addWidget(widget)
    return box

