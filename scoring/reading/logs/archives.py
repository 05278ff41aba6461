"""Zip archives (Inspect's .eval logs, HELM run directories) read within the upload's limits:
a damaged or truncated archive, and one that would unpack past the size limit, are refused with
a message rather than read."""

from __future__ import annotations

import io
import zipfile
import zlib

from scoring.reading.errors import FileRejected, _quote, _size

ZIP_MAGIC = b"PK\x03\x04"
# An archive of a few thousand samples has a few thousand members; a million tiny ones is a
# mistake (or an attack) that only costs time.
MAX_MEMBERS = 200_000


def is_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


class Archive:
    """An uploaded zip file, its members read one by one; together they may unpack to at most
    `max_bytes`, the upload limit (as with gzip)."""

    def __init__(self, data: bytes, *, max_bytes: int, what: str = "the zip file") -> None:
        self.what = what
        self.left = max_bytes
        self.max_bytes = max_bytes
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            raise FileRejected(
                [f"{what} is damaged or truncated (its table of contents cannot be read)"]
            ) from None
        infos = self.zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise FileRejected(
                [f"{what} holds {len(infos):,} files; at most {MAX_MEMBERS:,} are read"]
            )
        self.names = [info.filename for info in infos if not info.is_dir()]

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def read(self, name: str) -> bytes:
        """One member's bytes; FileRejected if it is missing, damaged, or past the limit."""
        try:
            info = self.zip.getinfo(name)
        except KeyError:
            raise FileRejected([f"{self.what} has no {_quote(name)}"]) from None
        if info.file_size > self.left:
            raise self._too_large()
        try:
            with self.zip.open(info) as member:
                data = member.read(self.left + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError):
            raise FileRejected(
                [f"{self.what}: {_quote(name)} is damaged or truncated (it cannot be unpacked)"]
            ) from None
        if len(data) > self.left:
            raise self._too_large()
        self.left -= len(data)
        return data

    def _too_large(self) -> FileRejected:
        return FileRejected(
            [f"unpacked, {self.what} is larger than the limit of {_size(self.max_bytes)}"]
        )
