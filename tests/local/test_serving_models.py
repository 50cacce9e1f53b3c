"""Scripted chat models, the tokenizer, the hashing embedder and the PII detector of local serving endpoints."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from dbx_native.local import HashingEmbedder, ScriptedChatModel, ScriptedReply, count_tokens
from dbx_native.local._serving_gateway import find_pii, mask_pii
from dbx_native.local._serving_models import as_reply, truncate_tokens

CHAT = {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "Is m_002 risky?"}]}


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("", 0), ("   ", 0), ("hello", 1), ("Hello, world!", 4), ("m_002 isn't", 4), ("a  b\nc", 3)],
)
def test_tokens_are_words_and_punctuation_marks(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens


def test_truncating_keeps_the_first_tokens_and_their_spacing() -> None:
    assert truncate_tokens("one two, three four", 3) == "one two,"
    assert truncate_tokens("short", 10) == "short"
    assert truncate_tokens("anything", 0) == ""


def test_canned_replies_are_used_in_turn_and_cycle() -> None:
    model = ScriptedChatModel(["first", "second"])
    assert [model.reply(CHAT).content for _ in range(5)] == ["first", "second", "first", "second", "first"]
    assert len(model.calls) == 5


def test_a_function_model_sees_the_request_and_may_answer_a_message_dict() -> None:
    def script(request: dict[str, Any]) -> dict[str, Any]:
        return {"content": f"{len(request['messages'])} messages"}

    reply = ScriptedChatModel(script).reply(CHAT)
    assert (reply.content, reply.finish_reason) == ("2 messages", "stop")


def test_the_default_model_echoes_and_says_it_is_scripted() -> None:
    reply = ScriptedChatModel().reply(CHAT)
    assert "local scripted model" in (reply.content or "")
    assert "Is m_002 risky?" in (reply.content or "")


def test_the_default_model_answers_json_in_json_mode() -> None:
    reply = ScriptedChatModel().reply({**CHAT, "response_format": {"type": "json_object"}})
    assert json.loads(reply.content or "")["echo"] == "Is m_002 risky?"


def test_the_default_model_calls_the_tool_that_tool_choice_forces() -> None:
    tools = [{"type": "function", "function": {"name": "lookup"}}, {"type": "function", "function": {"name": "other"}}]
    forced = ScriptedChatModel().reply({**CHAT, "tools": tools, "tool_choice": {"function": {"name": "other"}}})
    required = ScriptedChatModel().reply({**CHAT, "tools": tools, "tool_choice": "required"})
    assert forced.tool_calls is not None and forced.tool_calls[0]["function"]["name"] == "other"
    assert required.tool_calls is not None and required.tool_calls[0]["function"]["name"] == "lookup"
    assert forced.finish_reason == "tool_calls"


def test_short_tool_calls_are_normalised_to_the_openai_shape() -> None:
    reply = as_reply(ScriptedReply(tool_calls=[{"name": "lookup", "arguments": {"id": "m_1"}}]))
    assert reply.tool_calls is not None
    (call,) = reply.tool_calls
    assert call["type"] == "function"
    assert call["id"].startswith("call_")
    assert call["function"] == {"name": "lookup", "arguments": '{"id":"m_1"}'}
    assert reply.finish_reason == "tool_calls"
    assert as_reply(ScriptedReply(tool_calls=[{"name": "lookup", "arguments": {"id": "m_1"}}])).tool_calls == [call]


def test_a_reply_that_is_not_a_reply_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="scripted reply"):
        ScriptedChatModel(lambda request: 42).reply(CHAT)  # type: ignore[arg-type, return-value]


def test_an_empty_list_of_replies_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ScriptedChatModel([])


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_hashing_embeddings_are_deterministic_unit_vectors_of_the_chosen_size() -> None:
    vectors = HashingEmbedder(dimension=64).embed(["card declined twice", "card declined twice", ""])
    assert len(vectors) == 3 and all(len(v) == 64 for v in vectors)
    assert vectors[0] == vectors[1] == HashingEmbedder(dimension=64).embed(["card declined twice"])[0]
    assert math.isclose(sum(x * x for x in vectors[0]), 1.0)
    assert vectors[2] == [0.0] * 64


def test_hashing_embeddings_put_texts_sharing_words_closer() -> None:
    a, b, c = HashingEmbedder().embed(["card declined twice", "the card was declined", "weather is sunny today"])
    assert _cosine(a, b) > _cosine(a, c) + 0.2


def test_the_default_embedding_size_is_384() -> None:
    assert len(HashingEmbedder().embed(["x"])[0]) == 384


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("mail jane.doe@example.com now", ["EMAIL_ADDRESS"]),
        ("card 4111 1111 1111 1111 ok", ["CREDIT_CARD"]),
        ("card 4111 1111 1111 1112 fails luhn", []),
        ("ssn 123-45-6789", ["US_SSN"]),
        ("call +1 415-555-0100 or (415) 555-0101", ["PHONE_NUMBER", "PHONE_NUMBER"]),
        ("merchant m_002 has 7 chargebacks in 30 days", []),
    ],
)
def test_pii_detector_finds_emails_cards_ssns_and_phones(text: str, kinds: list[str]) -> None:
    assert [kind for kind, _, _ in find_pii(text)] == kinds


def test_masking_replaces_each_piece_of_pii_with_its_kind() -> None:
    masked = mask_pii("card 4111-1111-1111-1111, mail a@b.io")
    assert masked == "card [CREDIT_CARD], mail [EMAIL_ADDRESS]"
