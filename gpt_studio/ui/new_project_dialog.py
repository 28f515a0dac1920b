"""Name a new project and see where it will be created: New project…, the sample corpus, importing a model.

A folder picker alone makes people create an empty folder inside the picker before anything happens, and
says nothing about what comes next. This dialog asks for a name, proposes the data folder of File ›
Settings… as the location (Browse… picks another), shows the full path it will create, and says what
happens after Create (build the sample, or choose the model to import). It creates nothing itself: the main
window makes the project when the dialog is accepted, so its errors go through the app's one error path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.project import SUBDIRS
from gpt_studio.ui.preferences import folder_problem, nearest_existing
from gpt_studio.ui.widgets.field_editor import ERROR_STYLE
from gpt_studio.ui.widgets.wrap_label import WrapLabel

BAD_NAME = re.compile(r"[/\\:*?\"<>|]")  # characters no folder name may hold on some platform we support
DIALOG_CHARS = 90  # the dialog's width in average characters: the intro wraps to a few lines


@dataclass(frozen=True)
class Purpose:
    """Why a project is being made: the dialog's title, explanation, proposed name and Create button."""

    title: str
    intro: str
    name: str
    action: str


NEW = Purpose("New project", "A project is one folder that holds everything of one piece of work: the corpus, the "
              "tokenizer, training runs and models.", "my-project", "Create")
SAMPLE = Purpose("Sample project", "GPT Studio creates this project and builds the sample corpus in it: the Python "
                 "documentation that comes with Python, imported, a tokenizer trained and the corpus encoded "
                 "(about a minute, no download). Then pretrain a first model on it.", "python-docs-sample",
                 "Create and build the sample")
IMPORT = Purpose("Import a pretrained model", "A model lives in a project, beside the data you fine-tune it on. "
                 "GPT Studio first creates this project, then asks for the Hugging Face GPT-2 or BERT folder to "
                 "import into it. If you cancel the import, the empty project stays open and File › Import "
                 "pretrained model… imports later.", "pretrained-models", "Create and choose the model…")


def free_name(location: Path, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``… : the first that is not taken in ``location``."""
    candidate, number = name, 2
    while (location / candidate).exists():
        candidate, number = f"{name}-{number}", number + 1
    return candidate


class NewProjectDialog(QDialog):
    """Name + location → :meth:`path`; Create is enabled once the path can be a new project."""

    def __init__(self, purpose: Purpose, location: str | Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.purpose = purpose
        self.setWindowTitle(purpose.title)
        location = Path(location).expanduser()
        self.name_edit = QLineEdit(free_name(location, purpose.name))
        self.name_edit.setToolTip("The project folder's name: letters, digits, spaces, - and _ are all fine.")
        self.location_edit = QLineEdit(str(location))
        self.location_edit.setToolTip("The folder the project folder is created in; File › Settings… sets the "
                                      "default (the data folder).")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        self.target = WrapLabel("")
        self.target.setObjectName("newProjectTarget")
        self.error = WrapLabel("")
        self.error.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.addButton(purpose.action, QDialogButtonBox.ButtonRole.AcceptRole)
        self.create_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._layout()
        self.name_edit.textChanged.connect(self._update)
        self.location_edit.textChanged.connect(self._update)
        self.name_edit.selectAll()
        self._update()

    def _layout(self) -> None:
        location_row = QHBoxLayout()
        location_row.addWidget(self.location_edit, 1)
        location_row.addWidget(self.browse_button)
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Location", location_row)
        layout = QVBoxLayout(self)
        layout.addWidget(WrapLabel(self.purpose.intro))
        layout.addLayout(form)
        layout.addWidget(self.target)
        layout.addWidget(self.error)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.resize(self.fontMetrics().averageCharWidth() * DIALOG_CHARS, self.sizeHint().height())

    def path(self) -> Path:
        """The project folder to create."""
        return Path(self.location_edit.text().strip()).expanduser() / self.name_edit.text().strip()

    def problem(self) -> str:
        """Why Create must wait ('' when it need not); cheap checks only, nothing is created."""
        name, location = self.name_edit.text().strip(), self.location_edit.text().strip()
        if not name:
            return "Name the project."
        if BAD_NAME.search(name) or name in (".", ".."):
            return "The name is a folder name, not a path: leave out / \\ : * ? \" < > |."
        if not location or not Path(location).expanduser().is_absolute():
            return "Choose the location with Browse… (a full path)."
        target = self.path()
        if target.is_file():
            return f"{target} is a file; choose another name."
        if target.is_dir() and any(p.name not in SUBDIRS for p in target.iterdir()):
            return f"{target} already exists and holds files; choose another name."
        return ""

    @Slot()
    def _update(self) -> None:
        problem = self.problem()
        self.target.setText("" if problem else f"Creates {self.path()}")
        self.error.setText(problem)
        self.error.setVisible(bool(problem))
        self.create_button.setEnabled(not problem)

    @Slot()
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose where to create the project",
                                                  str(nearest_existing(self.location_edit.text().strip())))
        if folder:
            self.location_edit.setText(folder)

    def accept(self) -> None:
        """Create only where the location can be written (checked now, by writing): else say why and stay."""
        problem = self.problem() or folder_problem(self.location_edit.text().strip())
        if problem:
            self.error.setText(problem)
            self.error.setVisible(True)
            return
        super().accept()
