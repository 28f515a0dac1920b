"""The Playground pane: pick a trained model and try it: generate, fill masks, zero-shot, classify, inspect tokens.

Top: the model picker (the project's runs and saved models, newest first) and a Load button; loading runs on a
worker and the loaded model stays in memory for every tab. Below: one tab per way of asking the model. The
pane decides which tabs fit the loaded model (:func:`tab_reasons`); a tab that does not is disabled, with the
reason as its tooltip and inside it. While a tab works (generation, dataset scoring), the picker is locked so
the model cannot change under it. Like the Pretrain pane, the body imports torch (through the engine), so it
is built the first time the pane is shown with a project open, not when the main window starts.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.project import Project
from gpt_studio.ui import error_dialog
from gpt_studio.ui.state import AppState
from gpt_studio.ui.widgets.empty_state import EmptyState

SHUTDOWN_WAIT_MS = 30_000
PAGE_NO_PROJECT, PAGE_LOADING, PAGE_BODY = range(3)
TAB_KEYS = ("generate", "fill_mask", "zero_shot", "classify", "inspector")
SHARED_POLL_MS = 1000  # how often a shown Playground looks for training runs it shares the device with
FAMILY_NAMES = {"gpt": "GPT", "bert": "BERT"}
REASONS = {
    "generate": "Generate needs a GPT-style model, which writes left to right; this BERT-style model fills in "
                "masked words instead: try Fill mask.",
    "fill_mask": "Fill mask needs a BERT-style (masked) model; this GPT-style model only reads left to right: "
                 "try Generate.",
    "classify": "Classify needs a fine-tuned classifier (make one in Fine-tune); this model was only pretrained.",
    "classify_missing": "Classifying with a fine-tuned model is not available in this build yet; use "
                        "`gpt-studio predict` on the command line meanwhile.",
    "no_lm_head": "This classifier was saved without its masked-language-model head, so it cannot predict or "
                  "score tokens; use Classify.",
}
NO_MODELS = ("<h3>Playground</h3><p>No trained model in this project yet. Pretrain one in <b>Pretrain</b> "
             "(Ctrl+2) — even a few minutes on Tiny Shakespeare gives text to play with — fine-tune one in "
             "<b>Fine-tune</b> (Ctrl+3), or import a published GPT-2 or BERT. Its checkpoints appear here.</p>")


def show_error(parent: QWidget | None, reason: str, details: str = "") -> None:
    """The app's error dialog, looked up at call time (tests replace this function to capture messages)."""
    error_dialog.show_error(parent, reason, details)


def tab_reasons(family: str, finetune: dict[str, Any] | None, classify_ready: bool = True,
                lm_head: bool = True) -> dict[str, str | None]:
    """For each tab, None when it fits a model of ``family`` (gpt | bert), else a one-line reason why not.

    A GPT generates and a BERT fills masks; both score zero-shot (BERT by pseudo-log-likelihood) and both can
    be inspected token by token, as long as the model has its language-model head (a GPT's is tied to its
    embedding; a BERT classifier may be saved without it). Classify needs a fine-tuned classifier, and the
    engine's call to run one.
    """
    reasons: dict[str, str | None] = dict.fromkeys(TAB_KEYS)
    if family != "gpt":
        reasons["generate"] = REASONS["generate"]
    if family != "bert":
        reasons["fill_mask"] = REASONS["fill_mask"]
    elif not lm_head:
        for key in ("fill_mask", "zero_shot", "inspector"):
            reasons[key] = REASONS["no_lm_head"]
    if not finetune:
        reasons["classify"] = REASONS["classify"]
    elif not classify_ready:
        reasons["classify"] = REASONS["classify_missing"]
    return reasons


