"""An upload's bytes: the size limit, gzip (with its own limits), and refusing what is not UTF-8
text before a parser misreads it.
"""

from __future__ import annotations

import codecs
import zlib
from pathlib import Path
from typing import IO, TypeAlias

from scoring.reading.errors import FileRejected, _at, _size

Source: TypeAlias = str | Path | bytes | bytearray | memoryview | IO[bytes]
_GZIP_MAGIC = b"\x1f\x8b"

# Concatenated gzip files and block-compressed ones (BGZF) have a member per 64 KB at most; tens
# of thousands of tiny members only cost time.
MAX_GZIP_MEMBERS = 10_000
_GZIP_SLICE = 1 << 16


def _read_bytes(source: Source, filename: str, max_bytes: int) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif isinstance(source, str | Path):
        with open(source, "rb") as handle:
            data = handle.read(max_bytes + 1)
    else:
        data = source.read(max_bytes + 1)
        if isinstance(data, str):
            raise TypeError("open the file in binary mode")
    if len(data) > max_bytes:
        line = data.count(b"\n", 0, max_bytes) + 1
        raise FileRejected([f"the file is larger than the limit of {_size(max_bytes)}{_at(line)}"])
    if data.startswith(_GZIP_MAGIC):
        return _gunzip(data, max_bytes)
    if filename.lower().endswith(".gz"):
        raise FileRejected(["the file name ends in .gz but the file is not gzip-compressed"])
    return data


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    """The uncompressed bytes, at most `max_bytes` of them, member by member.

    `gzip.GzipFile(fileobj=...).read(max_bytes + 1)` would stop a bomb as well, but it neither
    counts members (so 10,000 empty ones are read one by one) nor tells where bad data begins
    ("after its first 55 bytes"); this loop does both, with zlib's own gzip mode.
    """
    # Asking for at most one byte over the limit stops a gzip bomb there, instead of after it
    # has filled the memory.
    parts: list[bytes] = []
    room = max_bytes + 1
    view = memoryview(data)
    offset = members = 0
    while offset < len(data):  # one pass per gzip member; most files have one
        members += 1
        if members > MAX_GZIP_MEMBERS:
            raise FileRejected(
                [
                    f"the gzip file is made of more than {MAX_GZIP_MEMBERS:,} parts (members); "
                    "compress the file again in one piece"
                ]
            )
        member = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        # A member that ends copies the input left after it: growing slices keep that copy
        # small when a file is made of many tiny members.
        size = _GZIP_SLICE
        while not member.eof:
            if offset >= len(data):
                raise FileRejected(["the gzip data ends early: the file is truncated"])
            piece = view[offset : offset + size]
            try:
                parts.append(member.decompress(piece, room))
            except zlib.error:
                where = "" if members == 1 else f" after its first {offset:,} bytes"
                raise FileRejected([f"the file is not valid gzip data{where}"]) from None
            room -= len(parts[-1])
            if room <= 0:
                # Exactly max_bytes + 1 bytes came out: the last one is past the limit.
                newlines = sum(part.count(b"\n") for part in parts)
                last = next(part for part in reversed(parts) if part)
                line = newlines - last.endswith(b"\n") + 1
                raise FileRejected(
                    [
                        "uncompressed, the file is larger than the limit of "
                        f"{_size(max_bytes)}{_at(line)}"
                    ]
                )
            offset += len(piece) - len(member.unused_data) - len(member.unconsumed_tail)
            size = min(2 * size, 1 << 24)
    return b"".join(parts)


_OTHER_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _check_text(data: bytes) -> None:
    """Refuse UTF-16, UTF-32 and binary files before a parser misreads them."""
    for bom, encoding in _OTHER_BOMS:
        if data.startswith(bom):
            raise FileRejected(
                [
                    f"the file is {encoding}, not UTF-8 (it starts with a {encoding} byte order "
                    "mark); save it as UTF-8"
                ]
            )
    # Text saved as UTF-8 has no zero bytes; UTF-16 without its mark, and binary files, do.
    zero = data.find(b"\x00")
    if zero >= 0:
        try:
            data[:zero].decode("utf-8")
        except UnicodeDecodeError as error:  # a binary file: name its first unreadable byte
            raise FileRejected([_not_utf8(data, error)]) from None
        line = data.count(b"\n", 0, zero) + 1
        raise FileRejected(
            [
                f"line {line}: the file holds a zero byte (0x00), which is not text: it may be "
                "UTF-16 or not a text file at all; save it as UTF-8"
            ]
        )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FileRejected([_not_utf8(data, error)]) from None


def _not_utf8(data: bytes, error: UnicodeDecodeError) -> str:
    line = data.count(b"\n", 0, error.start) + 1
    return (
        f"line {line}: the file is not UTF-8 (byte 0x{data[error.start]:02x} cannot be read); "
        "save it as UTF-8"
    )
