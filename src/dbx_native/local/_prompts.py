"""MLflow Prompt Registry in Unity Catalog, local (`ws.prompts`): `/api/2.0/mlflow/unity-catalog/prompts...`.

Routes, methods and JSON field names follow MLflow's `unity_catalog_prompt_service.proto` and
`unity_catalog_prompt_messages.proto`: a `Prompt` is `{name, description, creation_timestamp, last_updated_timestamp,
aliases: [{alias, version}], tags: [{key, value}]}`; a `PromptVersion` adds `version` (a string) and `template`.
Timestamps are the JSON mapping of `google.protobuf.Timestamp` (RFC 3339, UTC). The template is stored as the client
sends it: MLflow JSON-encodes it (`"\\"Hi {{name}}\\""` for text, a JSON list of `{role, content}` for chat), so this
backend never parses it, only checks it is there.

Prompts live in the local catalog's namespace: the catalog and schema must exist (`ws.catalog.create_schema`).
Versions are numbered 1, 2, ... per prompt and never reused; a version's template cannot change. `latest` is not an
alias one can set: reading it gives the highest version, which is what MLflow's `load_prompt("c.s.n")` asks for.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbx_native.local._prompts_wire import (
    accept,
    check_alias,
    drop_tag,
    name_filter,
    page,
    split_name,
    tag_arg,
    tags_of,
    timestamp,
)
from dbx_native.local._router import Route
from dbx_native.local._wire import LocalApiError, LocalRequest

if TYPE_CHECKING:
    from dbx_native.local._catalog import LocalCatalog
    from dbx_native.local._clock import Clock

__all__ = ["PromptsBackend"]

_BASE = "/api/2.0/mlflow/unity-catalog"


@dataclass
class _Version:
    version: int
    template: str
    description: str | None
    tags: dict[str, str]
    created_ms: int
    updated_ms: int


@dataclass
class _Prompt:
    name: str
    description: str | None
    tags: dict[str, str]
    created_ms: int
    updated_ms: int
    versions: dict[int, _Version] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    next_version: int = 1


class PromptsBackend:
    """Prompts, their immutable versions, aliases and tags (`ws.prompts`).

    Args:
        catalog: The workspace's Unity Catalog (prompts need their catalog and schema to exist).
        clock: The workspace clock (timestamps).

    Example:
        >>> from dbx_native.local import LocalWorkspace
        >>> ws = LocalWorkspace()
        >>> _ = ws.catalog.create_schema("main.agents")
        >>> _ = ws.prompts.create("main.agents.triage", "Classify: {{text}}")
        >>> ws.prompts.template("main.agents.triage", 1)
        '"Classify: {{text}}"'
    """

    def __init__(self, catalog: LocalCatalog, clock: Clock) -> None:
        self.catalog = catalog
        self.clock = clock
        self._prompts: dict[str, _Prompt] = {}
        self._lock = threading.RLock()

    # --- Backend protocol ---------------------------------------------------------------------------------

    def routes(self) -> Iterable[Route]:
        p = f"{_BASE}/prompts"
        v = f"{p}/{{name}}/versions/{{version}}"
        return [
            Route("POST", p, self._create),
            Route("POST", f"{p}/search", self._search),
            Route("GET", f"{p}/{{name}}", self._get),
            Route("PATCH", f"{p}/{{name}}", self._update),
            Route("DELETE", f"{p}/{{name}}", self._delete),
            Route("POST", f"{p}/{{name}}/versions", self._create_version),
            Route("POST", f"{p}/{{name}}/versions/search", self._search_versions),
            Route("GET", f"{p}/{{name}}/versions/by-alias/{{alias}}", self._by_alias),
            Route("GET", v, self._get_version),
            Route("PATCH", v, self._update_version),
            Route("DELETE", v, self._delete_version),
            Route("POST", f"{p}/{{name}}/aliases/{{alias}}", self._set_alias),
            Route("DELETE", f"{p}/{{name}}/aliases/{{alias}}", self._delete_alias),
            Route("POST", f"{p}/{{name}}/tags", self._set_tag),
            Route("DELETE", f"{p}/{{name}}/tags/{{key}}", self._delete_tag),
            Route("POST", f"{v}/tags", self._set_version_tag),
            Route("DELETE", f"{v}/tags/{{key}}", self._delete_version_tag),
            # Lineage links: accepted and ignored (MLflow itself treats a failure here as non-fatal).
            *(Route("POST", f"{_BASE}/prompt-versions/links-to-{k}", accept) for k in ("models", "traces", "runs")),
        ]

    def reset(self) -> None:
        """Forget every prompt."""
        with self._lock:
            self._prompts.clear()

    # --- Python API for tests -----------------------------------------------------------------------------

    def create(self, name: str, template: str, *, json_encode: bool = True, alias: str | None = None) -> int:
        """Add a version of prompt `name` (the prompt too, when missing), as a client would; return its number.

        Args:
            name: `catalog.schema.prompt`; the schema must exist.
            template: The template text (JSON-encoded first, as MLflow sends it, unless `json_encode=False`).
            json_encode: Store `template` JSON-encoded (MLflow's wire form).
            alias: Point this alias at the new version.
        """
        wire = json.dumps(template) if json_encode else template
        with self._lock:
            if name not in self._prompts:
                self._new_prompt(name, None, {})
            number = self._new_version(name, {"template": wire})["version"]
            if alias is not None:
                self._prompt(name).aliases[check_alias(alias)] = int(number)
        return int(number)

    def template(self, name: str, version: int) -> str:
        """The stored (wire) template of a version."""
        with self._lock:
            return self._version(self._prompt(name), str(version)).template

    def names(self) -> list[str]:
        """Names of every prompt, sorted."""
        with self._lock:
            return sorted(self._prompts)

    # --- prompts ----------------------------------------------------------------------------------------------

    def _create(self, request: LocalRequest) -> dict[str, Any]:
        body = request.json()
        prompt = body.get("prompt") or {}
        name = str(body.get("name") or prompt.get("name") or "")
        with self._lock:
            if name in self._prompts:
                # MLflow's register_prompt tolerates exactly this error code when the prompt already exists.
                raise LocalApiError(409, f"Prompt '{name}' already exists.", error_code="ALREADY_EXISTS")
            created = self._new_prompt(name, prompt.get("description"), tags_of(prompt.get("tags")))
            return self._prompt_json(created)

    def _get(self, request: LocalRequest) -> dict[str, Any]:
        with self._lock:
            return self._prompt_json(self._prompt(request.path_params["name"]))

    def _update(self, request: LocalRequest) -> dict[str, Any]:
        prompt_body = request.json().get("prompt") or {}
        with self._lock:
            prompt = self._prompt(request.path_params["name"])
            if "description" in prompt_body:
                prompt.description = prompt_body.get("description")
            prompt.updated_ms = self._now_ms()
            return self._prompt_json(prompt)

    def _delete(self, request: LocalRequest) -> dict[str, Any]:
        name = request.path_params["name"]
        with self._lock:
            prompt = self._prompt(name)
            if prompt.versions:
                raise LocalApiError(
                    400,
                    f"Prompt '{name}' still has {len(prompt.versions)} version(s): delete them first "
                    f"(DELETE .../prompts/{name}/versions/{{version}}).",
                )
            del self._prompts[name]
        return {}

    def _search(self, request: LocalRequest) -> dict[str, Any]:
        body = request.json()
        location = body.get("catalog_schema") or {}
        catalog, schema = location.get("catalog_name"), location.get("schema_name")
        if not catalog or not schema:
            raise LocalApiError(400, "catalog_schema.catalog_name and catalog_schema.schema_name are required.")
        self._require_schema(str(catalog), str(schema))
        match = name_filter(body.get("filter"))
        prefix = f"{catalog}.{schema}."
        with self._lock:
            found = [p for n, p in sorted(self._prompts.items()) if n.startswith(prefix) and match(n)]
            items, token = page(found, body)
            out: dict[str, Any] = {"prompts": [self._prompt_json(p) for p in items]}
        if token:
            out["next_page_token"] = token
        return out

    # --- versions ---------------------------------------------------------------------------------------------

    def _create_version(self, request: LocalRequest) -> dict[str, Any]:
        body = request.json()
        with self._lock:
            return self._new_version(request.path_params["name"], body.get("prompt_version") or {})

    def _get_version(self, request: LocalRequest) -> dict[str, Any]:
        with self._lock:
            prompt = self._prompt(request.path_params["name"])
            return self._version_json(prompt, self._version(prompt, request.path_params["version"]))

    def _by_alias(self, request: LocalRequest) -> dict[str, Any]:
        alias = request.path_params["alias"]
        with self._lock:
            prompt = self._prompt(request.path_params["name"])
            if alias.lower() == "latest" and alias not in prompt.aliases:
                if not prompt.versions:
                    raise LocalApiError(404, f"Prompt '{prompt.name}' has no versions.")
                return self._version_json(prompt, prompt.versions[max(prompt.versions)])
            number = prompt.aliases.get(alias)
            if number is None:
                raise LocalApiError(404, f"Prompt '{prompt.name}' has no alias '{alias}'.")
            return self._version_json(prompt, prompt.versions[number])

    def _update_version(self, request: LocalRequest) -> dict[str, Any]:
        body = request.json().get("prompt_version") or {}
        with self._lock:
            prompt = self._prompt(request.path_params["name"])
            version = self._version(prompt, request.path_params["version"])
            if "template" in body and body["template"] != version.template:
                raise LocalApiError(400, "A prompt version's template cannot change: create a new version instead.")
            if "description" in body:
                version.description = body.get("description")
            version.updated_ms = self._now_ms()
            return self._version_json(prompt, version)

    def _delete_version(self, request: LocalRequest) -> dict[str, Any]:
        with self._lock:
            prompt = self._prompt(request.path_params["name"])
            version = self._version(prompt, request.path_params["version"])
            del prompt.versions[version.version]
            # An alias cannot outlive the version it points at.
            prompt.aliases = {a: n for a, n in prompt.aliases.items() if n != version.version}
        return {}

    def _search_versions(self, request: LocalRequest) -> dict[str, Any]:
        body = request.json()
        with self._lock:
            prompt = self._prompt(request.path_params["name"])
            ordered = [prompt.versions[n] for n in sorted(prompt.versions, reverse=True)]
            items, token = page(ordered, body)
            out: dict[str, Any] = {"prompt_versions": [self._version_json(prompt, v) for v in items]}
        if token:
            out["next_page_token"] = token
        return out

    # --- aliases and tags -----------------------------------------------------------------------------------

    def _set_alias(self, request: LocalRequest) -> dict[str, Any]:
        alias = check_alias(request.path_params["alias"])
        raw = request.json().get("version")
        with self._lock:
            prompt = self._prompt(request.path_params["name"])
            prompt.aliases[alias] = self._version(prompt, str(raw)).version
            prompt.updated_ms = self._now_ms()
        return {}

    def _delete_alias(self, request: LocalRequest) -> dict[str, Any]:
        alias = request.path_params["alias"]
        with self._lock:
            prompt = self._prompt(request.path_params["name"])
            if prompt.aliases.pop(alias, None) is None:
                raise LocalApiError(404, f"Prompt '{prompt.name}' has no alias '{alias}'.")
        return {}

    def _set_tag(self, request: LocalRequest) -> dict[str, Any]:
        key, value = tag_arg(request)
        with self._lock:
            self._prompt(request.path_params["name"]).tags[key] = value
        return {}

    def _delete_tag(self, request: LocalRequest) -> dict[str, Any]:
        with self._lock:
            drop_tag(self._prompt(request.path_params["name"]).tags, request.path_params["key"])
        return {}

    def _set_version_tag(self, request: LocalRequest) -> dict[str, Any]:
        key, value = tag_arg(request)
        with self._lock:
            prompt = self._prompt(request.path_params["name"])
            self._version(prompt, request.path_params["version"]).tags[key] = value
        return {}

    def _delete_version_tag(self, request: LocalRequest) -> dict[str, Any]:
        with self._lock:
            prompt = self._prompt(request.path_params["name"])
            drop_tag(self._version(prompt, request.path_params["version"]).tags, request.path_params["key"])
        return {}

    # --- internals --------------------------------------------------------------------------------------------

    def _new_prompt(self, name: str, description: str | None, tags: dict[str, str]) -> _Prompt:
        catalog, schema, _ = split_name(name)
        self._require_schema(catalog, schema)
        now = self._now_ms()
        prompt = _Prompt(name=name, description=description, tags=tags, created_ms=now, updated_ms=now)
        self._prompts[name] = prompt
        return prompt

    def _new_version(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        prompt = self._prompt(name)
        template = body.get("template")
        if not isinstance(template, str) or not template.strip():
            raise LocalApiError(400, "prompt_version.template is required and cannot be empty.")
        now = self._now_ms()
        version = _Version(prompt.next_version, template, body.get("description"), tags_of(body.get("tags")), now, now)
        prompt.versions[version.version] = version
        prompt.next_version += 1
        prompt.updated_ms = now
        return self._version_json(prompt, version)

    def _prompt(self, name: str) -> _Prompt:
        split_name(name)
        prompt = self._prompts.get(name)
        if prompt is None:
            raise LocalApiError(404, f"Prompt '{name}' does not exist.")
        return prompt

    @staticmethod
    def _version(prompt: _Prompt, raw: str) -> _Version:
        if not raw.isdigit():
            raise LocalApiError(400, f"Prompt version must be a positive integer, not '{raw}'.")
        version = prompt.versions.get(int(raw))
        if version is None:
            raise LocalApiError(404, f"Prompt '{prompt.name}' has no version {raw}.")
        return version

    def _require_schema(self, catalog: str, schema: str) -> None:
        if catalog not in self.catalog.catalog_names():
            raise LocalApiError(404, f"Catalog '{catalog}' does not exist.", error_code="CATALOG_DOES_NOT_EXIST")
        if schema not in self.catalog.schema_names(catalog):
            raise LocalApiError(404, f"Schema '{catalog}.{schema}' does not exist.", error_code="SCHEMA_DOES_NOT_EXIST")

    def _prompt_json(self, prompt: _Prompt) -> dict[str, Any]:
        return {
            "name": prompt.name,
            "description": prompt.description,
            "creation_timestamp": timestamp(prompt.created_ms),
            "last_updated_timestamp": timestamp(prompt.updated_ms),
            "aliases": [{"alias": a, "version": str(n)} for a, n in sorted(prompt.aliases.items())],
            "tags": [{"key": k, "value": v} for k, v in prompt.tags.items()],
        }

    @staticmethod
    def _version_json(prompt: _Prompt, version: _Version) -> dict[str, Any]:
        out = {
            "name": prompt.name,
            "version": str(version.version),
            "creation_timestamp": timestamp(version.created_ms),
            "last_updated_timestamp": timestamp(version.updated_ms),
            "description": version.description,
            "template": version.template,
            "aliases": [
                {"alias": a, "version": str(n)} for a, n in sorted(prompt.aliases.items()) if n == version.version
            ],
            "tags": [{"key": k, "value": v} for k, v in version.tags.items()],
        }
        return {k: v for k, v in out.items() if v is not None}

    def _now_ms(self) -> int:
        return int(self.clock.time() * 1000)
