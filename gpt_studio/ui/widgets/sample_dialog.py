"""The "Download sample…" dialog: pick one public-domain corpus from the engine's catalogue.

This is the only place GPT Studio goes online, and only when the person asks: the dialog names the URL and
says whether the file's checksum is verified before anything is fetched.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.samples import CATALOG, SampleSource


class SampleDialog(QDialog):
    """A list of downloadable corpora; :meth:`chosen` is the selection once accepted."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Download a sample corpus")
        intro = QLabel("Public-domain texts to try GPT Studio with. The file is saved in the project's "
                       "<i>sources</i> folder and added to the sources list; import it afterwards.")
        intro.setWordWrap(True)
        self.list = QListWidget()
        for source in CATALOG:
            item = QListWidgetItem(f"{source.name}  ({source.size})\n{source.description}")
            item.setData(Qt.ItemDataRole.UserRole, source)
            item.setToolTip(source.url)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.list.setSpacing(3)
        self.list.currentItemChanged.connect(self._show_details)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton("Download", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.details)
        layout.addWidget(buttons)
        self.resize(560, 380)
        self._show_details()

    def chosen(self) -> SampleSource | None:
        """The selected corpus."""
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _show_details(self) -> None:
        source = self.chosen()
        if source is None:
            self.details.clear()
            return
        check = (f"verified against sha256 {source.sha256[:16]}…" if source.sha256 else
                 "not verified (the publisher regenerates this file, so no fixed checksum is known)")
        self.details.setText(f"<small>{source.url}<br>Checksum: {check}</small>")
