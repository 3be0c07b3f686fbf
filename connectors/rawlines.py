"""Raw lines of a text file by line number, found by counting newlines, not by parsing.

A file connector that must look at a few records as written (the CSV reader checking whether a
row is short) needs those lines only. Parsing the whole file again as lines materialises every
line to keep a handful; counting newline bytes over a memory map, a block at a time, costs a
small fraction of that and copies nothing but the lines asked for.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = ["lines_at"]

_NEWLINE = ord("\n")
_BLOCK = 1 << 16
"""Bytes counted per step: a block holding a wanted line is also searched for its newlines, so
small blocks keep that search short; much smaller ones cost more in calls than they save."""


def lines_at(source: Path | bytes, numbers: Iterable[int]) -> dict[int, bytes]:
    """The lines numbered ``numbers`` (1-based, "\\n"-separated) of ``source``, without the "\\n".

    A number past the last line is left out of the result. Nothing is decoded or stripped: a
    "\\r" before the "\\n" stays, as the bytes of the line hold it.
    """
    wanted = sorted({n for n in numbers if n >= 1})
    if not wanted:
        return {}
    if isinstance(source, bytes):
        return _lines_in(source, wanted)
    with source.open("rb") as file:
        if not file.seek(0, 2):
            return {}  # an empty file has no lines (and cannot be mapped)
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _lines_in(data, wanted)


def _lines_in(data: bytes | mmap.mmap, wanted: list[int]) -> dict[int, bytes]:
    """``lines_at`` over bytes already in memory; ``wanted`` sorted, every number >= 1.

    Line n starts just after the (n-1)-th newline. Blocks are counted until the one holding the
    newline before the next wanted line, whose newline positions are then listed. Every view of
    ``data`` is local, so none outlives the call (a memory map cannot close while one does).
    """
    size = len(data)
    view = np.frombuffer(data, dtype=np.uint8)
    starts: list[tuple[int, int]] = []
    pending = iter(wanted)
    line = next(pending, None)
    if line == 1:
        starts.append((1, 0))
        line = next(pending, None)
    before = 0  # newlines ahead of the current block
    for offset in range(0, size, _BLOCK):
        if line is None:
            break
        newline = view[offset : offset + _BLOCK] == _NEWLINE
        count = int(np.count_nonzero(newline))
        if line - 1 <= before + count:
            positions = np.flatnonzero(newline)
            while line is not None and line - 1 <= before + count:
                starts.append((line, offset + int(positions[line - 2 - before]) + 1))
                line = next(pending, None)
        before += count
    found: dict[int, bytes] = {}
    for number, start in starts:
        if start >= size:
            continue  # the file ends with a newline: nothing follows it
        end = data.find(b"\n", start)
        found[number] = bytes(data[start : end if end >= 0 else size])
    return found
