"""What goes wrong in an uploaded file, and how a message shows it: FileRejected, and the helpers
that quote cells and sizes in messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

MAX_ERRORS_SHOWN = 20


class FileRejected(Exception):
    """An uploaded file that cannot be used, with the reasons.

    `errors` holds at most 20 messages, then if there were more a last line saying how many more;
    `n_errors` is the true total.
    """

    def __init__(self, errors: Sequence[str], n_errors: int | None = None) -> None:
        shown = list(errors)[:MAX_ERRORS_SHOWN]
        total = len(errors) if n_errors is None else n_errors
        if total > len(shown):
            more = total - len(shown)
            shown.append(f"… and {more} more error{'s' if more != 1 else ''}")
        self.errors: list[str] = shown
        self.n_errors: int = total
        super().__init__("\n".join(shown))

    def __str__(self) -> str:
        return "\n".join(self.errors)


def _at(line: int) -> str:
    return f" (it passes the limit in line {line:,})"


def _shown(name: str) -> str:
    """A column name as the report shows it: invisible characters written out, long ones cut."""
    if len(name) > 100:
        name = name[:99] + "…"
    return name if name.isprintable() else "".join(map(_visible, name))


def _visible(char: str) -> str:
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _quote(value: object) -> str:
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "…"
    quoted = json.dumps(text, ensure_ascii=False)
    # A message must show what is there: a byte order mark or a no-break space is otherwise
    # invisible, and a lone surrogate cannot even be stored.
    return quoted if quoted.isprintable() else "".join(map(_visible, quoted))


def _size(n_bytes: int) -> str:
    if n_bytes >= 1024 * 1024:
        return f"{n_bytes / (1024 * 1024):g} MB"
    if n_bytes >= 1024:
        return f"{n_bytes / 1024:g} KB"
    return f"{n_bytes} bytes"


def _percent(share: float) -> str:
    return f"{100 * share:.4g}%"
