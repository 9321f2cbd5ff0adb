"""The embedded default's broker: kombu's filesystem transport, with each message written whole before a
worker can see it.

kombu writes a message straight into its final file name, and a worker polling the folder may move and
read that file between its creation and the write: it reads nothing, fails to decode it, and the worker
process dies (seen under `bench/bot_latency.py --forms embedded` at 20 messages a second). Here the
message is written under a name the readers skip, then renamed, which is atomic on one file system.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Readers take "<stamp>.<queue>.msg" only: a leading dot and a suffix keep a partial file out of reach.
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb", buffering=0) as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
