"""The embedded default's broker: kombu's filesystem transport, with each message appearing whole.

kombu writes a message straight into the queue folder under its final name, so a worker listing
the folder at that moment can take the file while it is still empty or half written, fail to
decode it and drop the task (celery/kombu#1551): an upload would then wait in the queue for ever.
Here a message is written under a name no queue matches and renamed into place once complete; a
rename within one folder is atomic, so a worker sees either no file or the whole message.
"""

from __future__ import annotations

import os
import uuid

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# Appended to a message's name while it is written: a worker reads only names ending ".<queue>.msg".
WRITING = ".writing"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue`, visible to workers only once it is complete."""
        # Named as kombu names them (oldest first), so the order of messages is kept.
        name = f"{int(round(filesystem.monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + WRITING
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
