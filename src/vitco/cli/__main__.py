"""``python -m vitco.cli``."""

from vitco.cli.app import main

main()
