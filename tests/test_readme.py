"""The README's code runs as printed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent.parent / "README.md"


def python_block_after(heading: str) -> str:
    text = README.read_text()
    section = text[text.index(heading) :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python block after {heading!r}"
    return match.group(1)


async def test_the_mock_transport_example_runs() -> None:
    namespace: dict[str, Any] = {}
    exec(
        compile(python_block_after("### Testing your code without a network"), "README", "exec"),
        namespace,
    )
    await namespace["test_my_code"]()
