"""Look and feel: the platform's own palette (light or dark), and pyqtgraph's colours taken from it.

By default (theme "system") we ship no colour scheme: Qt picks the native style and the system palette, and
follows the system's light/dark switch by itself; the one exception is the classic ``windowsvista`` style,
which cannot draw dark, so we switch to Fusion there. A person may choose Light or Dark in File › Settings…
(:func:`set_theme`): those use Qt's Fusion style with a full palette of ours, so they look the same on every
platform and work where the platform has no dark mode of its own (many Linux desktops). Plots are not widgets
Qt re-colours, so :func:`sync_plot_colors` copies the palette into pyqtgraph's defaults (at start-up and
whenever the palette changes); the plot widgets restyle themselves on their PaletteChange event.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QIconEngine, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QStyleFactory, QWidget


def apply_theme(app: QApplication) -> None:
    """Keep the native style unless it cannot show the system's dark mode; set plot colours."""
    dark = app.styleHints().colorScheme() == Qt.ColorScheme.Dark
    if dark and app.style().name().lower() == "windowsvista":
        app.setStyle("Fusion")
    app.styleHints().colorSchemeChanged.connect(lambda _scheme: sync_plot_colors(app.palette()))
    sync_plot_colors(app.palette())


NATIVE_STYLE_PROPERTY = "gptStudioNativeStyle"  # the style before a Light/Dark choice, restored by "system"


def set_theme(app: QApplication, name: str) -> None:
    """Apply a theme of ``preferences.THEMES`` now: every widget and plot repaints; no restart needed.

    "system" after Light or Dark restores the native style and hands the palette back to the platform (a
    default-constructed palette sets no colour, so Qt resolves every role from the system's again and keeps
    following its light/dark switch). "system" when nothing was changed does nothing, so a palette set
    before (the screenshot script's dark preview) stays.
    """
    native = app.property(NATIVE_STYLE_PROPERTY)
    if name == "system":
        if native is None:
            return
        app.setProperty(NATIVE_STYLE_PROPERTY, None)
        if app.style().name().lower() != str(native).lower():
            app.setStyle(str(native))
        _request_color_scheme(app, None)
        app.setPalette(QPalette())
    else:
        if native is None:
            app.setProperty(NATIVE_STYLE_PROPERTY, app.style().name())
        if app.style().name().lower() != "fusion":
            app.setStyle("Fusion")
        _request_color_scheme(app, Qt.ColorScheme.Dark if name == "dark" else Qt.ColorScheme.Light)
        app.setPalette(dark_palette() if name == "dark" else light_palette())
    sync_plot_colors(app.palette())


def _request_color_scheme(app: QApplication, scheme: Qt.ColorScheme | None) -> None:
    """Tell the platform too (Qt ≥ 6.8), so window title bars match where it can; a no-op elsewhere."""
    hints = app.styleHints()
    if scheme is None and hasattr(hints, "unsetColorScheme"):
        hints.unsetColorScheme()
    elif scheme is not None and hasattr(hints, "setColorScheme"):
        hints.setColorScheme(scheme)


def sync_plot_colors(palette: QPalette) -> None:
    """Make pyqtgraph's default background/foreground follow the widget palette (new plots pick them up)."""
    import pyqtgraph as pg

    pg.setConfigOptions(background=palette.color(QPalette.ColorRole.Base),
                        foreground=palette.color(QPalette.ColorRole.Text), antialias=True)


def refresh_palette_dependents(root: QWidget, palette: QPalette) -> None:
    """After a palette change, recolour what Qt does not: plots, and style sheets naming palette colours.

    A style sheet such as ``color: palette(placeholder-text)`` is resolved once, when the widget is polished;
    setting it again resolves it against the new palette (muted text stays readable after Light → Dark).
    """
    restyle_plots(root, palette)
    for widget in [root, *root.findChildren(QWidget)]:
        sheet = widget.styleSheet()
        if "palette(" in sheet:
            widget.setStyleSheet(sheet)


def restyle_plots(root: QWidget, palette: QPalette) -> None:
    """Recolour the background and axes of every plot under ``root``.

    Most plot widgets take their colours once, when they are made; without this a theme switch would leave
    white plots in a dark window until the app restarts. Nothing to do before pyqtgraph is first imported.
    """
    pg = sys.modules.get("pyqtgraph")
    if pg is None:
        return
    from gpt_studio.ui.widgets.monitor_plots import style_plot

    for plot in root.findChildren(pg.PlotWidget):
        style_plot(plot, palette)


def scaled_font(widget: QWidget, factor: float, bold: bool = False) -> QFont:
    """The widget's font scaled by ``factor``: sizes relative to the user's font stay right at any DPI."""
    font = QFont(widget.font())
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * factor)
    else:
        font.setPixelSize(round(font.pixelSize() * factor))
    font.setBold(bold)
    return font


def secondary_text_color(palette: QPalette) -> QColor:
    """A muted colour for explanations under a heading, readable in light and dark palettes."""
    return palette.color(QPalette.ColorRole.PlaceholderText)


