"""Allow ``python -m gpt_studio``."""

from gpt_studio.cli import main

if __name__ == "__main__":  # guarded: spawned worker processes import this module too
    raise SystemExit(main())
