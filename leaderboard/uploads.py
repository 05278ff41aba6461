"""An upload handler that stops storing a file as soon as it passes the size limit.

Django would otherwise write the whole body to a temporary file before any form could look at
its size; with this handler first in FILE_UPLOAD_HANDLERS nothing past the limit is kept, and the
view tells the uploader why their file is missing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.template.defaultfilters import filesizeformat

# The request attribute that carries the refusal to the view.
REFUSAL = "upload_refusal"
# The code of the form error that says a file is too large (here or in ``forms.check_upload``):
# the API answers it with 413.
TOO_LARGE = "too_large"


def refusal_message(limit: int) -> str:
    return f"The file is larger than the limit of {filesizeformat(limit)}; nothing was kept."


class SizeLimitUploadHandler(FileUploadHandler):
    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.received = 0
        self.too_large = False

    def _refuse(self) -> None:
        if self.request is not None:
            setattr(self.request, REFUSAL, refusal_message(settings.UPLOAD_MAX_BYTES))
        # Read and drop the rest of the body, so the browser gets the page that explains.
        raise StopUpload(connection_reset=False)

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # The multipart framing adds a little; a body far past the limit is refused as soon as
        # its first file starts, before a byte of it is stored.
        self.too_large = bool(
            content_length and content_length > settings.UPLOAD_MAX_BYTES + 1024 * 1024
        )
        return None

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0
        if self.too_large:
            self._refuse()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.UPLOAD_MAX_BYTES:
            self._refuse()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
