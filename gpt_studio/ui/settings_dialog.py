"""File › Settings…: the default device and precision, the data folder for new projects, and the theme.

Which devices this machine has is asked of the engine (``devices.resolve_device``, the same check a run makes)
in a :class:`~gpt_studio.workers.Job`, because it imports torch: until the answer comes every device is
listed, then the missing ones are greyed out with the reason. The answer is kept for the session (devices do
not come and go while the app runs), so the dialog opens complete the second time.

The theme applies as soon as it is chosen, so people see it before they commit; Cancel puts the previous one
back. The data folder is checked by writing to it when OK is pressed, and a folder that cannot hold projects
is refused there with the reason, the dialog staying open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.trainer_config import PRECISIONS
from gpt_studio.ui import theme
from gpt_studio.ui.preferences import (
    THEME_LABELS,
    THEMES,
    Preferences,
    default_data_folder,
    folder_problem,
    nearest_existing,
)
from gpt_studio.ui.widgets.field_editor import ERROR_STYLE, stack
from gpt_studio.ui.widgets.run_fields import TRAIN_SECTIONS
from gpt_studio.ui.widgets.wrap_label import WrapLabel
from gpt_studio.workers import Job

DEVICE_CHOICES: tuple[tuple[str, Any], ...] = dict(TRAIN_SECTIONS)["Hardware"][0].choices  # the run form's list
PRECISION_NOTES = {
    "fp32": "fp32 works on every device.",
    "bf16": "bf16 halves activation memory and is faster on recent GPUs and CPUs.",
    "fp16": "fp16 needs a CUDA GPU (training uses loss scaling).",
}
DIALOG_CHARS = 100  # wide enough for a data folder path and the notes on two lines at most
_DETECTED: dict[str, Any] | None = None  # detect_devices()'s answer, once per session


def detect_devices(reporter: Any = None) -> dict[str, Any]:
    """For each device name: what it resolves to here (None when torch cannot use it) and the precisions refused.

    Runs off the GUI thread: ``devices`` imports torch. Returns ``{name: {"description": str, "refused":
    {precision: reason}} | None}``.
    """
    from gpt_studio.engine import devices
    from gpt_studio.engine.errors import StudioError

    found: dict[str, Any] = {}
    for _label, name in DEVICE_CHOICES:
        try:
            device = devices.resolve_device(name)
        except StudioError:
            found[name] = None
            continue
        refused = {}
        for precision in PRECISIONS:
            try:
                devices.check_precision(device, precision)
            except StudioError as exc:
                refused[precision] = str(exc)
        found[name] = {"description": devices.describe(device), "refused": refused}
    return found


class SettingsDialog(QDialog):
    """Edits a :class:`Preferences`; ``preferences_accepted`` carries the new ones after a checked OK."""

    preferences_accepted = Signal(object)  # Preferences
    devices_detected = Signal(object)  # detect_devices()'s answer, once it is shown

    def __init__(self, preferences: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.initial = preferences
        self.detected: dict[str, Any] | None = None
        self._job: Job | None = None
        self.device = QComboBox()
        for label, value in DEVICE_CHOICES:
            self.device.addItem(label, value)
        self.precision = QComboBox()
        for value in PRECISIONS:
            self.precision.addItem(value, value)
        self.device_note, self.precision_note = _note(""), _note("")
        self.folder_edit = QLineEdit()
        self.folder_edit.setMinimumWidth(self.fontMetrics().averageCharWidth() * 48)  # most paths show whole
        self.folder_button = QPushButton("Browse…")
        self.default_button = QPushButton("Use the default")
        self.default_button.setToolTip(f"Default: {default_data_folder()}")
        self.folder_error = WrapLabel("")
        self.folder_error.setStyleSheet(ERROR_STYLE)
        self.folder_error.setVisible(False)
        self.theme = QComboBox()
        for name in THEMES:
            self.theme.addItem(THEME_LABELS[name], name)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self._layout()
        self._show(preferences)
        self._connect()
        self._start_detection()

    # ------------------------------------------------------------------------------------------ building

    def _layout(self) -> None:
        training = QGroupBox("Training defaults")
        form = QFormLayout(training)
        form.addRow("Device", stack(self.device, self.device_note))
        form.addRow("Precision", stack(self.precision, self.precision_note))
        form.addRow(_note("New run forms and the fine-tuning options start with these, and the Playground loads "
                          "models on this device; a choice made in a form stays."))
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.folder_button)
        folder_row.addWidget(self.default_button)
        projects = QGroupBox("Projects")
        projects_form = QFormLayout(projects)
        projects_form.addRow("Data folder", folder_row)
        projects_form.addRow(_note("New projects, the sample corpus and models imported from the welcome page are "
                                   "proposed here; a project can still go anywhere."))
        projects_form.addRow(self.folder_error)
        appearance = QGroupBox("Appearance")
        appearance_form = QFormLayout(appearance)
        appearance_form.addRow("Theme", stack(self.theme, _note("Applies at once; Cancel puts the previous one "
                                                                    "back.")))
        layout = QVBoxLayout(self)
        for box in (training, projects, appearance):
            layout.addWidget(box)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.resize(self.fontMetrics().averageCharWidth() * DIALOG_CHARS, self.sizeHint().height())

    def _connect(self) -> None:
        self.device.currentIndexChanged.connect(self._update_notes)
        self.precision.currentIndexChanged.connect(self._update_notes)
        self.theme.currentIndexChanged.connect(self._on_theme_chosen)
        self.folder_button.clicked.connect(self._browse)
        self.default_button.clicked.connect(lambda: self.folder_edit.setText(str(default_data_folder())))
        self.folder_edit.textChanged.connect(lambda _text: self.folder_error.setVisible(False))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    def _show(self, preferences: Preferences) -> None:
        self.device.setCurrentIndex(max(self.device.findData(preferences.device), 0))
        self.precision.setCurrentIndex(max(self.precision.findData(preferences.precision), 0))
        self.folder_edit.setText(str(preferences.data_folder))
        self.theme.blockSignals(True)  # showing the stored theme is not choosing one
        self.theme.setCurrentIndex(max(self.theme.findData(preferences.theme), 0))
        self.theme.blockSignals(False)
        self._update_notes()

    # ------------------------------------------------------------------------------------------ devices

    def _start_detection(self) -> None:
        if _DETECTED is not None:
            self._on_detected(_DETECTED)
            return
        self.device_note.setText("Checking which devices this machine has…")
        self._job = Job(detect_devices, "checking the compute devices")
        self._job.quiet = True  # type: ignore[attr-defined]  # read-only and short: quitting need not ask about it
        self._job.succeeded.connect(self._on_detected)
        self._job.failed.connect(self._on_detection_failed)
        self._job.start()

    @Slot(object)
    def _on_detected(self, found: dict[str, Any]) -> None:
        global _DETECTED
        _DETECTED = self.detected = found
        model = self.device.model()
        for row, (label, value) in enumerate(DEVICE_CHOICES):
            item = model.item(row)  # type: ignore[attr-defined]
            item.setEnabled(found.get(value) is not None)
            item.setToolTip("" if found.get(value) else f"Not available here: torch sees no {label} on this machine.")
        self._update_notes()
        self.devices_detected.emit(found)

    @Slot(str, str)
    def _on_detection_failed(self, reason: str, _details: str) -> None:
        self.device_note.setText(f"Could not check the devices: {reason}")

    def _update_notes(self) -> None:
        device, precision = self.device.currentData(), self.precision.currentData()
        note = PRECISION_NOTES[precision]
        if self.detected is None:
            self.precision_note.setText(note)
            return
        info = self.detected.get(device)
        if info is None:
            self.device_note.setText("Not available on this machine: runs started here would fail. Choose auto to "
                                     "use the best device there is.")
            self.precision_note.setText(note)
            return
        unavailable = [label for label, value in DEVICE_CHOICES if self.detected.get(value) is None]
        missing = f"\nNot on this machine (greyed out): {', '.join(unavailable)}." if unavailable else ""
        self.device_note.setText(f"Trains on: {info['description']}.{missing}")
        refused = info["refused"].get(precision)
        self.precision_note.setText(f"{note} Here it would be refused: {refused}" if refused else note)

    # ------------------------------------------------------------------------------------- folder, theme

    @Slot()
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the folder for new projects",
                                                  str(nearest_existing(self.folder_edit.text().strip())))
        if folder:
            self.folder_edit.setText(folder)

    @Slot(int)
    def _on_theme_chosen(self, _index: int) -> None:
        theme.set_theme(_app(), self.theme.currentData())

    # ------------------------------------------------------------------------------------------- result

    def preferences(self) -> Preferences:
        """The preferences as the dialog shows them (the data folder unchecked)."""
        folder = Path(self.folder_edit.text().strip()).expanduser()
        return Preferences(device=self.device.currentData(), precision=self.precision.currentData(),
                           data_folder=folder, theme=self.theme.currentData())

    def accept(self) -> None:
        """Keep the dialog open with the reason when the data folder cannot hold projects; else emit and close."""
        problem = folder_problem(self.folder_edit.text().strip())
        if problem:
            self.folder_error.setText(problem)
            self.folder_error.setVisible(True)
            self.folder_edit.setFocus()
            return
        self.preferences_accepted.emit(self.preferences())
        super().accept()

    def reject(self) -> None:
        """Put the theme back as it was when the dialog opened."""
        if self.theme.currentData() != self.initial.theme:
            theme.set_theme(_app(), self.initial.theme)
        super().reject()


def _app() -> QApplication:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    return app


def _note(text: str) -> WrapLabel:
    label = WrapLabel(text)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label
