"""The Fine-tune wizard: eight steps in a stack, a step list on the left, Back / Next with the reason Next waits.

Pages share one :class:`FinetuneChoices`; going Back never clears a page, so every choice is still there when
the person comes forward again. Next on the options step starts training; while it runs the person stays on
the train step (Back would hide a live run). Finished runs tell the app state that ``models`` changed.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.project import Project
from gpt_studio.ui.state import AppState
from gpt_studio.ui.widgets.finetune_base_page import BasePage
from gpt_studio.ui.widgets.finetune_common import WARNING_STYLE, FinetuneChoices, WizardPage, note
from gpt_studio.ui.widgets.finetune_data_page import DataPage
from gpt_studio.ui.widgets.finetune_labels_page import LabelsPage
from gpt_studio.ui.widgets.finetune_options_page import OptionsPage
from gpt_studio.ui.widgets.finetune_results_page import ResultsPage
from gpt_studio.ui.widgets.finetune_save_page import SavePage
from gpt_studio.ui.widgets.finetune_task_page import TaskPage
from gpt_studio.ui.widgets.finetune_train_page import TrainPage

BASE, TASK, DATA, LABELS, OPTIONS, TRAIN, RESULTS, SAVE = range(8)
NEXT_TEXT = {OPTIONS: "Train", TRAIN: "See results"}


class FinetuneWizard(QWidget):
    """The eight steps, their order and the rules for moving between them."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.choices = FinetuneChoices(project=state.project)
        c = self.choices
        self.base_page, self.task_page, self.data_page = BasePage(c), TaskPage(c), DataPage(c)
        self.labels_page, self.options_page, self.train_page = LabelsPage(c), OptionsPage(c), TrainPage(c)
        self.results_page, self.save_page = ResultsPage(c), SavePage(c)
        self.pages: list[WizardPage] = [self.base_page, self.task_page, self.data_page, self.labels_page,
                                        self.options_page, self.train_page, self.results_page, self.save_page]
        self.current = 0
        self._build()
        for page in self.pages:
            page.changed.connect(self._update_nav)
        self.train_page.run_finished.connect(self._on_run_finished)
        self.save_page.renamed.connect(lambda _path: self.state.notify_changed("models"))
        self.save_page.restart_requested.connect(lambda: self.go_to(BASE))
        self.base_page.import_requested.connect(self.state.request_import_model)
        self.base_page.pretrain_requested.connect(lambda: self.state.request_pane("pretrain"))
        self._apply_preferences(self.state.preferences)
        self.state.preferences_changed.connect(self._apply_preferences)
        self.go_to(BASE)

    def _apply_preferences(self, preferences: Any) -> None:
        """The options start from the default device and precision of File › Settings…."""
        self.options_page.set_hardware_defaults(preferences.device, preferences.precision)

    def _build(self) -> None:
        self.steps = QListWidget()
        for k, page in enumerate(self.pages):
            self.steps.addItem(QListWidgetItem(f"{k + 1}  {page.title}"))
        self.steps.setFixedWidth(self.steps.sizeHintForColumn(0) + self.fontMetrics().averageCharWidth() * 6)
        self.steps.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.steps.itemClicked.connect(self._on_step_clicked)
        self.stack = QStackedWidget()
        for page in self.pages:
            self.stack.addWidget(page)
        self.reason_label = note(style=WARNING_STYLE)
        self.back_button = QPushButton("Back")
        self.back_button.setToolTip("The previous step; every choice is kept.")
        self.back_button.clicked.connect(self.go_back)
        self.next_button = QPushButton("Next")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self.go_next)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        nav = QHBoxLayout()
        nav.addWidget(self.reason_label, 1)
        nav.addWidget(self.back_button)
        nav.addWidget(self.next_button)
        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.stack, 1)
        right.addWidget(line)
        right.addLayout(nav)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.steps)
        layout.addLayout(right, 1)

    # ---------------------------------------------------------------------------------------- moving

    @property
    def page(self) -> WizardPage:
        """The step shown."""
        return self.pages[self.current]

    def go_to(self, index: int) -> None:
        """Show step ``index`` and let it pick up what earlier steps chose."""
        self.current = index
        self.stack.setCurrentIndex(index)
        self.page.enter()
        self._update_nav()

    def go_next(self) -> bool:
        """Forward one step when the current one is complete (from Options this starts training)."""
        if self.page.reason() or self.current >= SAVE:
            return False
        if self.current == OPTIONS and self.train_page.start(self.request()) is None:
            return False
        self.go_to(self.current + 1)
        return True

    def go_back(self) -> bool:
        """Back one step (not while training: the run would go on unseen)."""
        if self.current == BASE or self.page.busy():
            return False
        self.go_to(self.current - 1)
        return True

    def _on_step_clicked(self, item: QListWidgetItem) -> None:
        target = self.steps.row(item)
        if target < self.current and not self.page.busy():
            self.go_to(target)
        else:
            self.steps.setCurrentRow(self.current)

    def _update_nav(self) -> None:
        reason = self.page.reason()
        last = self.current >= SAVE
        self.next_button.setVisible(not last)
        self.next_button.setEnabled(not reason and not last)
        self.next_button.setText(NEXT_TEXT.get(self.current, "Next"))
        self.next_button.setToolTip(f"Not yet: {reason}" if reason else "")
        self.back_button.setEnabled(self.current > BASE and not self.page.busy())
        self.reason_label.setText(reason)  # never hidden: it holds the buttons at the right
        for k in range(self.steps.count()):
            item = self.steps.item(k)
            item.setText(f"{'✓' if k < self.current else str(k + 1)}  {self.pages[k].title}")
            reachable = k <= self.current
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable if reachable
                          else Qt.ItemFlag.NoItemFlags)
        self.steps.setCurrentRow(self.current)

    # ------------------------------------------------------------------------------------------ training

    def request(self) -> Any:
        """The fine-tuning request the choices add up to."""
        from gpt_studio.engine.finetune_data import LabelPlan
        from gpt_studio.workers.finetune import FinetuneRequest

        c = self.choices
        plan = LabelPlan(rename=dict(c.plan.rename), exclude=set(c.plan.exclude))
        return FinetuneRequest(base=c.base, task=c.task, train_path=c.train_path, columns=c.columns,
                               config=c.config, plan=plan, regression=c.regression, eval_path=c.eval_path,
                               name=c.name or None, max_examples=c.max_examples)

    def _on_run_finished(self, result: dict[str, Any] | None) -> None:
        if result is not None:
            self.state.notify_changed("models")
        self._update_nav()

    # ------------------------------------------------------------------------------------------- project

    def set_project(self, project: Project | None) -> None:
        """Another project: stop a run in this one, start again at the first step (data choices are kept)."""
        if self.train_page.busy():
            self.train_page.stop()
        self.results_page.shutdown()  # an analysis of the old project's model ends here, not in the new one
        self.choices.project = project
        self.choices.base = None
        self.go_to(BASE)

    def refresh_bases(self) -> None:
        """A run or model changed elsewhere: re-read the list if it is showing."""
        if self.current == BASE:
            self.base_page.refresh()

    def shutdown(self) -> None:
        """Stop a running fine-tuning and wait for it (the main window is closing)."""
        self.train_page.shutdown()
        self.results_page.shutdown()
        self.data_page.shutdown()
