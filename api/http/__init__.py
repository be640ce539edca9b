"""The HTTP API (FastAPI): `create_api(app)` builds it over a running engine."""

from api.http.app import create_api

__all__ = ["create_api"]
