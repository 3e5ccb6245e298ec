"""FastAPI dependencies as ``Annotated`` aliases; the services live on ``app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

# Re-exported: routes take every dependency from here.
from castgraph.api.auth import ReadAccess as ReadAccess
from castgraph.api.auth import WriteAccess as WriteAccess
from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.settings import Settings
from castgraph.retrieval.answer import AnswerService
from castgraph.retrieval.graph.base import GraphStore
from castgraph.retrieval.search import SearchService


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _catalog(services: Annotated[Services, Depends(_services)]) -> SqlCatalog:
    return services.catalog


def _search(services: Annotated[Services, Depends(_services)]) -> SearchService:
    return services.search


def _answers(services: Annotated[Services, Depends(_services)]) -> AnswerService:
    if services.answers is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "answering is not configured")
    return services.answers


def _graph(services: Annotated[Services, Depends(_services)]) -> GraphStore:
    if services.graph is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the knowledge graph is off (CASTGRAPH_GRAPH_BACKEND=none): topics need it",
        )
    return services.graph


ServicesDep = Annotated[Services, Depends(_services)]
SettingsDep = Annotated[Settings, Depends(_settings)]
CatalogDep = Annotated[SqlCatalog, Depends(_catalog)]
SearchDep = Annotated[SearchService, Depends(_search)]
AnswersDep = Annotated[AnswerService, Depends(_answers)]
GraphDep = Annotated[GraphStore, Depends(_graph)]
