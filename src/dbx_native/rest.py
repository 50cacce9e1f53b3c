"""`RestClient`: raw REST calls through the shared core, for routes no dbx-native client wraps yet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from dbx_native._core.client import BaseClient

__all__ = ["RestClient"]


class RestClient(BaseClient):
    """Calls any workspace REST route with dbx-native's auth, retries, errors and spans.

    Reads (GET, PUT, DELETE) are retried on every transient failure; POST and PATCH only where the
    request never reached the server, on 429 and on 503, unless `idempotent=True` says repeating is safe.

    Example:
        >>> from dbx_native.local import LocalWorkspace
        >>> ws = LocalWorkspace()
        >>> with ws.intercept():
        ...     client = RestClient(config=ws.config)
        ...     client.get("/.well-known/databricks-config")["workspace_id"] == str(ws.workspace_id)
        True
    """

    _client_name: ClassVar[str] = "rest"

    @classmethod
    def sharing(cls, other: BaseClient) -> RestClient:
        """A RestClient that uses another client's config, connection pool and credentials (no new session)."""
        if isinstance(other, RestClient):
            return other
        clone = cls.__new__(cls)
        clone._config = other.config
        clone._http = other._http
        return clone

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send a request and return the decoded JSON body (`None` when empty).

        Args:
            method: HTTP method.
            path: Path under the workspace host, e.g. `/api/2.1/unity-catalog/tables/main.s.t`.
            body: JSON body.
            params: Query parameters.
            headers: Extra headers.
            idempotent: Whether repeating is safe; defaults to True for GET/HEAD/PUT/DELETE.
            timeout: Seconds for the whole call, retries included.

        Raises:
            APIStatusError: An error status (`NotFoundError`, `RateLimitError`, ...).
            APIConnectionError: No response arrived.
            InvalidRequestError: The path does not start with `/` or the timeout is not positive.
        """
        response = self._http.request(
            method,
            path,
            params=params,
            json_body=body,
            headers=headers,
            idempotent=idempotent,
            timeout=timeout,
            operation=f"rest.{method.lower()}",
        )
        return response.json()

    def get(self, path: str, *, params: Mapping[str, Any] | None = None, timeout: float | None = None) -> Any:
        """GET `path`; see `request`."""
        return self.request("GET", path, params=params, timeout=timeout)

    def post(
        self,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """POST `body` to `path`; see `request`."""
        return self.request("POST", path, body=body, params=params, idempotent=idempotent, timeout=timeout)

    def put(self, path: str, *, body: Any = None, timeout: float | None = None) -> Any:
        """PUT `body` to `path`; see `request`."""
        return self.request("PUT", path, body=body, timeout=timeout)

    def patch(self, path: str, *, body: Any = None, idempotent: bool = False, timeout: float | None = None) -> Any:
        """PATCH `path` with `body`; see `request`."""
        return self.request("PATCH", path, body=body, idempotent=idempotent, timeout=timeout)

    def delete(self, path: str, *, params: Mapping[str, Any] | None = None, timeout: float | None = None) -> Any:
        """DELETE `path`; see `request`."""
        return self.request("DELETE", path, params=params, timeout=timeout)
