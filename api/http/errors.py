"""Engine errors and request validation errors as one JSON shape: code, message, problems[field, message, fix]."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from engine.domain import errors as e

log = logging.getLogger(__name__)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "request"


def install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(e.OrderloomError)
    async def engine_error(request: Request, exc: e.OrderloomError) -> JSONResponse:
        status = 404 if isinstance(exc, e.NotFound) else exc.http_status
        return JSONResponse(exc.to_dict(), status_code=status)

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            field = _field(err.get("loc", ()))
            problems.append({"code": f"validation.{err.get('type', 'invalid')}", "field": field,
                             "message": f"{field}: {err.get('msg', 'invalid')}",
                             "fix": "see the API schema at /docs"})
        return JSONResponse({"code": "validation.failed", "message": "the request is not valid",
                             "problems": problems}, status_code=422)
