"""Indexes and everything that reads them (vector, keyword, graph, fusion, generation).

Implements the ``Indexer`` port declared in ``castgraph.core.ports``; never imports ``ingest``.
"""
