"""What a command reports while it works: one event per thing that happened.

On a terminal the events drive a progress bar (see progress.py); otherwise
(cron) each event is one JSON object per line. A run can tee events to a log
file and keep the tail of its output for a Healthchecks failure ping.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from datetime import datetime, timezone
from typing import IO, Any, Protocol


class EventSink(Protocol):
    """Anything that receives events."""

    def emit(self, event: str, **fields: Any) -> None: ...


def event_record(event: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The JSON object written for one event: time, name, then the fields."""
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    return {"ts": now, "event": event, **fields}


def event_line(event: str, fields: dict[str, Any]) -> str:
    return json.dumps(event_record(event, fields), ensure_ascii=False, default=str)


class JsonLinesSink:
    """One JSON object per line on a stream (stdout under cron, a log file)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        line = event_line(event, fields)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


class TailBuffer:
    """Keeps the last `limit` bytes of JSON lines, for a failure ping's body."""

    def __init__(self, limit: int = 200_000) -> None:
        self._limit = limit
        self._lines: deque[str] = deque()
        self._size = 0
        self._seen = 0
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        self.append(event_line(event, fields))

    def append(self, line: str) -> None:
        size = len(line.encode("utf-8")) + 1
        with self._lock:
            self._lines.append(line)
            self._size += size
            self._seen += size
            while self._size > self._limit and len(self._lines) > 1:
                self._size -= len(self._lines.popleft().encode("utf-8")) + 1

    def text(self) -> str:
        with self._lock:
            return "".join(line + "\n" for line in self._lines)

    @property
    def seen_bytes(self) -> int:
        """Bytes of all lines ever appended (kept or dropped)."""
        with self._lock:
            return self._seen


class TeeSink:
    """Sends every event to several sinks."""

    def __init__(self, *sinks: EventSink) -> None:
        self._sinks = sinks

    def emit(self, event: str, **fields: Any) -> None:
        for sink in self._sinks:
            sink.emit(event, **fields)


class RedactingSink:
    """Passes events on with every secret (ping URL, ping key, API key) replaced.

    A safety net under the code that already avoids secrets: a message that
    quotes a URL, or an error that echoes one, still never reaches a log.
    """

    def __init__(self, sink: EventSink, secrets: dict[str, str]) -> None:
        # Longest first, so a ping URL is replaced before the key inside it.
        self._sink = sink
        self._secrets = sorted(
            ((secret, shown) for secret, shown in secrets.items() if secret),
            key=lambda pair: -len(pair[0]),
        )

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret, shown in self._secrets:
                if secret in value:
                    value = value.replace(secret, shown)
            return value
        if isinstance(value, dict):
            return {key: self.scrub(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scrub(item) for item in value]
        return value

    def emit(self, event: str, **fields: Any) -> None:
        self._sink.emit(event, **{key: self.scrub(value) for key, value in fields.items()})


class NullSink:
    def emit(self, event: str, **fields: Any) -> None:
        return None
