"""VectorMemory end to end against the local workspace: add, sync, search, recall, forget, prune."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from vector_support import INDEX, requests_to

from dbx_native._core.clock import FakeClock
from dbx_native.local import LocalWorkspace
from dbx_native.vector import Filter, MemoryHit, VectorMemory

CHAT = [
    {"role": "user", "content": "My card was declined twice at the grocery store"},
    {"role": "assistant", "content": "I see two declines from merchant m_002 for insufficient funds"},
    {"role": "user", "content": "Can I get a refund for the duplicate charge?"},
]


def test_add_appends_after_the_last_sequence_number_and_returns_ids(mem: VectorMemory, ws: LocalWorkspace) -> None:
    assert mem.add("c-1", CHAT[:2]) == ["c-1:0", "c-1:1"]
    assert mem.add("c-1", [CHAT[2]], metadata={"channel": "chat"}) == ["c-1:2"]
    rows = {r["id"]: r for r in ws.vector.rows(INDEX)}
    assert rows["c-1:2"]["role"] == "user" and rows["c-1:2"]["seq"] == 2
    assert json.loads(rows["c-1:2"]["metadata"]) == {"channel": "chat"}
    assert rows["c-1:0"]["text"] == CHAT[0]["content"]


def test_a_new_client_continues_the_numbering_from_the_index(make: Callable[..., VectorMemory]) -> None:
    make().add("c-1", ["first", "second"])
    assert make().add("c-1", ["third"]) == ["c-1:2"]


def test_search_returns_typed_hits_best_first(mem: VectorMemory) -> None:
    mem.add("c-1", CHAT)
    mem.add("c-2", ["the weather is nice in Lisbon today"])
    hits = mem.search("refund for a duplicate charge", k=2)
    assert all(isinstance(h, MemoryHit) for h in hits)
    top = hits[0]
    assert top.text == CHAT[2]["content"] and top.role == "user"
    assert (top.conversation_id, top.seq, top.id) == ("c-1", 2, "c-1:2")
    assert top.created_at is not None and top.created_at.tzinfo is not None
    assert hits[0].score >= hits[1].score


def test_search_by_conversation_only_sees_that_conversation(mem: VectorMemory) -> None:
    mem.add("c-1", CHAT)
    mem.add("c-2", ["refund refund refund for the duplicate charge"])
    hits = mem.search("refund duplicate charge", k=5, conversation_id="c-1")
    assert {h.conversation_id for h in hits} == {"c-1"}


def test_score_threshold_drops_weak_hits(mem: VectorMemory) -> None:
    mem.add("c-1", CHAT)
    all_hits = mem.search("refund", k=3)
    cut = (all_hits[0].score + all_hits[-1].score) / 2
    kept = mem.search("refund", k=3, score_threshold=cut)
    assert 0 < len(kept) < len(all_hits) and all(h.score >= cut for h in kept)


def test_recall_returns_the_last_messages_oldest_first(mem: VectorMemory) -> None:
    mem.add("c-1", [f"message {i}" for i in range(30)])
    mem.add("c-2", ["other conversation"])
    recent = mem.recall("c-1", last_n=5)
    assert [r.seq for r in recent] == [25, 26, 27, 28, 29]
    assert recent[-1].as_message() == {"role": "user", "content": "message 29"}


def test_sync_is_idempotent_by_position(mem: VectorMemory, ws: LocalWorkspace) -> None:
    assert mem.sync("c-1", CHAT[:2]) == ["c-1:0", "c-1:1"]
    upserts = len(requests_to(ws, "/upsert-data"))
    assert mem.sync("c-1", CHAT[:2]) == []
    assert len(requests_to(ws, "/upsert-data")) == upserts  # nothing sent
    assert mem.sync("c-1", CHAT) == ["c-1:2"]
    assert len(ws.vector.rows(INDEX)) == 3


def test_sync_from_a_fresh_client_writes_only_the_new_tail(make: Callable[..., VectorMemory]) -> None:
    make().sync("c-1", CHAT[:2])
    assert make().sync("c-1", CHAT[:2]) == []
    assert make().sync("c-1", CHAT) == ["c-1:2"]


def test_sync_rewrites_a_message_that_changed(mem: VectorMemory, ws: LocalWorkspace) -> None:
    mem.sync("c-1", CHAT)
    edited = [CHAT[0], {"role": "assistant", "content": "Corrected answer"}, CHAT[2]]
    assert mem.sync("c-1", edited) == ["c-1:1"]
    assert {r["id"]: r["text"] for r in ws.vector.rows(INDEX)}["c-1:1"] == "Corrected answer"


def test_forget_a_conversation_deletes_all_its_messages(mem: VectorMemory, ws: LocalWorkspace) -> None:
    mem.add("c-1", CHAT)
    mem.add("c-2", ["keep me"])
    assert mem.forget("c-1") == 3
    assert [r["id"] for r in ws.vector.rows(INDEX)] == ["c-2:0"]
    assert mem.add("c-1", ["fresh start"]) == ["c-1:0"]


def test_forget_ids_deletes_just_those(mem: VectorMemory, ws: LocalWorkspace) -> None:
    mem.add("c-1", CHAT)
    mem.forget(ids=["c-1:0", "c-1:2"])
    assert [r["id"] for r in ws.vector.rows(INDEX)] == ["c-1:1"]


def test_prune_deletes_messages_older_than_the_cutoff(mem: VectorMemory, clock: FakeClock, ws: LocalWorkspace) -> None:
    mem.add("c-1", ["old one", "old two"])
    clock.advance(3 * 86400)
    mem.add("c-1", ["recent"])
    mem.add("c-2", ["recent elsewhere"])
    assert mem.prune(older_than=dt.timedelta(days=1)) == 2
    assert sorted(r["id"] for r in ws.vector.rows(INDEX)) == ["c-1:2", "c-2:0"]
    cutoff = dt.datetime.fromtimestamp(clock.time() + 1, tz=dt.timezone.utc)
    assert mem.prune(older_than=cutoff, conversation_id="c-2") == 1
    assert [r["id"] for r in ws.vector.rows(INDEX)] == ["c-1:2"]


def test_filters_of_each_operator_narrow_search(mem: VectorMemory) -> None:
    mem.add("c-1", CHAT)
    mem.add("c-2", ["card declined at the pharmacy", "refund granted"])
    seqs = lambda f: sorted((h.conversation_id, h.seq) for h in mem.search("card", k=10, filters=f))  # noqa: E731
    assert seqs(Filter(role="assistant")) == [("c-1", 1)]
    assert seqs(Filter().not_("conversation_id", "c-1")) == [("c-2", 0), ("c-2", 1)]
    assert seqs(Filter().lt("seq", 1)) == [("c-1", 0), ("c-2", 0)]
    assert seqs(Filter().le("seq", 1).eq("conversation_id", "c-2")) == [("c-2", 0), ("c-2", 1)]
    assert seqs(Filter().gt("seq", 1)) == [("c-1", 2)]
    assert seqs(Filter().ge("seq", 1).eq("conversation_id", "c-1")) == [("c-1", 1), ("c-1", 2)]
    assert seqs(Filter().like("text", "pharmacy")) == [("c-2", 0)]
    assert seqs(Filter().one_of("role", ["assistant"]).eq("conversation_id", "c-1")) == [("c-1", 1)]
    assert seqs(Filter().any_of(role="assistant", conversation_id="c-2")) == [("c-1", 1), ("c-2", 0), ("c-2", 1)]
    assert seqs({"seq >=": 2}) == [("c-1", 2)]


def test_hybrid_and_full_text_search_use_the_words(mem: VectorMemory) -> None:
    mem.add("c-1", CHAT)
    mem.add("c-2", ["Ticket ZX-4411 was escalated to tier two"])
    assert mem.search("ZX-4411", k=1, query_type="hybrid")[0].conversation_id == "c-2"
    full = mem.search("grocery", k=5, query_type="full_text")
    assert [h.id for h in full] == ["c-1:0"]


def test_search_follows_next_page_tokens(mem: VectorMemory, ws: LocalWorkspace) -> None:
    mem.add("c-1", [f"note number {i}" for i in range(10)])
    ws.vector.page_size = 3
    hits = mem.search("note", k=8)
    assert len({h.id for h in hits}) == 8
    assert len(requests_to(ws, "/query-next-page")) == 2


def test_iter_records_pages_through_scan(mem: VectorMemory, ws: LocalWorkspace) -> None:
    mem.add("c-1", CHAT)
    mem.add("c-2", ["x", "y"])
    records = list(mem.iter_records(page_size=2))
    assert sorted(r.id for r in records) == ["c-1:0", "c-1:1", "c-1:2", "c-2:0", "c-2:1"]
    assert len(requests_to(ws, "/scan")) == 3


def test_extra_columns_are_written_filtered_and_returned(make: Callable[..., VectorMemory]) -> None:
    mem = make(columns={"user_id": "string"})
    mem.add("c-1", [{"role": "user", "content": "card declined", "user_id": "u-7"}])
    mem.add("c-2", [{"role": "user", "content": "card declined", "user_id": "u-8"}])
    hits = mem.search("card", k=5, filters={"user_id": "u-8"})
    assert [(h.id, h.extra) for h in hits] == [("c-2:0", {"user_id": "u-8"})]


def test_large_writes_are_split_under_the_request_limit(make: Callable[..., VectorMemory], ws: LocalWorkspace) -> None:
    mem = make(max_request_bytes=8 * 1024)
    ids = mem.add("c-1", [f"message {i} " + "x" * 200 for i in range(60)])
    posts = requests_to(ws, "/upsert-data")
    assert len(posts) > 1 and all(len(p.body) <= 8 * 1024 for p in posts)
    assert len(ids) == 60 and len(ws.vector.rows(INDEX)) == 60