def dark_palette() -> QPalette:
    """A dark palette in Fusion's colours, to preview dark mode where the platform reports none (offscreen)."""
    window, base, text = QColor(45, 45, 48), QColor(30, 30, 32), QColor(230, 230, 230)
    palette = QPalette()
    for role, color in ((QPalette.ColorRole.Window, window), (QPalette.ColorRole.WindowText, text),
                        (QPalette.ColorRole.Base, base), (QPalette.ColorRole.AlternateBase, window),
                        (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, window),
                        (QPalette.ColorRole.ButtonText, text), (QPalette.ColorRole.ToolTipBase, base),
                        (QPalette.ColorRole.ToolTipText, text), (QPalette.ColorRole.Highlight, QColor(42, 130, 218)),
                        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
                        (QPalette.ColorRole.Link, QColor(90, 160, 240)),
                        (QPalette.ColorRole.PlaceholderText, QColor(150, 150, 150)),
                        (QPalette.ColorRole.Mid, QColor(70, 70, 74)), (QPalette.ColorRole.Dark, QColor(25, 25, 27)),
                        (QPalette.ColorRole.Light, QColor(75, 75, 80))):
        palette.setColor(role, color)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 120))
    return palette


def light_palette() -> QPalette:
    """Fusion's own light palette: the Light theme, whatever the system is set to."""
    style = QStyleFactory.create("Fusion")
    palette = QPalette(style.standardPalette())
    palette.setColor(QPalette.ColorRole.PlaceholderText, QColor(110, 110, 110))  # readable muted text on white
    return palette


# --------------------------------------------------------------------------------------------- line icons

def _document(p: QPainter) -> None:
    """A page with lines of text (the corpus)."""
    p.drawRoundedRect(QRectF(5, 3, 14, 18), 1.5, 1.5)
    for y in (8, 11.5, 15):
        p.drawLine(QPointF(8, y), QPointF(16, y))


def _loss_curve(p: QPainter) -> None:
    """Axes and a falling curve (pretraining's loss)."""
    p.drawPolyline([QPointF(4, 3), QPointF(4, 20), QPointF(21, 20)])
    curve = QPainterPath(QPointF(6, 5))
    curve.cubicTo(QPointF(9, 15), QPointF(13, 16), QPointF(20, 17))
    p.drawPath(curve)


def _sliders(p: QPainter) -> None:
    """Three sliders (fine-tuning's adjustments)."""
    for x, knob in ((6, 9), (12, 15), (18, 7)):
        p.drawLine(QPointF(x, 3), QPointF(x, 21))
        p.drawEllipse(QPointF(x, knob), 2.2, 2.2)


def _bubble(p: QPainter) -> None:
    """A speech bubble with a prompt cursor (the playground)."""
    path = QPainterPath()
    path.addRoundedRect(QRectF(3, 4, 18, 13), 3, 3)
    path.moveTo(8, 17)
    path.lineTo(7, 21)
    path.lineTo(12, 17)
    p.drawPath(path)
    p.drawLine(QPointF(8, 10.5), QPointF(13, 10.5))
    p.drawLine(QPointF(16, 8), QPointF(16, 13))


def _folder(p: QPainter) -> None:
    """A folder (open a project)."""
    path = QPainterPath(QPointF(3, 6))
    for x, y in ((9, 6), (11, 8), (21, 8), (21, 19), (3, 19)):
        path.lineTo(x, y)
    path.closeSubpath()
    p.drawPath(path)


def _new_folder(p: QPainter) -> None:
    """A folder with a plus (new project)."""
    _folder(p)
    p.drawLine(QPointF(12, 11), QPointF(12, 17))
    p.drawLine(QPointF(9, 14), QPointF(15, 14))


def _import_box(p: QPainter) -> None:
    """An arrow down into an open tray (import a model)."""
    p.drawPolyline([QPointF(4, 13), QPointF(4, 20), QPointF(20, 20), QPointF(20, 13)])
    p.drawLine(QPointF(12, 3), QPointF(12, 15))
    p.drawPolyline([QPointF(7.5, 10.5), QPointF(12, 15), QPointF(16.5, 10.5)])


ICON_DRAWINGS: dict[str, Callable[[QPainter], None]] = {
    "corpus": _document, "pretrain": _loss_curve, "finetune": _sliders, "playground": _bubble,
    "folder": _folder, "new-folder": _new_folder, "import": _import_box}


class _LineIconEngine(QIconEngine):
    """Paints a line drawing (24 × 24 units) at any size in the palette's text colour.

    Vector drawing keeps it sharp at every DPI; reading the colour at paint time keeps it right in dark mode.
    """

    def __init__(self, draw: Callable[[QPainter], None]) -> None:
        super().__init__()
        self._draw = draw

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:  # noqa: D102
        palette = QApplication.palette()
        role = QPalette.ColorRole.HighlightedText if mode == QIcon.Mode.Selected else QPalette.ColorRole.WindowText
        group = QPalette.ColorGroup.Disabled if mode == QIcon.Mode.Disabled else QPalette.ColorGroup.Active
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(rect.topLeft())
        painter.scale(rect.width() / 24, rect.height() / 24)
        painter.setPen(QPen(palette.color(group, role), 1.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                            Qt.PenJoinStyle.RoundJoin))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        self._draw(painter)
        painter.restore()

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:  # noqa: D102
        pixmap = QPixmap(size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        self.paint(painter, QRect(0, 0, size.width(), size.height()), mode, state)
        painter.end()
        return pixmap

    def clone(self) -> QIconEngine:  # noqa: D102
        return _LineIconEngine(self._draw)


def line_icon(name: str) -> QIcon:
    """One of :data:`ICON_DRAWINGS` as a scalable icon."""
    return QIcon(_LineIconEngine(ICON_DRAWINGS[name]))
