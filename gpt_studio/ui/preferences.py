r"""The user's preferences (default device and precision, data folder, theme), typed, over the window's QSettings.

Kept apart from the settings dialog so panes and tests read them without widgets. Every key is stored under
``preferences/`` and read back through :func:`load`, which falls back to the default for a missing or unknown
value (a hand-edited INI file, or a value an older or newer version wrote) instead of failing at start-up.

The default data folder is ``platformdirs.user_data_dir("gpt-studio")/projects`` (e.g.
``~/.local/share/gpt-studio/projects`` on Linux, ``~/Library/Application Support/gpt-studio/projects`` on macOS,
``%LOCALAPPDATA%\gpt-studio\projects`` on Windows): the per-user place for application data that is not
configuration, with one folder per project under it. It is only proposed (New project, the sample, importing a
model from the welcome page); a project may live anywhere. Nothing here creates it: a folder appears when the
person accepts it (settings dialog) or creates a project in it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs
from PySide6.QtCore import QSettings

from gpt_studio.engine.trainer_config import DEVICES, PRECISIONS

APP_DIR_NAME = "gpt-studio"
THEMES = ("system", "light", "dark")
THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
KEYS = {"device": "preferences/device", "precision": "preferences/precision",
        "data_folder": "preferences/data_folder", "theme": "preferences/theme"}


def default_data_folder() -> Path:
    """Where projects are proposed until the person picks another folder (see the module docstring)."""
    return Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False)) / "projects"


@dataclass(frozen=True)
class Preferences:
    """What a person sets once in File › Settings…; the forms start from it."""

    device: str = "auto"  # one of engine DEVICES: the run form, fine-tuning and the Playground start with it
    precision: str = "fp32"  # one of engine PRECISIONS; fp32 works on every device
    data_folder: Path = field(default_factory=default_data_folder)  # where new projects are proposed
    theme: str = "system"  # one of THEMES

    def __post_init__(self) -> None:
        """Refuse values no form could show, naming the allowed ones."""
        for name, value, allowed in (("device", self.device, DEVICES), ("precision", self.precision, PRECISIONS),
                                     ("theme", self.theme, THEMES)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}.")

    def with_changes(self, **changes: object) -> Preferences:
        """A copy with ``changes`` applied (validated like a new one)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def load(settings: QSettings) -> Preferences:
    """The stored preferences; each missing or unusable value falls back to its default on its own."""
    defaults = Preferences()
    values: dict[str, object] = {}
    for name, allowed in (("device", DEVICES), ("precision", PRECISIONS), ("theme", THEMES)):
        value = str(settings.value(KEYS[name], "") or "")
        if value in allowed:
            values[name] = value
    folder = str(settings.value(KEYS["data_folder"], "") or "").strip()
    values["data_folder"] = Path(folder).expanduser() if folder else defaults.data_folder
    return defaults.with_changes(**values)


def save(settings: QSettings, preferences: Preferences) -> None:
    """Store ``preferences`` and write them to disk now (a crash later must not lose them)."""
    settings.setValue(KEYS["device"], preferences.device)
    settings.setValue(KEYS["precision"], preferences.precision)
    settings.setValue(KEYS["data_folder"], str(preferences.data_folder))
    settings.setValue(KEYS["theme"], preferences.theme)
    settings.sync()


def folder_problem(folder: str | os.PathLike[str]) -> str:
    """Why ``folder`` cannot hold projects ('' when it can), after creating it if it is missing.

    Permission bits do not tell (root ignores them, network drives lie), so this creates the folder and a
    temporary file in it, the two things making a project needs.
    """
    path = Path(folder).expanduser()
    if not str(folder).strip():
        return "Choose a data folder."
    if not path.is_absolute():
        return f"{folder} is not a full path; choose a folder with Browse…."
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".gpt-studio-write-test-"):
            pass
    except FileExistsError:
        return f"{path} is a file, not a folder; choose a folder for the projects."
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return f"GPT Studio cannot write to {path} ({reason}); choose a folder you can write to."
    return ""


def nearest_existing(folder: str | os.PathLike[str]) -> Path:
    """``folder`` or its closest existing parent: a file dialog opened there shows something real."""
    path = Path(folder).expanduser()
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path.home()
