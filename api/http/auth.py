"""Authentication and authorisation for every endpoint.

Callers send `Authorization: Bearer <token or API key>` or `X-API-Key: <API key>`. Each route depends on
`requires(<permission>)`; object-level checks (`order_for`) run on every read and write of one order.
Failures are 401 (who are you?) or 403 (not allowed, or not yours, or not there: the same answer), and
nothing in either says whether the object exists. Credentials are never logged.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from api.http.deps import engine_app, read_body
from engine.bootstrap import App
from engine.domain import errors as e
from engine.domain.access import Permission, Principal, may_see_order
from engine.domain.orders import Order
from engine.services.unit_of_work import AbstractUnitOfWork

EngineApp = Annotated[App, Depends(engine_app)]
_bearer = HTTPBearer(auto_error=False, description="a bearer token from /oauth/token, or an API key")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key (olk_...)")
PUBLIC_PATHS = frozenset({"/health", "/ready", "/oauth/token", "/docs", "/docs/oauth2-redirect", "/openapi.json",
                          "/redoc", "/", "/ui/login", "/ui/logout"})
SESSION_COOKIE = "orderloom_session"
# Requests a browser sends with the session cookie must carry this header: a page on another site can make a
# browser send the cookie, but not set a custom header without a CORS preflight, which this API never allows.
CSRF_HEADER = "X-Requested-With"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_principal(request: Request, app: EngineApp,
                      bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
                      api_key: Annotated[str | None, Depends(_api_key)] = None) -> Principal:
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    credential = bearer.credentials if bearer is not None else api_key
    if not credential:
        credential = request.cookies.get(SESSION_COOKIE)
        if credential and request.method not in SAFE_METHODS \
                and request.headers.get(CSRF_HEADER, "").lower() != "orderloom":
            raise e.Forbidden(f"a browser session must send {CSRF_HEADER}: orderloom with every change")
    if not credential:
        raise e.NotAuthenticated("authentication required: send a valid API key or bearer token")
    principal = app.access.authenticate(credential)
    request.state.principal = principal
    return principal


def optional_principal(request: Request, app: EngineApp) -> Principal | None:
    """The caller of a dashboard page, or None (the page then sends the browser to the sign-in form)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    bearer = HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials.strip()) \
        if scheme.lower() == "bearer" and credentials.strip() else None
    try:
        return current_principal(request, app, bearer, request.headers.get("x-api-key"))
    except (e.NotAuthenticated, e.Forbidden):
        return None


def requires(*permissions: Permission) -> Callable[..., Principal]:
    """A dependency: the authenticated caller, who must hold every one of `permissions`."""

    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not all(principal.can(p) for p in permissions):
            raise e.Forbidden("not permitted")
        return principal

    dependency.__name__ = "requires_" + "_".join(p.name.lower() for p in permissions)
    dependency.required = permissions  # type: ignore[attr-defined]  # read by the route audit test
    return dependency


def forbidden() -> e.Forbidden:
    return e.Forbidden("not permitted")


def order_for(uow: AbstractUnitOfWork, principal: Principal, order_id: str) -> Order:
    """The order, if the caller may see it; otherwise Forbidden, whether it exists or not.

    Ops (who see every order) get the usual 404 for an order that does not exist."""
    order = uow.orders.get(order_id) if isinstance(order_id, str) and len(order_id) <= 64 else None
    if order is None:
        if principal.sees_every_order:
            raise e.UnknownOrder(f"order {order_id} not found", order_id=order_id)
        raise forbidden()
    if not may_see_order(principal, customer_id=order.customer_id, account_code=order.account_code,
                         channel=order.channel):
        raise forbidden()
    return order


def check_order(app: App, principal: Principal, order_id: str) -> None:
    if principal.sees_every_order:
        return
    with app.uow(readonly=True) as uow:
        order_for(uow, principal, order_id)


# -- the token endpoint and key management -----------------------------------------------------------

router = APIRouter(tags=["access"])


