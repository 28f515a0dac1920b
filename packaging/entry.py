"""The PyInstaller bundle's entry script: the ``gpt-studio`` command, verbs and desktop app alike."""

import multiprocessing

from gpt_studio.cli import main

if __name__ == "__main__":
    # The tokenizer trains in a spawned process; in a frozen app the child is this executable again, and
    # freeze_support() is what turns it into the worker instead of a second copy of the app.
    multiprocessing.freeze_support()
    raise SystemExit(main())
