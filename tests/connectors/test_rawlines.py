"""Raw lines by number: the same lines as splitting the file on "\\n", whatever the block size."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from connectors import rawlines
from connectors.rawlines import lines_at


def _expected(content: bytes, numbers: list[int]) -> dict[int, bytes]:
    lines = content.split(b"\n") if content else []
    if content.endswith(b"\n"):
        lines.pop()  # a final newline ends the last line; it does not start another
    return {n: lines[n - 1] for n in numbers if 1 <= n <= len(lines)}


@pytest.mark.parametrize("block", [1, 2, 7, 64, 1 << 20])
def test_lines_match_splitting_on_newlines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(rawlines, "_BLOCK", block)
    rng = random.Random(block)  # noqa: S311 - deterministic test data, not secrets
    for case in range(40):
        parts = [
            rng.choice([b"", b"a", b"bc,d", b'"x",y', b"\r", b"\xc3\xa9t\xc3\xa9"])
            for _ in range(rng.randint(0, 30))
        ]
        content = b"\n".join(parts) + rng.choice([b"", b"\n", b"\n\n"])
        numbers = rng.sample(range(1, len(parts) + 4), k=min(len(parts) + 3, rng.randint(1, 8)))
        path = tmp_path / f"{case}.txt"
        path.write_bytes(content)
        assert lines_at(path, numbers) == _expected(content, numbers)
        assert lines_at(content, numbers) == _expected(content, numbers)


def test_first_line_last_line_and_past_the_end(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"h1,h2\nA,1\r\nB,2")
    assert lines_at(path, [1, 3, 4, 2]) == {1: b"h1,h2", 2: b"A,1\r", 3: b"B,2"}


def test_empty_file_and_no_numbers(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert lines_at(path, [1, 2]) == {}
    path.write_bytes(b"a\nb\n")
    assert lines_at(path, []) == {}
    assert lines_at(path, [0, -1]) == {}
