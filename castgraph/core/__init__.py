"""Shared models, ports, settings and errors. No I/O and no heavy imports here."""
