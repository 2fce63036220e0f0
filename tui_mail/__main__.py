"""`python -m tui_mail` runs the CLI."""

from .cli import main

raise SystemExit(main())
