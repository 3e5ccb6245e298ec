"""``python -m castgraph`` runs the command line."""

from castgraph.api.cli import main

main()
