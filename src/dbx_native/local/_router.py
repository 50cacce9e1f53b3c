"""Route table of the local workspace: `(method, "/api/2.1/x/{name}")` -> handler."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from dbx_native.local._wire import LocalApiError, LocalRequest, LocalResponse

__all__ = ["Backend", "Handler", "Route", "Router"]

Handler = Callable[[LocalRequest], "LocalResponse | dict[str, Any] | list[Any] | None"]

_PARAM = re.compile(r"\{(\w+)(:path)?\}")


@dataclass(frozen=True)
class Route:
    """A route: an HTTP method, a path pattern and its handler.

    `{name}` matches one path segment; `{name:path}` matches the rest of the path, slashes included.
    """

    method: str
    pattern: str
    handler: Handler

    def compile(self) -> re.Pattern[str]:
        def repl(m: re.Match[str]) -> str:
            return f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)"

        return re.compile("^" + _PARAM.sub(repl, re.escape(self.pattern).replace(r"\{", "{").replace(r"\}", "}")) + "$")


class Backend(Protocol):
    """One service of the local workspace (serving, vector search, Unity Catalog, ...)."""

    def routes(self) -> Iterable[Route]:
        """The routes this service answers."""
        ...

    def reset(self) -> None:
        """Forget every resource (called by `LocalWorkspace.reset()`)."""
        ...


class Router:
    """Dispatches a `LocalRequest` to the first route whose method and pattern match."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []

    def add(self, route: Route) -> None:
        self._routes.append((route.method.upper(), route.compile(), route))

    def dispatch(self, request: LocalRequest) -> LocalResponse:
        allowed = False
        for method, regex, route in self._routes:
            m = regex.match(request.path)
            if m is None:
                continue
            if method != request.method:
                allowed = True
                continue
            request.path_params = m.groupdict()
            try:
                result = route.handler(request)
            except LocalApiError as err:
                return err.to_response()
            if isinstance(result, LocalResponse):
                return result
            return LocalResponse.json({} if result is None else result)
        if allowed:
            return LocalApiError(405, f"Method {request.method} is not allowed on {request.path}").to_response()
        return LocalApiError(
            404, f"No API found for '{request.method} {request.path}'", error_code="ENDPOINT_NOT_FOUND"
        ).to_response()
