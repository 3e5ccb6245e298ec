"""``limit``/``offset`` pages on the list routes, with the total and the next offset as headers.

The list routes answered bare JSON arrays before they were paged; the arrays stay (old clients
keep working on the first page), and what a client needs to page on is in headers:
``X-Total-Count`` (how many there are) and ``X-Next-Offset`` (absent on the last page).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000
"""Far beyond any catalog; bounded so that a huge number is a 422, not a database overflow."""

Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"Items per page (at most {MAX_LIMIT})."),
]
Offset = Annotated[
    int,
    Query(ge=0, le=MAX_OFFSET, description="Items to skip: the previous X-Next-Offset."),
]
PAGE_HEADERS = {
    "X-Total-Count": {
        "description": "How many items there are in all.",
        "schema": {"type": "integer"},
    },
    "X-Next-Offset": {
        "description": "The offset of the next page (absent on the last page).",
        "schema": {"type": "integer"},
    },
}


def set_page_headers(response: Response, total: int, offset: int, count: int) -> None:
    """``X-Total-Count``, and ``X-Next-Offset`` when items remain after this page."""
    response.headers["X-Total-Count"] = str(total)
    if offset + count < total and count:
        response.headers["X-Next-Offset"] = str(offset + count)
