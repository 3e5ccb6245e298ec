"""The interfaces people use: the CLI (and, later, the HTTP API) and the composition root."""
