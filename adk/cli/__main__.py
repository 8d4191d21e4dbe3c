"""``python -m adk.cli``: the ``adk`` command."""

from adk.cli import main

raise SystemExit(main())
