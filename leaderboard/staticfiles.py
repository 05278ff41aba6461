"""Serves plotly.js from the installed plotly package, so pages load charts from our own host.

The file comes from the same package that builds the figures on the server, so the JavaScript
always matches the figure JSON it draws. Only that one file is exposed.
"""

from __future__ import annotations

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).resolve().parent / "package_data"
PLOTLY_JS = "plotly.min.js"
PREFIX = "vendor/plotly"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=PLOTLY_DIR)
        self.storage.prefix = PREFIX

    def check(self, **kwargs) -> list:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs):
        if path == f"{PREFIX}/{PLOTLY_JS}":
            match = str(PLOTLY_DIR / PLOTLY_JS)
            return [match] if find_all else match
        # As Django's own finders answer: an empty list, which finders.find() reads as nothing.
        return []

    def list(self, ignore_patterns):
        yield PLOTLY_JS, self.storage
