"""The web tests keep uploaded and static files in temporary folders."""

import pytest


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, media_root, tmp_path_factory) -> None:
    settings.MEDIA_ROOT = media_root
    # Pages find static files through the finders: the tests do not run collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.STATIC_ROOT = tmp_path_factory.getbasetemp() / "static"
    settings.STATIC_ROOT.mkdir(exist_ok=True)
