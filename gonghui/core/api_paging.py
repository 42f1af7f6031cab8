"""The API's page of a list: ``limit`` (1 to NINJA_PAGINATION_MAX_LIMIT) and ``offset``.

Ninja's own offset has no upper bound, so an offset past bigint reached the database and came
back as a server error (SQLite: "datatype mismatch"; PostgreSQL: "bigint out of range"). No table
here comes near a billion rows; the bound keeps ``offset + limit`` well inside the database's
integers and says so in the answer and in the OpenAPI document.
"""

from __future__ import annotations

from django.conf import settings
from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

MAX_OFFSET = 10**9


class Pagination(LimitOffsetPagination):
    class Input(Schema):
        limit: int = Field(
            settings.NINJA_PAGINATION_PER_PAGE, ge=1, le=settings.NINJA_PAGINATION_MAX_LIMIT
        )
        offset: int = Field(0, ge=0, le=MAX_OFFSET)
