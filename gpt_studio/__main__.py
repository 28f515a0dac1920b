"""Allow ``python -m gpt_studio``."""

from gpt_studio.cli import main

raise SystemExit(main())
