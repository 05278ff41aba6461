"""The embedded broker never shows a worker a message that is still being written."""

from __future__ import annotations

import json
import threading

from kombu import Connection

from leaderboard.broker import Transport

QUEUE = "scoring"


def _channel(tmp_path, transport):
    folder = tmp_path / "queue"
    folder.mkdir()
    connection = Connection(
        "filesystem://",
        transport=transport,
        transport_options={"data_folder_in": str(folder), "data_folder_out": str(folder)},
    )
    return connection, connection.channel(), folder


def _torn_reads(tmp_path, transport, n_messages=40) -> tuple[int, int]:
    """Put large messages on the queue while reading every message file that a worker would
    take, as soon as it appears; how many reads found a message cut short, and how many read."""
    connection, channel, folder = _channel(tmp_path, transport)
    payload = {"body": "x" * 4_000_000}
    done = threading.Event()

    def put() -> None:
        try:
            for _ in range(n_messages):
                channel._put(QUEUE, payload)
        finally:
            done.set()

    writer = threading.Thread(target=put)
    writer.start()
    torn = reads = 0
    try:
        while not done.is_set():
            for path in folder.iterdir():
                # The names a worker takes (kombu's Channel._get).
                if path.name.partition(".")[2] != f"{QUEUE}.msg":
                    continue
                try:
                    text = path.read_bytes()
                except FileNotFoundError:
                    continue
                reads += 1
                try:
                    json.loads(text)
                except ValueError:
                    torn += 1
                path.unlink(missing_ok=True)
    finally:
        writer.join()
        connection.release()
    return torn, reads


def test_it_shows_a_message_only_once_it_is_whole(tmp_path):
    torn, reads = _torn_reads(tmp_path, Transport)
    assert reads, "the reader saw no message: the test proves nothing"
    assert torn == 0


def test_it_leaves_no_partial_file_behind(tmp_path):
    connection, channel, folder = _channel(tmp_path, Transport)
    try:
        channel._put(QUEUE, {"task": "one"})
        channel._put(QUEUE, {"task": "two"})
        # (Within one millisecond kombu's names order messages at random: compared as a set.)
        assert {channel._get(QUEUE)["task"] for _ in range(2)} == {"one", "two"}
        assert list(folder.iterdir()) == []
    finally:
        connection.release()
