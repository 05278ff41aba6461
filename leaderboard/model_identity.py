"""Which model a submission is of: its name and organisation as submitted, normalised.

Two spellings that differ only in case or in spaces ("GPT-4o mini" and "gpt-4o  mini") are one
model. Plain functions, read by the ``Model`` table and by the migration that filled it.
"""

from __future__ import annotations

from django.utils.text import slugify

# Between name and organisation in a key: whitespace is collapsed to single spaces, so a tab
# never occurs in either part.
SEPARATOR = "\t"


def normalised(text: str) -> str:
    """Casefolded, with runs of whitespace made one space and none at either end."""
    return " ".join(text.casefold().split())


def model_key(name: str, organisation: str) -> str:
    """The key one model's submissions share, whatever the case and spacing they were typed in."""
    return f"{normalised(name)}{SEPARATOR}{normalised(organisation)}"


def slug_base(name: str, organisation: str) -> str:
    """The slug a model's page is named by before any other model takes it: "gpt-4o-mini", or
    with its organisation, "gpt-4o-mini-openai"."""
    return slugify(f"{name} {organisation}")[:90].strip("-") or "model"
