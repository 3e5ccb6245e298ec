"""The catalog's Alembic migration environment (``env.py``, ``versions/``).

Run through :func:`castgraph.catalog.migrate` (``SqlCatalog.open()`` and ``castgraph migrate``):
no ``alembic.ini`` is needed; the configuration is built in code.
"""
