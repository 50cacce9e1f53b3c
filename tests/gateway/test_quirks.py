"""The model-quirk matrix: each rule, per model family, in one table."""

from __future__ import annotations

import warnings

import pytest

from dbx_native.gateway._quirks import flatten_content, quirks_for

TOOL = {
    "type": "function",
    "function": {"name": "lookup", "strict": True, "parameters": {"type": "object", "properties": {}}},
}
BARE_TOOL = {"type": "function", "function": {"name": "now"}}


@pytest.mark.parametrize(
    ("endpoint", "keeps_strict"),
    [
        ("databricks-claude-sonnet-4", False),
        ("databricks-meta-llama-3-3-70b-instruct", False),
        ("databricks-gpt-oss-120b", True),
        ("my-openai-gpt-4o", True),
        ("azure-o3-mini", True),
        ("databricks-gemma-3-12b", False),
    ],
)
def test_strict_is_removed_for_models_that_reject_it(endpoint: str, keeps_strict: bool) -> None:
    out = quirks_for(endpoint).apply(endpoint, {"messages": [], "tools": [TOOL]})
    assert ("strict" in out["tools"][0]["function"]) is keeps_strict
    assert TOOL["function"]["strict"] is True  # the caller's tool is not modified


def test_tools_without_parameters_get_an_empty_schema() -> None:
    out = quirks_for("databricks-claude-sonnet-4").apply("x", {"messages": [], "tools": [BARE_TOOL]})
    assert out["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {}}


@pytest.mark.parametrize("empty", ["", None, []])
def test_empty_assistant_content_on_tool_call_turns_is_sent_as_null(empty: object) -> None:
    turn = {"role": "assistant", "content": empty, "tool_calls": [{"id": "c1", "type": "function"}]}
    out = quirks_for("databricks-claude-sonnet-4").apply("x", {"messages": [turn]})
    assert out["messages"][0]["content"] is None
    assert turn["content"] == empty


def test_assistant_text_turns_are_left_alone() -> None:
    turn = {"role": "assistant", "content": "hi"}
    assert quirks_for("x").apply("x", {"messages": [turn]})["messages"][0] is turn


@pytest.mark.parametrize(
    ("endpoint", "dropped"),
    [
        ("azure-o3-mini", {"temperature", "top_p"}),
        ("databricks-gpt-5", {"temperature", "top_p"}),
        ("databricks-claude-sonnet-4", {"top_p"}),
        ("databricks-meta-llama-3-3-70b-instruct", set()),
    ],
)
def test_unsupported_parameters_are_dropped_with_one_warning(endpoint: str, dropped: set[str]) -> None:
    payload = {"messages": [], "temperature": 0.2, "top_p": 0.9}
    quirks = quirks_for(endpoint)
    if dropped:
        with pytest.warns(UserWarning, match="does not accept"):
            out = quirks.apply(endpoint, payload)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            quirks.apply(endpoint, payload)  # the second time is silent
    else:
        out = quirks.apply(endpoint, payload)
    assert dropped == {"temperature", "top_p"} - out.keys()


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ({"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}, "response"),
        ({"type": "json_schema", "json_schema": {"schema": {"title": "Merchant Risk"}}}, "Merchant_Risk"),
        ({"type": "json_schema", "json_schema": {"name": "given", "schema": {}}}, "given"),
    ],
)
def test_structured_output_gets_a_schema_name(fmt: dict[str, object], name: str) -> None:
    out = quirks_for("x").apply("x", {"messages": [], "response_format": fmt})
    assert out["response_format"]["json_schema"]["name"] == name


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("plain", "plain"),
        (None, ""),
        ([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "ab"),
        (
            [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "think"}]},
                {"type": "text", "text": "ok"},
            ],
            "ok",
        ),
        (["raw", {"type": "output_text", "text": "!"}], "raw!"),
    ],
)
def test_list_of_parts_content_is_flattened_to_text(content: object, text: str) -> None:
    assert flatten_content(content) == text
