"""``python -m dse`` runs the CLI."""

from dse.cli.main import main

main()
