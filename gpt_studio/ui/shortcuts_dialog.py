"""Help › Keyboard shortcuts…: every shortcut of the window, read from its actions when the dialog opens.

The list is generated, not written down, so it cannot go stale: each menu's actions in menu order (the Go
menu holds the pane switches, Ctrl+1…4), then any other action of the window that has a shortcut. Keys are
shown in the platform's own notation (⌘ on macOS). Qt's standard keys also bind dedicated keys some
keyboards have (a "New" or "Close" key); those are left out of the text where a typed combination exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMainWindow,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.ui.widgets.wrap_label import WrapLabel

OTHER = "Elsewhere in the window"
DIALOG_CHARS = 72


@dataclass(frozen=True)
class ShortcutRow:
    """One command: the menu it is in, its name as the menu shows it, and its keys as text."""

    menu: str
    command: str
    keys: str
    action: QAction


def plain_text(text: str) -> str:
    """A menu text without its mnemonic marks ("&Open project…" → "Open project…", "&&" → "&")."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _typed(sequence: QKeySequence) -> bool:
    """Whether the sequence is typed with a modifier or is a function key (not a dedicated "New" key)."""
    combination = sequence[0]
    key = combination.key()
    return combination.keyboardModifiers() != Qt.KeyboardModifier.NoModifier or (
        Qt.Key.Key_F1.value <= key.value <= Qt.Key.Key_F35.value)


def keys_text(action: QAction) -> str:
    """The action's shortcuts in the platform's notation, typed combinations only where it has any."""
    sequences = [s for s in action.shortcuts() if not s.isEmpty()]
    shown = [s for s in sequences if _typed(s)] or sequences
    return ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in shown)


def shortcut_rows(window: QMainWindow) -> list[ShortcutRow]:
    """Every action of ``window`` with a shortcut: menu by menu in menu order, then the others."""
    rows: list[ShortcutRow] = []
    seen: set[int] = set()

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{path} › {plain_text(action.menu().title())}")
            elif not action.isSeparator() and id(action) not in seen and action.shortcuts():
                seen.add(id(action))
                rows.append(ShortcutRow(path, plain_text(action.text()), keys_text(action), action))

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), plain_text(top.menu().title()))
    for action in window.findChildren(QAction):
        if id(action) not in seen and action.shortcuts():
            seen.add(id(action))
            rows.append(ShortcutRow(OTHER, plain_text(action.text()), keys_text(action), action))
    return rows


class ShortcutsDialog(QDialog):
    """A two-column list (command, keys) grouped by menu; read-only, closes with Close or Escape."""

    def __init__(self, window: QMainWindow, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = shortcut_rows(window)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Command", "Shortcut"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.NoSelection)
        self.tree.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._fill()
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        metrics = self.fontMetrics()  # the keys column: its longest text and some air, never clipped
        widest = max([metrics.horizontalAdvance(r.keys) for r in self.rows] + [metrics.horizontalAdvance("Shortcut")])
        header.resizeSection(1, widest + metrics.averageCharWidth() * 4)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(WrapLabel("Every shortcut of the menus, read from them as this list opens. On the welcome "
                                   "page the pane switches wait until a project is open."))
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.tree.setMinimumHeight(self._tree_height())
        self.resize(self.fontMetrics().averageCharWidth() * DIALOG_CHARS, self.sizeHint().height())

    def _tree_height(self) -> int:
        """Tall enough for every row (there are a dozen or two), so the list never scrolls."""
        rows = self.tree.topLevelItemCount() + sum(self.tree.topLevelItem(i).childCount()
                                                    for i in range(self.tree.topLevelItemCount()))
        row = max(self.tree.sizeHintForRow(0), self.fontMetrics().height())
        return (rows + 1) * row + self.tree.header().sizeHint().height() + 2 * self.tree.frameWidth()

    def _fill(self) -> None:
        groups: dict[str, QTreeWidgetItem] = {}
        bold = self.font()
        bold.setBold(True)
        for row in self.rows:
            group = groups.get(row.menu)
            if group is None:
                group = groups[row.menu] = QTreeWidgetItem([row.menu, ""])
                group.setFont(0, bold)
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.tree.addTopLevelItem(group)
                group.setFirstColumnSpanned(True)
            item = QTreeWidgetItem([row.command, row.keys])
            item.setToolTip(1, ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText)
                                         for s in row.action.shortcuts()))
            group.addChild(item)
        self.tree.expandAll()

    def listed(self) -> list[tuple[str, str]]:
        """(command, keys) as shown, in order (for tests and the screenshot check)."""
        return [(r.command, r.keys) for r in self.rows]
