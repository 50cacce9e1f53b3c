"""Workspace metadata (the discovery routes clients probe at start-up) and bearer-token checks."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from dbx_native.local._router import Route
from dbx_native.local._wire import LocalApiError, LocalRequest, LocalResponse

__all__ = ["MetaBackend", "TokenAuthority", "is_public_path"]

# Discovery routes answer without credentials, as on a real workspace: clients probe them before auth.
_PUBLIC = re.compile(r"^/(?:\.well-known|oidc)/")

# Databricks' own wording for a missing credential.
_MISSING = "Credential was not sent or was of an unsupported type for this API."
_INVALID = "Invalid access token."
_EXPIRED = "The access token has expired. Refresh the credential (or create a new token) and retry."


def is_public_path(path: str) -> bool:
    """Whether `path` answers without credentials (the discovery routes)."""
    return _PUBLIC.match(path) is not None


class TokenAuthority:
    """Which bearer tokens the workspace accepts. Token values are never logged or put in messages.

    With no required token every bearer token is accepted, except expired ones. With one, only it and
    the tokens from `issue()` are.
    """

    def __init__(self, token: str | None = None) -> None:
        self._required = token
        self._issued: set[str] = set()
        self._expired: set[str] = set()
        self._lock = threading.Lock()

    @property
    def required(self) -> str | None:
        """The token fixed at construction, if any."""
        return self._required

    def issue(self) -> str:
        """A new valid token (shaped like a personal access token)."""
        token = "dapi" + secrets.token_hex(16)
        with self._lock:
            self._issued.add(token)
        return token

    def expire(self, token: str) -> None:
        """Make `token` answer 401 from now on."""
        with self._lock:
            self._expired.add(token)

    def reset(self) -> None:
        """Forget expirations; the fixed and issued tokens stay valid (clients may hold them)."""
        with self._lock:
            self._expired.clear()

    def check(self, request: LocalRequest) -> None:
        """Accept `request` or raise the 401 a workspace answers.

        Raises:
            LocalApiError: 401 `UNAUTHENTICATED` for a missing, unknown or expired token.
        """
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise LocalApiError(401, _MISSING, error_code="UNAUTHENTICATED")
        with self._lock:
            if token in self._expired:
                raise LocalApiError(401, _EXPIRED, error_code="UNAUTHENTICATED")
            if self._required is not None and token != self._required and token not in self._issued:
                raise LocalApiError(401, _INVALID, error_code="UNAUTHENTICATED")

    def __repr__(self) -> str:
        mode = "fixed token" if self._required is not None else "any bearer token"
        return f"TokenAuthority({mode}, issued={len(self._issued)}, expired={len(self._expired)})"


class MetaBackend:
    """`GET /.well-known/databricks-config` and the OIDC discovery document, answered like a workspace.

    databricks-sdk (>= 0.7x) reads `workspace_id`, `account_id`, `cloud` and `oidc_endpoint` from the
    first; answering it keeps the SDK from guessing from the host name, and every URL in it points back
    at the address the client used, so nothing is sent to another host. `POST /oidc/v1/token` grants
    client-credentials tokens to any client id and secret.
    """

    def __init__(self, *, tokens: TokenAuthority, workspace_id: int, account_id: str, cloud: str = "AWS") -> None:
        self.tokens = tokens
        self.workspace_id = workspace_id
        self.account_id = account_id
        self.cloud = cloud

    def routes(self) -> Iterable[Route]:
        return (
            Route("GET", "/.well-known/databricks-config", self._databricks_config),
            Route("GET", "/oidc/.well-known/oauth-authorization-server", self._oidc_discovery),
            Route("POST", "/oidc/v1/token", self._token),
        )

    def reset(self) -> None:
        """Nothing to forget: the metadata is fixed at construction."""

    def _databricks_config(self, request: LocalRequest) -> dict[str, Any]:
        return {
            "oidc_endpoint": f"{request.base_url}/oidc",
            "account_id": self.account_id,
            "workspace_id": str(self.workspace_id),
            "cloud": self.cloud,
        }

    def _oidc_discovery(self, request: LocalRequest) -> dict[str, Any]:
        base = f"{request.base_url}/oidc"
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/v1/authorize",
            "token_endpoint": f"{base}/v1/token",
            "jwks_uri": f"{base}/jwks.json",
            "grant_types_supported": ["client_credentials"],
        }

    def _token(self, request: LocalRequest) -> LocalResponse:
        # OAuth M2M (client credentials): any client id and secret get a fresh token, so OAuth clients
        # (databricks-sdk `auth_type="oauth-m2m"`) run locally too. Other grants are not emulated.
        form = parse_qs(request.body.decode("utf-8", "replace"))
        grant = (form.get("grant_type") or [""])[0]
        if grant != "client_credentials":
            body = {"error": "unsupported_grant_type", "error_description": f"grant_type {grant!r} is not supported"}
            return LocalResponse.json(body, status=400)
        token = self.tokens.issue()
        return LocalResponse.json(
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": "all-apis"}
        )
