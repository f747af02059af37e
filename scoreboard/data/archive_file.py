"""An archive of audit events (play/archive.py): gzip JSON lines, a header line first, then
one event a line, with every column of audit_events (times in UTC, to the microsecond, as
the table keeps them, so that a restore puts back the very rows).

The header names the range, ``from`` (null: from the first event) up to ``to``, and the
row count. A file is written under a temporary name beside its own, synced to the disk, and
then linked to its name, which fails if the name is taken: a file under its name is whole,
and none is ever overwritten.
"""

import gzip
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from psycopg2.extensions import get_wait_callback
from sqlalchemy import text

from .models import AuditEvent

FORMAT = "scoreboard-audit/1"
COLUMNS = tuple(column.name for column in AuditEvent.__table__.columns)
# Lines handed to gzip at a time: fewer calls, and memory stays small.
BATCH = 5000


class BadArchive(ValueError):
    """A file that is not an archive of this format, or not whole."""


def header(since: datetime | None, to: datetime, rows: int) -> dict:
    return {"format": FORMAT, "table": AuditEvent.__tablename__,
            "from": since.isoformat() if since else None, "to": to.isoformat(), "rows": rows}


def write(path: str, head: dict, fill: Callable) -> None:
    """Write ``head``, and the events ``fill(out)`` writes to ``out.write`` (lines of
    JSON, as bytes), to the new file ``path``. FileExistsError if it exists; ValueError,
    and no file, if the lines are not as many as the header says."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".audit-", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as raw:
            # Level 1: the disk is cheaper than the CPU, and a month of events must go fast.
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as zipped:
                zipped.write(_line(head))
                out = _Counting(zipped)
                fill(out)
                out.flush()
            raw.flush()
            os.fsync(raw.fileno())
        if out.lines != head["rows"]:
            raise ValueError(f"{out.lines} events written, the header says {head['rows']}")
        os.link(temporary, path)
    finally:
        os.unlink(temporary)
    _sync_directory(directory)


def write_rows(out, rows: Iterable[tuple]) -> None:
    """Write ``rows`` (tuples in COLUMNS' order) as ``write``'s lines to ``out``."""
    for batch in _batches(rows):
        out.write(b"".join(_line(_event(row)) for row in batch))


def copy_lines(out, connection, query: str) -> None:
    """Write the lines of ``query`` (PostgreSQL; one column, each row an event's JSON) as
    ``write``'s lines to ``out``. By COPY, whose rows reach ``out`` in chunks, with no
    Python object a row; in CSV with a quote and a delimiter that JSON never holds raw
    (control characters), so each line is the JSON as it is (the text format would double
    its backslashes). Except with psycopg2 made green (a gevent worker, where the upkeep's
    retention runs): its wait callback refuses COPY, so the rows come a batch at a time."""
    if get_wait_callback() is not None:
        write_lines(out, connection.execute(
            text(query).execution_options(yield_per=BATCH)).scalars())
        return
    with connection.connection.cursor() as cursor:
        cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x02',"
                           " QUOTE E'\\x01')", out)


def write_lines(out, lines: Iterable[str]) -> None:
    """Write ``lines``, each an event's JSON already, as ``write``'s lines to ``out``."""
    for batch in _batches(lines):
        out.write(("\n".join(batch) + "\n").encode())


class _Counting:
    """A writer that counts the lines written through it, and hands them on a megabyte
    at a time (gzip's own cost is per call)."""

    def __init__(self, sink):
        self.sink, self.lines, self.held, self.size = sink, 0, [], 0

    def write(self, data: bytes) -> int:
        self.held.append(data)
        self.size += len(data)
        if self.size >= 1 << 20:
            self.flush()
        return len(data)

    def flush(self) -> None:
        chunk = b"".join(self.held)
        self.lines += chunk.count(b"\n")
        self.sink.write(chunk)
        self.held, self.size = [], 0


def read(path: str) -> tuple[dict, Iterator[dict]]:
    """The header of the archive ``path``, and its events as column -> value; reading them
    all checks the count."""
    with gzip.open(path, "rb") as zipped:
        try:
            head = json.loads(zipped.readline())
        except (ValueError, OSError) as error:
            raise BadArchive(f"{path} is not an audit archive: {error}") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise BadArchive(f"{path} is not an audit archive of format {FORMAT}")
    head["from"] = head["from"] and datetime.fromisoformat(head["from"])
    head["to"] = datetime.fromisoformat(head["to"])
    return head, _events(path, head["rows"])


def _events(path: str, expected: int) -> Iterator[dict]:
    count = 0
    with gzip.open(path, "rb") as zipped:
        zipped.readline()
        for line in zipped:
            event = json.loads(line)
            event["at"] = datetime.fromisoformat(event["at"])
            count += 1
            yield event
    if count != expected:
        raise BadArchive(f"{path} holds {count} events, its header says {expected}")


def _event(row: tuple) -> dict:
    event = dict(zip(COLUMNS, row, strict=True))
    event["at"] = event["at"].isoformat()
    return event


def _line(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def _batches(rows: Iterable[tuple]) -> Iterator[list]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _sync_directory(directory: str) -> None:
    """The new name itself on the disk, not only the file's bytes."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
