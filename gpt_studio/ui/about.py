"""Help › About: the versions a bug report needs, and the compute device (found off the GUI thread).

Versions come from package metadata so that opening About never imports torch on the GUI thread (≈1–2 s);
:func:`detect_compute_device` does that import in a start-up job instead.
"""

from __future__ import annotations

import html
import platform
import sys
from importlib import metadata

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from gpt_studio import __version__
from gpt_studio.engine.progress import Reporter

PACKAGES = ("torch", "pyqtgraph", "sentencepiece", "numpy")


def _package_version(name: str) -> str:
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__version__", None):
        return str(module.__version__)
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """Name → version of GPT Studio, Python, Qt/PySide6 and the libraries the engine relies on."""
    found = {"GPT Studio": __version__, "Python": platform.python_version(),
             "Qt": qVersion(), "PySide6": PySide6.__version__}
    found.update({name: _package_version(name) for name in PACKAGES})
    torch = sys.modules.get("torch")
    if torch is not None and getattr(torch.version, "cuda", None):
        found["CUDA (torch build)"] = str(torch.version.cuda)
    found["OS"] = f"{platform.system()} {platform.release()} ({platform.machine()})"
    return found


def detect_compute_device(reporter: Reporter | None = None) -> str:
    """Import torch, describe the device ``auto`` resolves to, and warm the optimizer code path.

    Runs in a start-up :class:`~gpt_studio.workers.Job`: the first ``torch.optim.Adam()`` takes ≈1 s holding
    the GIL (it imports ``torch._dynamo``); paying it here keeps the first training start from freezing the GUI.
    """
    if reporter is not None:
        reporter.progress(0, 0, "Loading torch", force=True)
    import torch

    from gpt_studio.engine.devices import describe, resolve_device

    device = resolve_device("auto")
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    return describe(device)


def about_html(device: str) -> str:
    """The About box's text: what the app is, then a table of versions and the compute device."""
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>&nbsp;&nbsp;{html.escape(v)}</td></tr>"
                   for k, v in versions().items())
    rows += f"<tr><td>Compute device</td><td>&nbsp;&nbsp;{html.escape(device or 'detecting…')}</td></tr>"
    return (f"<h3>GPT Studio {html.escape(__version__)}</h3>"
            "<p>Pretrain, fine-tune and probe small GPT and BERT models on your own text.</p>"
            f"<table>{rows}</table>")


def show_about(parent: QWidget | None, device: str) -> QMessageBox:
    """Open the About box (non-blocking, like the error dialog) and return it."""
    box = QMessageBox(QMessageBox.Icon.NoIcon, "About GPT Studio", about_html(device),
                      QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
