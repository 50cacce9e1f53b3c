"""What `PromptRegistry` returns: `PromptVersion` (a template you can format) and `PromptInfo`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict

from dbx_native.errors import InvalidRequestError
from dbx_native.prompts._template import TYPE_TAG, Template, decode_template, render, variables_of

__all__ = ["PromptInfo", "PromptVersion", "parse_info", "parse_version"]


class PromptVersion(BaseModel):
    """One immutable version of a prompt.

    Attributes:
        name: `catalog.schema.prompt`.
        version: 1, 2, ... in order of registration.
        template: The text, or for a chat prompt a list of `{"role", "content"}` messages.
        variables: The `{{var}}` names of the template, in order of first appearance.
        aliases: The aliases pointing at this version when it was read.
        tags: The version's tags (MLflow's own `_mlflow...` tags left out).
        commit_message: What changed, as given at registration.
        created_at: When the version was registered.
        updated_at: When its metadata last changed.

    Example:
        >>> pv = PromptVersion(name="main.agents.triage", version=1, template="Hi {{name}}", variables=("name",))
        >>> pv.format(name="Ada")
        'Hi Ada'
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str
    version: int
    template: Template
    variables: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = {}
    commit_message: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_chat(self) -> bool:
        """Whether the template is a list of chat messages."""
        return not isinstance(self.template, str)

    @property
    def uri(self) -> str:
        """`prompts:/<name>/<version>`, as MLflow's `load_prompt` accepts it."""
        return f"prompts:/{self.name}/{self.version}"

    def format(self, *, allow_extra: bool = False, **values: Any) -> Template:
        """The template with every `{{var}}` replaced by `str(values[var])`.

        Args:
            allow_extra: Accept values the template has no variable for (ignored) instead of refusing them.
            **values: One value per variable.

        Returns:
            The text, or for a chat prompt a new list of messages.

        Raises:
            InvalidRequestError: A variable has no value (all missing ones are named), or a value has no
                variable and `allow_extra` is false.
        """
        missing = [v for v in self.variables if v not in values]
        extra = [] if allow_extra else sorted(set(values) - set(self.variables))
        if missing or extra:
            problems = []
            if missing:
                problems.append(f"missing value(s) for {', '.join(missing)}")
            if extra:
                problems.append(f"no variable for {', '.join(extra)} (pass allow_extra=True to ignore them)")
            raise InvalidRequestError(
                f"Cannot format {self.name} version {self.version}: {'; '.join(problems)}. "
                f"Its variables are: {', '.join(self.variables) or 'none'}."
            )
        return render(self.template, {k: str(values[k]) for k in self.variables})

    def __repr__(self) -> str:
        text = self.template if isinstance(self.template, str) else f"{len(self.template)} chat messages"
        shown = text if len(text) <= 40 else text[:37] + "..."
        return f"PromptVersion(name={self.name!r}, version={self.version}, template={shown!r})"


class PromptInfo(BaseModel):
    """A prompt (not a version): name, description, tags and where its aliases point.

    Attributes:
        name: `catalog.schema.prompt`.
        description: The prompt's description.
        tags: The prompt's tags.
        aliases: Alias -> version number.
        created_at: When the prompt was created.
        updated_at: When it last changed.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str
    description: str | None = None
    tags: dict[str, str] = {}
    aliases: dict[str, int] = {}
    created_at: datetime | None = None
    updated_at: datetime | None = None


def parse_version(raw: Mapping[str, Any]) -> PromptVersion:
    """A `PromptVersion` JSON object (as `GetPromptVersion` answers it) made into a `PromptVersion`."""
    template = decode_template(raw.get("template"))
    tags = _tags(raw.get("tags"))
    return PromptVersion(
        name=str(raw.get("name") or ""),
        version=int(raw.get("version") or 0),
        template=template,
        variables=variables_of(template),
        aliases=tuple(str(a.get("alias")) for a in raw.get("aliases") or [] if isinstance(a, Mapping)),
        tags={k: v for k, v in tags.items() if not k.startswith("_mlflow") and k != TYPE_TAG},
        commit_message=raw.get("description") or None,
        created_at=_time(raw.get("creation_timestamp")),
        updated_at=_time(raw.get("last_updated_timestamp")),
    )


def parse_info(raw: Mapping[str, Any]) -> PromptInfo:
    """A `Prompt` JSON object made into a `PromptInfo`."""
    aliases = {
        str(a.get("alias")): int(a.get("version") or 0) for a in raw.get("aliases") or [] if isinstance(a, Mapping)
    }
    return PromptInfo(
        name=str(raw.get("name") or ""),
        description=raw.get("description") or None,
        tags=_tags(raw.get("tags")),
        aliases=aliases,
        created_at=_time(raw.get("creation_timestamp")),
        updated_at=_time(raw.get("last_updated_timestamp")),
    )


def _tags(raw: Any) -> dict[str, str]:
    return {str(t["key"]): str(t.get("value") or "") for t in raw or [] if isinstance(t, Mapping) and t.get("key")}


def _time(raw: Any) -> datetime | None:
    """A `google.protobuf.Timestamp` in its JSON form (RFC 3339); epoch milliseconds are accepted too."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, (int, float)):
        return datetime.fromtimestamp(raw / 1000, tz=timezone.utc)
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
