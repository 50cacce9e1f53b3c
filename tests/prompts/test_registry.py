"""PromptRegistry end to end against the local workspace: register/ensure, load and its cache, format, paging."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native._core.clock import FakeClock
from dbx_native.errors import InvalidRequestError, NotFoundError, ServiceUnavailableError
from dbx_native.local import LocalWorkspace
from dbx_native.prompts import PromptRegistry, PromptVersion

NAME = "main.agents.triage"
CHAT = [{"role": "system", "content": "You are {{persona}}."}, {"role": "user", "content": "{{question}}"}]


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    workspace.catalog.create_schema("main.agents")
    with workspace.intercept():
        yield workspace


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def reg(ws: LocalWorkspace, clock: FakeClock) -> PromptRegistry:
    return PromptRegistry(DbxConfig(host=ws.host, token=CANARY, retry={"jitter": 0.0}), clock=clock)


def prompt_calls(ws: LocalWorkspace) -> list[str]:
    return [f"{r.method} {r.path.split('/unity-catalog/prompts', 1)[1]}" for r in ws.requests if "/prompts" in r.path]


# --- register / ensure ----------------------------------------------------------------------------------------


def test_register_creates_the_prompt_then_numbers_versions_one_two(ws: LocalWorkspace, reg: PromptRegistry) -> None:
    first = reg.register(NAME, "Classify: {{text}}", commit_message="first", tags={"team": "fraud"})
    second = reg.register(NAME, "Classify carefully: {{ text }}")
    assert (first.version, second.version) == (1, 2)
    assert first.commit_message == "first" and first.tags == {"team": "fraud"}
    assert first.variables == ("text",) and second.variables == ("text",)
    assert first.created_at is not None and first.uri == f"prompts:/{NAME}/1"
    # MLflow's wire form: the template JSON-encoded, the version tagged with its type.
    assert ws.prompts.template(NAME, 1) == '"Classify: {{text}}"'
    assert ws.prompts.names() == [NAME]


def test_register_sends_one_request_when_the_prompt_exists(ws: LocalWorkspace, reg: PromptRegistry) -> None:
    reg.register(NAME, "v1 {{x}}")
    ws.requests.clear()
    reg.register(NAME, "v2 {{x}}")
    assert prompt_calls(ws) == [f"POST /{NAME}/versions"]


def test_register_with_alias_points_it_at_the_new_version(reg: PromptRegistry) -> None:
    reg.register(NAME, "one {{x}}", alias="production")
    new = reg.register(NAME, "two {{x}}", alias="production")
    assert new.aliases == ("production",)
    assert reg.load(NAME, alias="production").version == 2


def test_ensure_writes_nothing_when_the_latest_template_is_the_same(ws: LocalWorkspace, reg: PromptRegistry) -> None:
    first = reg.ensure(NAME, "Classify: {{text}}", alias="production")
    assert first.version == 1 and first.aliases == ("production",)
    ws.requests.clear()
    again = reg.ensure(NAME, "Classify: {{text}}", alias="production")
    assert again.version == 1
    assert [c for c in prompt_calls(ws) if not c.startswith("GET")] == []
    changed = reg.ensure(NAME, "Classify v2: {{text}}")
    assert changed.version == 2


def test_ensure_compares_chat_templates_by_value(reg: PromptRegistry) -> None:
    first = reg.ensure(NAME, CHAT)
    assert reg.ensure(NAME, [dict(m) for m in CHAT]).version == first.version == 1


def test_register_in_a_missing_schema_is_a_404_that_says_which(reg: PromptRegistry) -> None:
    with pytest.raises(NotFoundError, match=r"Schema 'main\.nope' does not exist") as caught:
        reg.register("main.nope.p", "hi")
    assert caught.value.error_code == "SCHEMA_DOES_NOT_EXIST"


# --- load and the cache -----------------------------------------------------------------------------------------


def test_load_by_version_alias_uri_and_latest(reg: PromptRegistry) -> None:
    reg.register(NAME, "one {{x}}", alias="production")
    reg.register(NAME, "two {{x}}")
    assert reg.load(NAME, version=1).template == "one {{x}}"
    assert reg.load(NAME, alias="production").version == 1
    assert reg.load(f"prompts:/{NAME}@production").version == 1
    assert reg.load(f"prompts:/{NAME}/2").template == "two {{x}}"
    assert reg.load(NAME).version == 2  # no alias or version: the latest, as MLflow reads it


def test_a_cached_load_sends_no_request(ws: LocalWorkspace, reg: PromptRegistry) -> None:
    reg.register(NAME, "one {{x}}", alias="production")
    reg.load(NAME, alias="production")
    ws.requests.clear()
    for _ in range(3):
        assert reg.load(NAME, alias="production").version == 1
        assert reg.load(NAME, version=1).version == 1
    assert len(ws.requests) == 0


def test_register_caches_the_new_version(ws: LocalWorkspace, reg: PromptRegistry) -> None:
    created = reg.register(NAME, "one {{x}}")
    ws.requests.clear()
    assert reg.load(NAME, version=created.version) == created
    assert len(ws.requests) == 0


def test_an_alias_moved_elsewhere_is_seen_after_the_ttl(ws: LocalWorkspace, clock: FakeClock) -> None:
    writer = PromptRegistry(DbxConfig(host=ws.host, token=CANARY))
    reader = PromptRegistry(DbxConfig(host=ws.host, token=CANARY), cache_ttl=30, clock=clock)
    writer.register(NAME, "one {{x}}", alias="production")
    writer.register(NAME, "two {{x}}")
    assert reader.load(NAME, alias="production").version == 1
    writer.set_alias(NAME, "production", 2)
    clock.advance(29)
    assert reader.load(NAME, alias="production").version == 1  # still fresh
    clock.advance(2)
    assert reader.load(NAME, alias="production").version == 2


def test_invalidate_makes_an_alias_move_visible_at_once(ws: LocalWorkspace, reg: PromptRegistry) -> None:
    writer = PromptRegistry(DbxConfig(host=ws.host, token=CANARY))
    writer.register(NAME, "one {{x}}", alias="production")
    writer.register(NAME, "two {{x}}")
    assert reg.load(NAME, alias="production").version == 1
    writer.set_alias(NAME, "production", 2)
    assert reg.invalidate(NAME) >= 1
    assert reg.load(NAME, alias="production").version == 2
    assert reg.invalidate() >= 1 and reg.invalidate() == 0


def test_own_alias_writes_are_seen_at_once(reg: PromptRegistry) -> None:
    reg.register(NAME, "one {{x}}", alias="production")
    reg.register(NAME, "two {{x}}")
    assert reg.load(NAME, alias="production").version == 1
    reg.set_alias(NAME, "production", 2)
    assert reg.load(NAME, alias="production").version == 2
    reg.delete_alias(NAME, "production")
    with pytest.raises(NotFoundError, match="production"):
        reg.load(NAME, alias="production")


def test_cache_ttl_zero_always_asks_the_workspace(ws: LocalWorkspace) -> None:
    reg = PromptRegistry(DbxConfig(host=ws.host, token=CANARY), cache_ttl=0)
    reg.register(NAME, "one {{x}}", alias="production")
    ws.requests.clear()
    reg.load(NAME, alias="production")
    reg.load(NAME, alias="production")
    assert len(ws.requests.filter(path="by-alias")) == 2


def test_a_failing_workspace_serves_the_stale_alias_value(
    ws: LocalWorkspace, reg: PromptRegistry, clock: FakeClock
) -> None:
    reg.register(NAME, "one {{x}}", alias="production")
    fresh = reg.load(NAME, alias="production")
    clock.advance(120)
    ws.faults.add(status=503, times=None, path="by-alias")
    assert reg.load(NAME, alias="production") == fresh
    assert len(ws.requests.filter(path="by-alias")) > 2  # the 503 was retried before falling back


def test_without_stale_on_error_the_failure_is_raised(ws: LocalWorkspace, clock: FakeClock) -> None:
    reg = PromptRegistry(
        DbxConfig(host=ws.host, token=CANARY, retry={"max_attempts": 2}), stale_on_error=False, clock=clock
    )
    reg.register(NAME, "one {{x}}", alias="production")
    reg.load(NAME, alias="production")
    clock.advance(120)
    ws.faults.add(status=503, times=None, path="by-alias")
    with pytest.raises(ServiceUnavailableError):
        reg.load(NAME, alias="production")


def test_a_503_is_retried_and_the_load_succeeds(ws: LocalWorkspace, reg: PromptRegistry) -> None:
    reg.register(NAME, "one {{x}}")
    reg.invalidate()
    ws.faults.add(status=503, times=2, path=r"/versions/1$")
    assert reg.load(NAME, version=1).template == "one {{x}}"
    assert len(ws.requests.filter(path=r"/versions/1$")) == 3


def test_a_failure_with_nothing_cached_is_raised(ws: LocalWorkspace, clock: FakeClock) -> None:
    reg = PromptRegistry(DbxConfig(host=ws.host, token=CANARY, retry={"max_attempts": 1}), clock=clock)
    reg.register(NAME, "one {{x}}")
    reg.invalidate()
    ws.faults.add(status=503, times=None, path="by-alias")
    with pytest.raises(ServiceUnavailableError):
        reg.load(NAME)


def test_cache_size_bounds_the_cache(ws: LocalWorkspace) -> None:
    reg = PromptRegistry(DbxConfig(host=ws.host, token=CANARY), cache_size=2)
    for i in range(4):
        reg.register(NAME, f"v{i} {{{{x}}}}")
    assert "cached=2" in repr(reg)
    assert CANARY not in repr(reg)


# --- format -----------------------------------------------------------------------------------------------------


def test_format_fills_every_variable(reg: PromptRegistry) -> None:
    pv = reg.register(NAME, "Hi {{name}}, about {{ topic }}; bye {{name}}")
    assert pv.variables == ("name", "topic")
    assert pv.format(name="Ada", topic="cards") == "Hi Ada, about cards; bye Ada"


def test_format_names_every_missing_variable(reg: PromptRegistry) -> None:
    pv = reg.register(NAME, "{{a}} {{b}} {{c}}")
    with pytest.raises(InvalidRequestError, match=r"missing value\(s\) for a, c"):
        pv.format(b="x")


def test_format_refuses_extra_values_unless_allowed(reg: PromptRegistry) -> None:
    pv = reg.register(NAME, "Hi {{name}}")
    with pytest.raises(InvalidRequestError, match=r"no variable for other.*allow_extra=True"):
        pv.format(name="Ada", other=1)
    assert pv.format(name="Ada", other=1, allow_extra=True) == "Hi Ada"


def test_format_does_not_expand_braces_inside_values(reg: PromptRegistry) -> None:
    pv = reg.register(NAME, "{{a}}/{{b}}")
    assert pv.format(a="{{b}}", b="x") == "{{b}}/x"


def test_chat_templates_round_trip_and_format_each_message(ws: LocalWorkspace, reg: PromptRegistry) -> None:
    pv = reg.register(NAME, CHAT)
    assert pv.is_chat and pv.variables == ("persona", "question")
    loaded = reg.with_options(timeout=5).load(NAME, version=1)
    assert loaded.template == CHAT
    assert loaded.format(persona="a bot", question="why?") == [
        {"role": "system", "content": "You are a bot."},
        {"role": "user", "content": "why?"},
    ]
    assert ws.prompts.template(NAME, 1).startswith('[{"role": "system"')


# --- listing ----------------------------------------------------------------------------------------------------


def test_versions_are_paged_lazily_newest_first(ws: LocalWorkspace, reg: PromptRegistry) -> None:
    for i in range(5):
        reg.register(NAME, f"v{i + 1} {{{{x}}}}")
    ws.requests.clear()
    pages = reg.versions(NAME, page_size=2)
    assert len(ws.requests) == 0  # lazy
    assert [v.version for v in pages] == [5, 4, 3, 2, 1]
    assert len(ws.requests.filter(path="versions/search")) == 3


def test_search_lists_a_schemas_prompts_with_a_name_filter(ws: LocalWorkspace, reg: PromptRegistry) -> None:
    ws.catalog.create_schema("main.other")
    for name in ("main.agents.triage", "main.agents.triage_v2", "main.agents.summary", "main.other.triage"):
        reg.register(name, "hi {{x}}", alias="production")
    found = list(reg.search("main", "agents", page_size=1))
    assert [p.name for p in found] == ["main.agents.summary", "main.agents.triage", "main.agents.triage_v2"]
    assert found[0].aliases == {"production": 1}
    assert [p.name for p in reg.search("main", "agents", filter="name LIKE 'triage%'")] == [
        "main.agents.triage",
        "main.agents.triage_v2",
    ]


def test_search_of_a_missing_schema_is_a_404(reg: PromptRegistry) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        list(reg.search("main", "nope"))


def test_delete_removes_every_version_then_the_prompt(ws: LocalWorkspace, reg: PromptRegistry) -> None:
    reg.register(NAME, "one {{x}}", alias="production")
    reg.register(NAME, "two {{x}}")
    reg.delete(NAME)
    assert ws.prompts.names() == []
    with pytest.raises(NotFoundError):
        reg.load(NAME, version=1)  # the cache was dropped too


# --- errors -----------------------------------------------------------------------------------------------------


def test_loading_a_missing_prompt_says_what_to_do(reg: PromptRegistry) -> None:
    with pytest.raises(NotFoundError, match=r"does not exist.*register") as caught:
        reg.load("main.agents.nope", version=1)
    assert caught.value.status_code == 404 and caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_a_missing_version_is_a_404(reg: PromptRegistry) -> None:
    reg.register(NAME, "one {{x}}")
    with pytest.raises(NotFoundError, match="no version 7"):
        reg.load(NAME, version=7)


def test_setting_an_alias_on_a_missing_version_is_a_404(reg: PromptRegistry) -> None:
    reg.register(NAME, "one {{x}}")
    with pytest.raises(NotFoundError):
        reg.set_alias(NAME, "production", 9)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.register("triage", "hi"), "catalog.schema.prompt"),
        (lambda r: r.register("a.b.c.d", "hi"), "catalog.schema.prompt"),
        (lambda r: r.register("main.agents.x y", "hi"), "Invalid prompt name"),
        (lambda r: r.register(NAME, "  "), "template is empty"),
        (lambda r: r.register(NAME, []), "non-empty string or a non-empty list"),
        (lambda r: r.register(NAME, [{"role": "user"}]), "Chat message 0"),
        (lambda r: r.register(NAME, "hi", alias="latest"), "reserved"),
        (lambda r: r.register(NAME, "hi", alias="v2"), "reserved"),
        (lambda r: r.register(NAME, "hi", alias="bad alias"), "Invalid alias"),
        (lambda r: r.register(NAME, "hi", tags={"a.b": "x"}), "without dots"),
        (lambda r: r.set_alias(NAME, "LATEST", 1), "reserved"),
        (lambda r: r.set_alias(NAME, "prod", 0), "start at 1"),
        (lambda r: r.load(NAME, alias="prod", version=1), "not both"),
        (lambda r: r.load(f"prompts:/{NAME}@prod", version=1), "already says"),
        (lambda r: r.load("prompts:/x"), "catalog.schema.prompt"),
        (lambda r: r.load(NAME, version="one"), "positive integer"),
        (lambda r: r.versions(NAME, page_size=0), "page_size"),
        (lambda r: r.search("main", "a.b"), "schema name"),
        (lambda r: PromptRegistry(r.config, cache_ttl=-1), "cache_ttl"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(
    ws: LocalWorkspace, reg: PromptRegistry, call: object, message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        call(reg)  # type: ignore[operator]
    assert len(ws.requests) == 0


def test_the_registry_can_be_autospecced_and_used_as_a_context_manager(ws: LocalWorkspace) -> None:
    spec = mock.create_autospec(PromptRegistry, spec_set=True)
    spec.load.return_value = PromptVersion(name=NAME, version=1, template="hi")
    assert spec.load(NAME).template == "hi"
    with PromptRegistry(DbxConfig(host=ws.host, token=CANARY)) as reg:
        reg.register(NAME, "one {{x}}")
        assert reg.load(NAME).version == 1


def test_network_operations_each_make_one_span(reg: PromptRegistry, span_exporter: object) -> None:
    reg.register(NAME, "one {{x}}", alias="production")
    reg.load(NAME, alias="production")
    names = [s.name for s in span_exporter.get_finished_spans()]  # type: ignore[attr-defined]
    assert names == ["prompts.register", "prompts.load"]
    attributes = span_exporter.get_finished_spans()[-1].attributes  # type: ignore[attr-defined]
    assert attributes["dbx_native.prompt.name"] == NAME
