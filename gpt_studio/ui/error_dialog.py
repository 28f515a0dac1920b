"""Messages to the person: an error with expandable details, a notice, and a yes/no question.

``show_error`` and ``show_notice`` open their box window-modally and return at once (``open()``, not
``exec()``): no nested event loop, so a job that fails while another dialog is up cannot re-enter a slot,
and running jobs keep reporting. Tests replace these functions at module level (callers look them up as
``error_dialog.show_error``) to capture the message instead of showing a box.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

TITLE = "GPT Studio"
_OPEN: set[QMessageBox] = set()  # Python owns parentless boxes; keep them alive until they close


def show_error(parent: QWidget | None, reason: str, details: str = "") -> QMessageBox:
    """Show ``reason`` (one line a person can act on) with ``details`` (e.g. a traceback) behind a button."""
    box = _box(parent, QMessageBox.Icon.Critical, reason)
    if details:
        box.setDetailedText(details)  # adds "Show Details…"; the traceback is there for a bug report
    return _open(box)


def show_notice(parent: QWidget | None, text: str) -> QMessageBox:
    """Tell the person something that is not an error (e.g. a recent project was removed from the list)."""
    return _open(_box(parent, QMessageBox.Icon.Information, text))


def confirm(parent: QWidget | None, question: str, accept_text: str) -> bool:
    """Ask a yes/no question and wait for the answer (modal: callers such as closeEvent need it now)."""
    box = _box(parent, QMessageBox.Icon.Question, question)
    box.setStandardButtons(QMessageBox.StandardButton.Cancel)
    accept = box.addButton(accept_text, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is accept


def _box(parent: QWidget | None, icon: QMessageBox.Icon, text: str) -> QMessageBox:
    box = QMessageBox(icon, TITLE, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # people paste errors into issues
    return box


def _open(box: QMessageBox) -> QMessageBox:
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowModality(Qt.WindowModality.WindowModal if box.parent() else Qt.WindowModality.ApplicationModal)
    _OPEN.add(box)
    box.finished.connect(lambda _result: _OPEN.discard(box))
    box.open()
    return box
