"""``python -m spatialrep`` runs the command-line interface."""

from spatialrep.cli.main import main

raise SystemExit(main())