def _oauth_error(code: str, description: str, status_code: int = 400) -> JSONResponse:
    headers = {"WWW-Authenticate": "Basic"} if status_code == 401 else None
    return JSONResponse({"error": code, "error_description": description}, status_code=status_code,
                        headers=headers, )


@router.post("/oauth/token", responses={200: {"description": "a bearer token"}})
async def token(request: Request, app: EngineApp) -> Any:
    """OAuth2 client credentials (RFC 6749 4.4): form-encoded `grant_type=client_credentials` with
    `client_id` (the key id) and `client_secret` (the API key), in the body or as HTTP Basic."""
    try:
        raw = await read_body(request, 4096)
    except e.PayloadTooLarge:
        return _oauth_error("invalid_request", "the request is too large")
    try:
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), strict_parsing=False).items()}
    except UnicodeDecodeError:
        return _oauth_error("invalid_request", "the body must be application/x-www-form-urlencoded")
    client_id, secret = form.get("client_id"), form.get("client_secret")
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(basic[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _oauth_error("invalid_client", "unreadable client credentials", 401)
    if form.get("grant_type") != "client_credentials":
        return _oauth_error("unsupported_grant_type", "only client_credentials is supported")
    if not client_id or not secret:
        return _oauth_error("invalid_client", "client_id and client_secret are required", 401)
    try:
        issued = app.access.token_for_key(client_id, secret)
    except e.NotAuthenticated:
        return _oauth_error("invalid_client", "unknown, revoked or expired client credentials", 401)
    return JSONResponse(issued.to_dict(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


class CustomerSessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str = Field(max_length=64)


@router.post("/auth/customer-token")
def customer_token(body: CustomerSessionIn, app: EngineApp,
                   principal: Annotated[Principal, Depends(requires(Permission.CUSTOMER_SESSIONS))]
                   ) -> dict[str, Any]:
    """A storefront signs in one of its shoppers: a 30-minute token that sees only that customer's orders."""
    return app.access.customer_token(principal, body.customer_id).to_dict()


@router.get("/auth/me")
def me(principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, Any]:
    return {"name": principal.name, "role": principal.role.value, "customer_id": principal.customer_id,
            "account_code": principal.account_code, "scope": principal.scope,
            "permissions": sorted(p.value for p in principal.permissions)}


class PrincipalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    role: str = Field(max_length=16)
    customer_id: str | None = Field(default=None, max_length=64)
    account_code: str | None = Field(default=None, max_length=32)
    scope: str | None = Field(default=None, max_length=100)


Admin = Annotated[Principal, Depends(requires(Permission.ACCESS_MANAGE))]


@router.get("/auth/principals")
def principals(app: EngineApp, admin: Admin) -> list[dict[str, Any]]:
    return app.access.principals()


@router.post("/auth/principals", status_code=status.HTTP_201_CREATED)
def create_principal(body: PrincipalIn, app: EngineApp, admin: Admin) -> dict[str, Any]:
    """A new principal and its first API key; the key is in this answer only."""
    return app.access.create_principal(name=body.name, role=body.role, customer_id=body.customer_id,
                                       account_code=body.account_code, scope=body.scope,
                                       created_by=admin.actor).to_dict()


@router.post("/auth/principals/{principal_id}/keys", status_code=status.HTTP_201_CREATED)
def add_key(principal_id: str, app: EngineApp, admin: Admin) -> dict[str, Any]:
    return app.access.add_key(principal_id).to_dict()


@router.delete("/auth/keys/{key_id}")
def revoke_key(key_id: str, app: EngineApp, admin: Admin) -> dict[str, Any]:
    return {"key_id": key_id, "revoked": app.access.revoke_key(key_id)}


@router.delete("/auth/principals/{principal_id}")
def revoke_principal(principal_id: str, app: EngineApp, admin: Admin) -> dict[str, Any]:
    return {"principal_id": principal_id, "revoked": app.access.revoke_principal(principal_id)}