class PlaygroundPane(QWidget):
    """Load a model once, then try it in every tab that fits it."""

    model_loaded = Signal(object)  # the LoadedModel
    models_listed = Signal(int)  # how many models the picker offers

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.loaded: Any = None  # LoadedModel
        self.entries: list[Any] = []  # ModelEntry list behind the picker
        self.tabs_by_key: dict[str, Any] = {}
        self.built = False
        self.stack = QStackedWidget()
        for text in ("Open or create a project to try its models here.", "Loading the playground…"):
            label = QLabel(text)
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.stack.addWidget(label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.stack)
        state.project_changed.connect(self.set_project)
        state.part_changed.connect(self._on_part_changed)
        requested = getattr(state, "model_requested", None)  # "Open in Playground" elsewhere, once AppState has it
        if requested is not None:
            requested.connect(self.open_model)
        self.set_project(state.project)

    # -------------------------------------------------------------------------------------- building

    def ensure_built(self) -> None:
        """Build the picker and the tabs (imports torch through the engine; once)."""
        if self.built:
            return
        from gpt_studio.ui.widgets.job_bar import JobBar
        from gpt_studio.ui.widgets.playground_classify import ClassifyTab, classifier_available
        from gpt_studio.ui.widgets.playground_common import muted_label
        from gpt_studio.ui.widgets.playground_fill_mask import FillMaskTab
        from gpt_studio.ui.widgets.playground_generate import GenerateTab
        from gpt_studio.ui.widgets.playground_inspector import InspectorTab
        from gpt_studio.ui.widgets.playground_zero_shot import ZeroShotTab

        self._classify_ready = classifier_available()
        self.picker = QComboBox()
        self.picker.setMinimumContentsLength(40)
        self.picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.picker.setToolTip("The project's pretraining runs (their latest checkpoint) and saved models, newest "
                               "first.")
        self.load_button = QPushButton("Load")
        self.load_button.setToolTip("Load the chosen model into memory; every tab then uses it.")
        self.load_button.clicked.connect(self.load_selected)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Look for new runs and saved models.")
        self.refresh_button.clicked.connect(self.refresh_models)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the chosen model as a Hugging Face folder that transformers loads.")
        self.export_button.clicked.connect(self.export_selected)
        self.status = muted_label("No model loaded.")
        self.shared_note = muted_label("")
        self.shared_note.setObjectName("sharedDeviceNote")
        self.shared_note.hide()
        self._shared_timer = QTimer(self, interval=SHARED_POLL_MS)
        self._shared_timer.timeout.connect(self.update_shared_note)
        self.load_bar = JobBar("")
        self.load_bar.failed.connect(self._on_failed)
        self.load_bar.running_changed.connect(lambda _running: self._update_locks())
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for key, cls in zip(TAB_KEYS, (GenerateTab, FillMaskTab, ZeroShotTab, ClassifyTab, InspectorTab),
                            strict=True):
            tab = cls()
            tab.failed.connect(self._on_failed)
            tab.busy_changed.connect(lambda _busy: self._update_locks())
            self.tabs_by_key[key] = tab
            self.tabs.addTab(tab, tab.title)
        self.no_models = EmptyState(NO_MODELS)
        self.no_models.add_button("Go to Pretrain", lambda: self.state.request_pane("pretrain"))
        self.no_models.add_button("Go to Fine-tune", lambda: self.state.request_pane("finetune"))
        self.no_models.add_button("Import a pretrained model…", self.state.request_import_model,
                                  "Bring a Hugging Face GPT-2 or BERT folder into this project (File › Import "
                                  "pretrained model…).")
        self.inner = QStackedWidget()
        self.inner.addWidget(self.no_models)
        self.inner.addWidget(self.tabs)
        self.stack.addWidget(self._body())
        self.built = True
        self._apply_model(None)
        self._show_project()
        if self.isVisible():
            self.update_shared_note()
            self._shared_timer.start()

    def _build_or_explain(self) -> None:
        """Build the body; if that fails (a broken install), say so on the page instead of a silent hang."""
        try:
            self.ensure_built()
        except Exception as exc:  # noqa: BLE001 - the rest of the app must stay usable
            import traceback

            traceback.print_exc()
            page = self.stack.widget(PAGE_LOADING)
            assert isinstance(page, QLabel)
            page.setText(f"The Playground could not be loaded: {exc}. Report this with the traceback printed on "
                         "the terminal.")

    def _body(self) -> QWidget:
        body = QWidget()
        row = QHBoxLayout()
        row.addWidget(QLabel("Model:"))
        row.addWidget(self.picker, 1)
        row.addWidget(self.load_button)
        row.addWidget(self.refresh_button)
        row.addWidget(self.export_button)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.shared_note)
        layout.addWidget(self.load_bar)
        layout.addWidget(self.inner, 1)
        return body

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Build the body the first time the pane is shown with a project (after it has painted); re-list models."""
        super().showEvent(event)
        if self.project is None:
            return
        if not self.built:
            QTimer.singleShot(0, self, self._build_or_explain)
        else:
            self.refresh_models()  # runs trained from the command line meanwhile
            self.update_shared_note()
            self._shared_timer.start()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        """Nobody reads the note while the pane is hidden: stop looking for runs."""
        super().hideEvent(event)
        if self.built:
            self._shared_timer.stop()

    def update_shared_note(self) -> None:
        """Say so while a pretraining or fine-tuning run trains in this window: the Playground shares its device."""
        from gpt_studio.workers.training import describe_run, training_jobs

        runs = [describe_run(job) for job in training_jobs()]
        self.shared_note.setVisible(bool(runs))
        if runs:
            self.shared_note.setText(
                f"While {' and '.join(runs)} trains, the Playground shares the same CPU or GPU: answers come more "
                "slowly, and so does training. On a GPU they also share its memory; if a request runs out of it, "
                "pause the run, or choose the CPU in File › Settings… and load the model again.")

    def tab(self, key: str) -> Any:
        """The tab for ``key`` (one of TAB_KEYS)."""
        return self.tabs_by_key[key]

    # --------------------------------------------------------------------------------------- project

    @property
    def project(self) -> Project | None:
        """The open project."""
        return self.state.project

    def set_project(self, project: Project | None) -> None:
        """A new project (or none): stop the tabs' work, forget the loaded model, list the new project's models."""
        if self.built:
            self._cancel_all()
            self._apply_model(None)
        self._show_project()
        if project is not None and self.isVisible() and not self.built:
            QTimer.singleShot(0, self, self._build_or_explain)

    def _show_project(self) -> None:
        if self.project is None:
            self.stack.setCurrentIndex(PAGE_NO_PROJECT)
        elif not self.built:
            self.stack.setCurrentIndex(PAGE_LOADING)
        else:
            self.stack.setCurrentIndex(PAGE_BODY)
            self.refresh_models()

    def _on_part_changed(self, part: str) -> None:
        if part in ("runs", "models") and self.built and self.project is not None:
            self.refresh_models()

    def refresh_models(self) -> None:
        """List the project's runs and saved models in the picker, keeping the chosen one when it is still there."""
        from gpt_studio.engine.errors import StudioError
        from gpt_studio.engine.loading import list_models

        if not self.built or self.project is None:
            return
        chosen = self.picker.currentData()
        try:
            self.entries = list_models(self.project)
        except (StudioError, OSError) as exc:
            self.entries = []
            self.status.setText(f"Could not list the models: {exc}")
        self.picker.blockSignals(True)
        self.picker.clear()
        for entry in self.entries:
            family = FAMILY_NAMES.get(entry.family, entry.family)
            self.picker.addItem(f"{family} · {entry.description}", entry.spec)
            self.picker.setItemData(self.picker.count() - 1, str(entry.path), Qt.ItemDataRole.ToolTipRole)
        index = self.picker.findData(chosen) if chosen is not None else -1
        self.picker.setCurrentIndex(index if index >= 0 else 0 if self.entries else -1)
        self.picker.blockSignals(False)
        self.inner.setCurrentIndex(1 if self.entries or self.loaded is not None else 0)
        self._update_locks()
        self.models_listed.emit(len(self.entries))

    # ----------------------------------------------------------------------------------------- loading

    def select_model(self, spec: str) -> bool:
        """Choose ``spec`` in the picker (as a person would); False when it is not listed."""
        index = self.picker.findData(spec)
        if index >= 0:
            self.picker.setCurrentIndex(index)
        return index >= 0

    def open_model(self, spec: str) -> bool:
        """Show ``spec`` (a run id or a saved model's name) in the picker and load it: "Open in Playground"."""
        self.ensure_built()
        self.refresh_models()
        return self.select_model(spec) and self.load_selected()

    def load_selected(self) -> bool:
        """Load the chosen model on a worker; False when nothing is chosen or work is under way."""
        from gpt_studio.engine.loading import load_model

        spec, project = self.picker.currentData(), self.project
        if spec is None or project is None or self.busy:
            return False
        device = self.state.preferences.device  # File › Settings…'s default device ("auto": the GPU if any)

        def work(reporter: Any) -> Any:
            reporter.progress(0, 0, f"Loading {spec}…")
            return load_model(spec, project, device=device)

        self.load_bar.run(work, f"loading {spec}", self._on_loaded)
        return True

    def _on_loaded(self, loaded: Any) -> None:
        self.load_bar.set_message("")
        self._apply_model(loaded)
        self.model_loaded.emit(loaded)

    def _apply_model(self, loaded: Any) -> None:
        """Give every tab the model (or its reason not to use it); disable the tabs that do not fit."""
        self.loaded = loaded
        reasons = (tab_reasons(loaded.family, loaded.finetune, self._classify_ready, getattr(loaded, "lm_head", True))
                   if loaded is not None else dict.fromkeys(TAB_KEYS))
        for index, key in enumerate(TAB_KEYS):
            reason = reasons[key]
            self.tabs_by_key[key].set_model(loaded, reason)
            self.tabs.setTabEnabled(index, reason is None)
            self.tabs.setTabToolTip(index, reason or "")
        if not self.tabs.isTabEnabled(self.tabs.currentIndex()):
            enabled = [i for i in range(self.tabs.count()) if self.tabs.isTabEnabled(i)]
            if enabled:
                self.tabs.setCurrentIndex(enabled[0])
        self.status.setText(_loaded_text(loaded))
        self._update_locks()

    # ------------------------------------------------------------------------------------------ jobs

    @property
    def busy(self) -> bool:
        """Whether a model loads or a tab works."""
        return self.built and (self.load_bar.is_running or any(t.busy for t in self.tabs_by_key.values()))

    def _update_locks(self) -> None:
        """The model cannot change while a tab uses it or another loads."""
        busy = self.busy
        self.picker.setEnabled(not busy and bool(self.entries))
        self.load_button.setEnabled(not busy and bool(self.entries))
        self.refresh_button.setEnabled(not busy)
        self.export_button.setEnabled(bool(self.entries))
        tip = "Stop the running work first: the model cannot change under it." if busy else ""
        self.load_button.setToolTip(tip or "Load the chosen model into memory; every tab then uses it.")

    def export_selected(self) -> None:
        """Export the picker's model (a run's latest checkpoint or a saved model) on the dialog's worker."""
        from gpt_studio.ui.export_dialog import ExportDialog

        index = self.picker.currentIndex()
        if self.project is None or not 0 <= index < len(self.entries):
            return
        entry = self.entries[index]
        ExportDialog(entry.spec, self.project, self, description=entry.description).open()

    def _on_failed(self, reason: str, details: str) -> None:
        show_error(self, reason, details)

    def _cancel_all(self) -> None:
        self.load_bar.cancel()
        for tab in self.tabs_by_key.values():
            if tab.busy:
                tab.cancel()

    def shutdown(self) -> None:
        """Stop generation and scoring and wait for them (the main window calls this when it closes)."""
        if not self.built:
            return
        from gpt_studio.ui.app import wait_for_jobs

        jobs = [bar.job for bar in (self.load_bar, *(t.job_bar for t in self.tabs_by_key.values())) if bar.job]
        jobs += [job for t in self.tabs_by_key.values() if (job := getattr(t, "job", None)) is not None]
        self._cancel_all()
        wait_for_jobs(jobs, SHUTDOWN_WAIT_MS)


def _loaded_text(loaded: Any) -> str:
    """The status line about the loaded model (its description already names its size and task)."""
    if loaded is None:
        return "No model loaded: choose one and click Load."
    config = loaded.model.config
    device = next(loaded.model.parameters()).device
    return (f"Loaded {loaded.description}: a {FAMILY_NAMES.get(loaded.family, loaded.family)} with "
            f"{config.n_layer} layers of width {config.d_model}, reading {config.context_length:,} tokens at a time "
            f"from a vocabulary of {loaded.tokenizer.vocab_size:,} (on {device.type}).")
