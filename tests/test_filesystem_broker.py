"""The embedded default's broker writes each message whole before a worker can see it."""

from __future__ import annotations

import contextlib
import os

import pytest
from django.conf import settings
from kombu import Connection

from cxconsole import filesystem_broker


@pytest.fixture
def channel(tmp_path):
    folders = {name: tmp_path / name for name in ("queue", "control", "processed")}
    for folder in folders.values():
        folder.mkdir()
    options = {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "control_folder": str(folders["control"]),
        "processed_folder": str(folders["processed"]),
        "store_processed": False,
    }
    with Connection("filesystem://", transport=filesystem_broker.Transport, transport_options=options) as connection:
        yield connection.default_channel


def test_a_worker_looking_while_a_message_is_written_does_not_see_it(channel, monkeypatch):
    seen_while_writing = []
    replace = os.replace

    def replace_after_a_look(source, target):
        with contextlib.suppress(filesystem_broker.filesystem.Empty):
            seen_while_writing.append(channel._get("bot"))
        replace(source, target)

    monkeypatch.setattr(filesystem_broker.os, "replace", replace_after_a_look)
    channel._put("bot", {"body": "hooks.handle_event 7"})

    assert seen_while_writing == []  # kombu's own transport hands over an empty file here, and the worker dies
    assert channel._get("bot") == {"body": "hooks.handle_event 7"}
    assert channel._size("bot") == 0


def test_the_embedded_default_uses_it():
    assert settings.CELERY_BROKER_URL.startswith("filesystem://")
    assert settings.CELERY_BROKER_TRANSPORT == "cxconsole.filesystem_broker:Transport"
