"""The examples in docs/prompts.md run as written, in order, sharing one namespace (as a reader would)."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "prompts.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_prompts_page_examples_run_in_order() -> None:
    blocks = [m.group(1) for m in BLOCK.finditer(PAGE.read_text("utf-8"))]
    assert len(blocks) >= 5
    namespace: dict[str, object] = {"__name__": "docs_prompts"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"prompts.md#{i}", "exec"), namespace)
    assert namespace["text"] == "Classify this card transaction as fraud or not: EUR 4,999 at 3am, new device"
    assert namespace["messages"] == [  # type: ignore[comparison-overlap]
        {"role": "system", "content": "You are a fraud analyst. Answer fraud or legit."},
        {"role": "user", "content": "EUR 12 groceries"},
    ]
    ws = namespace["ws"]
    assert ws.prompts.names() == []  # type: ignore[attr-defined]
