"""`PromptRegistry`: MLflow Prompt Registry in Unity Catalog, over its REST routes, with a version/alias cache."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from dbx_native._core.client import BaseClient
from dbx_native._core.clock import Clock
from dbx_native._core.logs import get_logger
from dbx_native.config import DbxConfig
from dbx_native.errors import (
    APIConnectionError,
    APIError,
    APIResponseError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from dbx_native.prompts._cache import CacheKey, PromptCache
from dbx_native.prompts._models import PromptInfo, PromptVersion, parse_info, parse_version
from dbx_native.prompts._template import (
    TYPE_TAG,
    check_alias,
    check_name,
    check_part,
    check_template,
    check_version,
    encode_template,
    parse_ref,
)

__all__ = ["PromptRegistry"]

_log = get_logger("dbx_native.prompts")
_API = "/api/2.0/mlflow/unity-catalog/prompts"
# Failures that say nothing about the prompt, so the last version read is still the best answer.
_TRANSIENT: tuple[type[APIError], ...] = (APIConnectionError, RateLimitError, ServerError, APIResponseError)


class PromptRegistry(BaseClient):
    """Prompts in Unity Catalog (MLflow Prompt Registry): register, load by version or alias, move aliases.

    Versions never change, so a version once read is cached until evicted; alias lookups (and `load(name)`,
    which reads the latest version) are cached for `cache_ttl` seconds. When the workspace fails (connection,
    429, 5xx, malformed answer) and an expired entry exists, it is served instead (`stale_on_error`).

    Args:
        config: Connection settings (`DbxConfig()` from the environment when omitted).
        cache_ttl: Seconds an alias lookup stays fresh (0: always ask, but keep the last answer for
            `stale_on_error`).
        cache_size: Most entries cached (0: no cache at all).
        stale_on_error: Serve the last value read when the workspace fails transiently.
        clock: Time source (tests pass a `FakeClock`).

    Raises:
        InvalidRequestError: A negative `cache_ttl` or `cache_size`.

    Example:
        >>> from dbx_native.local import LocalWorkspace
        >>> ws = LocalWorkspace()
        >>> _ = ws.catalog.create_schema("main.agents")
        >>> with ws.intercept():
        ...     reg = PromptRegistry(ws.config)
        ...     _ = reg.register("main.agents.triage", "Classify: {{text}}", alias="production")
        ...     reg.load("prompts:/main.agents.triage@production").format(text="card declined")
        'Classify: card declined'
    """

    _client_name: ClassVar[str] = "prompts"

    def __init__(
        self,
        config: DbxConfig | None = None,
        *,
        cache_ttl: float = 60.0,
        cache_size: int = 1_000,
        stale_on_error: bool = True,
        clock: Clock | None = None,
        _credentials: Any = None,
    ) -> None:
        if cache_ttl < 0:
            raise InvalidRequestError(f"cache_ttl must be >= 0 seconds, not {cache_ttl!r}.")
        if cache_size < 0:
            raise InvalidRequestError(f"cache_size must be >= 0, not {cache_size!r}.")
        super().__init__(config, clock=clock, _credentials=_credentials)
        self.cache_ttl = float(cache_ttl)
        self.stale_on_error = stale_on_error
        self._cache = PromptCache(maxsize=cache_size, now=self._http.clock.monotonic)

    # --- writing ---------------------------------------------------------------------------------------------

    def register(
        self,
        name: str,
        template: str | list[dict[str, str]],
        *,
        commit_message: str | None = None,
        tags: Mapping[str, str] | None = None,
        alias: str | None = None,
        timeout: float | None = None,
    ) -> PromptVersion:
        """Register a new version of prompt `name` (creating the prompt when missing).

        Args:
            name: `catalog.schema.prompt`; the schema must exist.
            template: Text with `{{var}}` placeholders, or a list of `{"role", "content"}` chat messages.
            commit_message: What changed (the version's description).
            tags: Tags of the new version (also of the prompt, when this creates it).
            alias: Point this alias (e.g. `"production"`) at the new version.
            timeout: Seconds for each call, retries included.

        Returns:
            The new version.

        Raises:
            InvalidRequestError: A bad name, alias, template or tag (nothing sent).
            NotFoundError: The catalog or schema does not exist.
            APIError: A call failed.
        """
        check_name(name)
        body_template = check_template(template)
        if alias is not None:
            check_alias(alias)
        clean_tags = _check_tags(tags)
        with self._span("prompts.register", name):
            created = self._create_version(name, body_template, commit_message, clean_tags, timeout)
            if alias is not None:
                self._post_alias(name, alias, created.version, timeout)
                created = created.model_copy(update={"aliases": (*created.aliases, alias)})
        self._cache.drop(name, aliases_only=True)
        self._cache.put((name, None, created.version), created, None)
        return created

    def ensure(
        self,
        name: str,
        template: str | list[dict[str, str]],
        *,
        commit_message: str | None = None,
        tags: Mapping[str, str] | None = None,
        alias: str | None = None,
        timeout: float | None = None,
    ) -> PromptVersion:
        """The latest version if its template is `template`, else a newly registered one: safe on every deploy.

        Nothing is written when the latest version already has this template (and `alias`, if given, already
        points at it). The latest version is read from the workspace, not from the cache.

        Args:
            name: `catalog.schema.prompt`.
            template: The template the prompt should have (see `register`).
            commit_message: Used only when a new version is registered.
            tags: Used only when a new version is registered.
            alias: Make this alias point at the returned version.
            timeout: Seconds for each call.

        Returns:
            The latest version (existing or new).

        Raises:
            InvalidRequestError: A bad name, alias, template or tag (nothing sent).
            NotFoundError: The catalog or schema does not exist.
            APIError: A call failed.
        """
        check_name(name)
        wanted = check_template(template)
        if alias is not None:
            check_alias(alias)
        try:
            latest: PromptVersion | None = self._fetch(name, "latest", None, timeout, "prompts.ensure")
        except NotFoundError:
            latest = None
        if latest is None or latest.template != wanted:
            return self.register(name, wanted, commit_message=commit_message, tags=tags, alias=alias, timeout=timeout)
        if alias is not None and alias not in latest.aliases:
            self.set_alias(name, alias, latest.version, timeout=timeout)
            latest = latest.model_copy(update={"aliases": (*latest.aliases, alias)})
        return latest

    def set_alias(self, name: str, alias: str, version: int, *, timeout: float | None = None) -> None:
        """Point `alias` at `version` of prompt `name` (moving it if it pointed elsewhere).

        Raises:
            InvalidRequestError: A bad name, version or alias (`latest` and `v<digits>` are reserved).
            NotFoundError: No such prompt or version.
            APIError: The call failed.
        """
        check_name(name)
        check_alias(alias)
        number = check_version(version)
        with self._span("prompts.set_alias", name):
            self._post_alias(name, alias, number, timeout)
        self._cache.drop(name, aliases_only=True)

    def delete_alias(self, name: str, alias: str, *, timeout: float | None = None) -> None:
        """Remove `alias` from prompt `name`.

        Raises:
            InvalidRequestError: A bad name or alias.
            NotFoundError: No such prompt or alias.
            APIError: The call failed.
        """
        check_name(name)
        check_alias(alias)
        self._http.request(
            "DELETE", f"{_path(name)}/aliases/{quote(alias, safe='')}", timeout=timeout, **_op("delete_alias", name)
        )
        self._cache.drop(name, aliases_only=True)

    def delete(self, name: str, *, timeout: float | None = None) -> None:
        """Delete prompt `name`: every version (and so every alias), then the prompt, as Unity Catalog requires.

        Raises:
            InvalidRequestError: A bad name.
            NotFoundError: No such prompt.
            APIError: A call failed (versions deleted before it stay deleted).
        """
        check_name(name)
        with self._span("prompts.delete", name):
            numbers = [v.version for v in self._iter_versions(name, 100, timeout, traced=False)]
            for number in numbers:
                self._http.request("DELETE", f"{_path(name)}/versions/{number}", timeout=timeout, traced=False)
            self._http.request("DELETE", _path(name), timeout=timeout, traced=False)
        self._cache.drop(name)

    # --- reading ---------------------------------------------------------------------------------------------

    def load(
        self, name: str, *, alias: str | None = None, version: int | None = None, timeout: float | None = None
    ) -> PromptVersion:
        """A version of prompt `name`: by `version`, by `alias`, or the latest; served from the cache when fresh.

        Args:
            name: `catalog.schema.prompt`, or a URI: `prompts:/c.s.n@alias`, `prompts:/c.s.n/3`.
            alias: An alias such as `"production"`.
            version: A version number.
            timeout: Seconds for the call when the workspace is asked, retries included.

        Returns:
            The version (a cached copy when fresh; a stale one when the workspace fails and `stale_on_error`).

        Raises:
            InvalidRequestError: A bad name, URI, alias or version, or both alias and version (nothing sent).
            NotFoundError: No such prompt, version or alias.
            APIError: The call failed and nothing cached could stand in.
        """
        key: CacheKey = parse_ref(name, alias, version)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        return self._load_remote(key, timeout)

    def versions(self, name: str, *, page_size: int = 100, timeout: float | None = None) -> Iterator[PromptVersion]:
        """Every version of prompt `name`, newest first, read lazily one page at a time.

        Raises:
            InvalidRequestError: A bad name or page size (at once).
            NotFoundError: No such prompt (on the first iteration).
        """
        check_name(name)
        _check_page_size(page_size)
        return self._iter_versions(name, page_size, timeout, traced=True)

    def search(
        self,
        catalog: str,
        schema: str,
        *,
        filter: str | None = None,
        page_size: int = 100,
        timeout: float | None = None,
    ) -> Iterator[PromptInfo]:
        """The prompts of schema `catalog.schema`, read lazily one page at a time.

        Args:
            catalog: The catalog.
            schema: The schema.
            filter: A condition on names, e.g. `"name LIKE '%triage%'"` or `"name = 'triage'"`.
            page_size: Prompts per request.
            timeout: Seconds for each page.

        Raises:
            InvalidRequestError: A bad catalog, schema or page size (at once).
            NotFoundError: The catalog or schema does not exist (on the first iteration).
        """
        body: dict[str, Any] = {
            "catalog_schema": {
                "catalog_name": check_part(catalog, "catalog"),
                "schema_name": check_part(schema, "schema"),
            },
            "max_results": _check_page_size(page_size),
        }
        if filter:
            body["filter"] = filter
        return self._pages(f"{_API}/search", body, "prompts", parse_info, "prompts.search", timeout, traced=True)

    def invalidate(self, name: str | None = None) -> int:
        """Forget cached versions and alias lookups: of prompt `name`, or all (also those kept for `stale_on_error`).

        Returns:
            How many cache entries were dropped.
        """
        if name is not None:
            check_name(name)
        return self._cache.drop(name)

    def __repr__(self) -> str:
        return f"PromptRegistry(host={self._config.host!r}, cache_ttl={self.cache_ttl}, cached={len(self._cache)})"

    # --- internals -------------------------------------------------------------------------------------------

    def _load_remote(self, key: CacheKey, timeout: float | None) -> PromptVersion:
        name, alias, version = key
        try:
            found = self._fetch(name, alias, version, timeout, "prompts.load")
        except APIError as err:
            stale = self._cache.peek(key) if self.stale_on_error and isinstance(err, _TRANSIENT) else None
            if stale is None:
                raise
            _log.warning(
                "prompt registry failed (%s); serving the cached %s version %d", type(err).__name__, name, stale.version
            )
            return stale
        self._cache.put(key, found, None if version is not None else self.cache_ttl)
        if version is None:
            self._cache.put((name, None, found.version), found, None)
        return found

    def _fetch(
        self, name: str, alias: str | None, version: int | None, timeout: float | None, operation: str
    ) -> PromptVersion:
        path = f"{_path(name)}/versions/{version}" if version is not None else ""
        if alias is not None:
            path = f"{_path(name)}/versions/by-alias/{quote(alias, safe='')}"
        try:
            raw = self._http.request("GET", path, timeout=timeout, **_op(operation.split(".")[1], name)).json()
        except NotFoundError as err:
            what = f"version {version}" if version is not None else f"alias {alias!r}"
            raise NotFoundError(
                f"{err.message} ({name}, {what}): check the name, or register it with PromptRegistry.register"
                f"{'(..., alias=...)' if alias is not None else ''}.",
                status_code=err.status_code,
                error_code=err.error_code,
                method=err.method,
                url=err.url,
                request_id=err.request_id,
            ) from None
        return _version_or_raise(raw, name)

    def _create_version(
        self,
        name: str,
        template: str | list[dict[str, str]],
        commit_message: str | None,
        tags: dict[str, str],
        timeout: float | None,
    ) -> PromptVersion:
        wire, kind = encode_template(template)
        version: dict[str, Any] = {"name": name, "template": wire, "tags": _wire_tags({**tags, TYPE_TAG: kind})}
        if commit_message:
            version["description"] = commit_message
        body = {"name": name, "prompt_version": version}
        try:
            raw = self._http.request("POST", f"{_path(name)}/versions", json_body=body, timeout=timeout, traced=False)
        except NotFoundError as err:
            if err.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            # The prompt is new: create it, then the version (one request per call for existing prompts).
            self._create_prompt(name, commit_message, tags, timeout)
            raw = self._http.request("POST", f"{_path(name)}/versions", json_body=body, timeout=timeout, traced=False)
        return _version_or_raise(raw.json(), name)

    def _create_prompt(self, name: str, description: str | None, tags: dict[str, str], timeout: float | None) -> None:
        prompt: dict[str, Any] = {"name": name, "tags": _wire_tags(tags)}
        if description:
            prompt["description"] = description
        with contextlib.suppress(ConflictError):  # created meanwhile by someone else: fine, it exists
            self._http.request("POST", _API, json_body={"name": name, "prompt": prompt}, timeout=timeout, traced=False)

    def _post_alias(self, name: str, alias: str, version: int, timeout: float | None) -> None:
        body = {"name": name, "alias": alias, "version": str(version)}
        path = f"{_path(name)}/aliases/{quote(alias, safe='')}"
        # Setting an alias to a given version is idempotent: safe to retry on any failure.
        self._http.request("POST", path, json_body=body, timeout=timeout, idempotent=True, traced=False)

    def _iter_versions(
        self, name: str, page_size: int, timeout: float | None, *, traced: bool
    ) -> Iterator[PromptVersion]:
        body = {"name": name, "max_results": page_size}
        return self._pages(
            f"{_path(name)}/versions/search",
            body,
            "prompt_versions",
            parse_version,
            "prompts.versions",
            timeout,
            traced=traced,
        )

    def _pages(
        self,
        path: str,
        body: dict[str, Any],
        field: str,
        parse: Any,
        operation: str,
        timeout: float | None,
        *,
        traced: bool,
    ) -> Iterator[Any]:
        body = dict(body)
        while True:
            page = (
                self._http.request(
                    "POST", path, json_body=body, timeout=timeout, idempotent=True, operation=operation, traced=traced
                ).json()
                or {}
            )
            for raw in page.get(field) or []:
                yield parse(raw)
            token = page.get("next_page_token")
            if not token:
                return
            body["page_token"] = token

    def _span(self, operation: str, name: str) -> Any:
        return self._http.telemetry.span(
            operation, {"dbx_native.client": self._client_name, "dbx_native.prompt.name": name}
        )


def _path(name: str) -> str:
    return f"{_API}/{quote(name, safe='.')}"


def _op(short: str, name: str) -> dict[str, Any]:
    return {"operation": f"prompts.{short}", "span_attributes": {"dbx_native.prompt.name": name}}


def _version_or_raise(raw: Any, name: str) -> PromptVersion:
    if not isinstance(raw, Mapping) or not str(raw.get("version") or "").isdigit():
        raise APIResponseError(f"The workspace answered a prompt version of {name} without a version number.")
    return parse_version(raw)


def _wire_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _check_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (tags or {}).items():
        if not isinstance(key, str) or not key or "." in key or key.startswith("_mlflow"):
            raise InvalidRequestError(
                f"Invalid tag key {key!r}: a non-empty string without dots (Unity Catalog tags cannot hold them), "
                "not starting with '_mlflow' (reserved)."
            )
        if not isinstance(value, str):
            raise InvalidRequestError(f"Tag {key!r} must have a string value, not {value!r}.")
        out[key] = value
    return out


def _check_page_size(page_size: int) -> int:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 1000:
        raise InvalidRequestError(f"page_size must be an integer from 1 to 1000, not {page_size!r}.")
    return page_size
