"""The audit log after an erasure: every row kept, the rows about the person without their identifiers.

The audit log (privacy.audit) is append-only JSON lines, `KINDRED_HOME/audit/<table>/<day>/*.jsonl`,
one file per writing process. That an access happened is the controller's record of processing, so
an erasure keeps every row. A row is about the person when it names one of their profiles or CRM
records, holds the lookup hash of one of their emails, phones or record ids, or carries one of
their identifiers in any text (as `privacy.erasure_rules.token_pattern` finds them). Such a row
keeps when, who, through which face, what kind of thing was read, the outcome, the model and the
token counts; its identifiers and texts become null (`BLANKED`, and any other text field holding
one of their identifiers), and `erased: true` marks it.

A file holding such a row is written again beside itself (`.<name>.erasing`, mode 0600), synced
and renamed over the old one; every other line keeps its bytes. The file may belong to a process
appending to it right now (the API, MCP). It is scanned first without a lock; then an exclusive
`flock` of it is taken, the lines appended since are scanned, and the lock is held until the new
file is renamed over it. Every append takes the same lock and checks that its open file is still
the one at its path (privacy.audit.AuditLog), so an append lands either in the old file before
the lock (and is carried over) or in the new file, never in the replaced one.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from privacy.audit import AUDIT_COLUMNS, AUDIT_FOLDER
from privacy.erasure_files import fsync_path, temporary_beside
from privacy.erasure_find import Person
from privacy.erasure_rules import person_tokens
from privacy.tokens import KeyedTokens, MaskingKeyMissing

log = logging.getLogger(__name__)

# What a row about the person loses (fields a table does not have are left alone).
BLANKED = ("profile_id", "crm_record_id", "lookup_hash", "prompt", "response", "placeholders", "error")
ERASED = "erased"
# File times come from a clock that may lag the wall clock by a tick: look a little further back.
_CLOCK_SLACK_NS = 2_000_000_000
_CHUNK = 8 << 20
_Span = tuple[int, int]  # a line's bytes in a file: [start, end)


@dataclass(frozen=True)
class AuditMatch:
    """What tells an audit row about the person. Held in memory only, never stored.

    Attributes:
        profiles: their profile ids.
        crm_records: their CRM records, (object, id).
        lookup_hashes: the audit log's keyed hashes of their emails, phones and record ids.
        pattern: their identifiers as whole tokens in free text (None: nothing to look for).
        tokens: keyed tokens of their emails and phones (`<EMAIL_3f9a0c12de>`), as masked text holds them.
        needles: lower-case literals; a line holding none of them is about someone else.
        ascii: whether every needle is ASCII (then lines are compared as bytes, faster).
    """

    profiles: frozenset[str]
    crm_records: frozenset[tuple[str, str]]
    lookup_hashes: frozenset[str]
    pattern: re.Pattern | None
    tokens: tuple[str, ...]
    needles: tuple[str, ...]
    ascii: bool

    def about(self, row: dict) -> bool:
        """Whether a parsed audit row is about the person."""
        return (
            row.get("profile_id") in self.profiles
            or (row.get("crm_object"), row.get("crm_record_id")) in self.crm_records
            or row.get("lookup_hash") in self.lookup_hashes
            or any(self.in_text(value) for value in row.values())
        )

    def in_text(self, value: object) -> bool:
        """Whether a field's value (text, or a list of texts) holds one of the person's identifiers."""
        if isinstance(value, list):
            return any(self.in_text(v) for v in value)
        if not isinstance(value, str):
            return False
        return bool(self.pattern and self.pattern.search(value)) or any(t in value for t in self.tokens)

    def blanked(self, row: dict) -> dict:
        """The row with the person's identifiers and texts null and the `erased` mark."""
        kept = {k: None if k in BLANKED or self.in_text(v) else v for k, v in row.items()}
        return {**kept, ERASED: True}

    def erased_line(self, line: bytes) -> bytes | None:
        """The line to write instead of one read from a file: None when it is not about the person.

        A line that is not JSON (cut short by a machine crash; readers skip it) and holds one of
        the needles is dropped (b"").
        """
        if self.ascii:
            lowered_bytes = line.lower()
            if not any(n.encode() in lowered_bytes for n in self.needles):
                return None
        elif not any(n in line.decode("utf-8", "replace").lower() for n in self.needles):
            return None
        try:
            row = json.loads(line)
        except ValueError:
            return b""
        if not isinstance(row, dict) or not self.about(row):
            return None
        text = json.dumps(self.blanked(row), ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8") + b"\n"


def audit_match(person: Person, pattern: str | None) -> AuditMatch:
    """What tells the person's audit rows, from what the erasure found.

    Lookup hashes and keyed tokens need `KINDRED_MASKING_KEY` (the key they were made with);
    without it, rows are told by their ids and texts only, and a warning says so.

    Args:
        person: from `privacy.erasure_find.find_person`.
        pattern: `privacy.erasure_rules.token_pattern(person)` (RE2, read here as a Python pattern).

    Returns:
        The match.
    """
    emails, phones, keys = person_tokens(person)
    crm_records = frozenset((crm_object, crm_id) for _, crm_object, crm_id in person.crm_records)
    values = [("email", e) for e in person.emails if person.own(e)]
    values += [("phone", p) for p in person.phones if person.own(p)]
    ids = sorted({r for _, r in person.records} | {i for _, i in crm_records})
    lookups: set[str] = set()
    tokens: set[str] = set()
    try:
        keyed = KeyedTokens()
    except MaskingKeyMissing:
        log.warning(
            "erasure: KINDRED_MASKING_KEY is not set: audit rows of lookups by the person's email or phone "
            "are told only when they name the profile found"
        )
    else:
        lookups = {keyed.digest(kind, value) for kind, value in [*values, *(("crm_id", i) for i in ids)]}
        tokens = {keyed.token(kind, value) for kind, value in values}
    needles = {n.lower() for n in (*emails, *phones, *keys, *ids, *lookups, *tokens) if n}
    return AuditMatch(
        profiles=frozenset(person.profiles),
        crm_records=crm_records,
        lookup_hashes=frozenset(lookups),
        pattern=re.compile(pattern) if pattern else None,
        tokens=tuple(sorted(tokens)),
        needles=tuple(sorted(needles)),
        ascii=all(n.isascii() for n in needles),
    )


def audit_clock() -> int:
    """A time (ns) to pass as `since_ns` later: files appended to after it are read again."""
    return time.time_ns() - _CLOCK_SLACK_NS


def audit_files(home: Path, table: str) -> list[Path]:
    """The JSON-lines files of one audit table (temporary files, with a leading dot, left out)."""
    folder = home / AUDIT_FOLDER / table
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*.jsonl") if p.is_file() and not p.name.startswith("."))


def erase_from_audit(home: Path, match: AuditMatch, *, since_ns: int | None = None) -> dict[str, int]:
    """Blank the person's rows in every audit file, keeping the rows and everyone else's bytes.

    Args:
        home: KINDRED_HOME.
        match: from `audit_match`.
        since_ns: read only files modified at or after this time (`audit_clock`): the rows
            appended since an earlier pass.

    Returns:
        Rows blanked per audit table (`audit.access_log`, `audit.llm_calls`), only those with rows.
    """
    blanked: dict[str, int] = {}
    for table in AUDIT_COLUMNS:
        n = 0
        for path in audit_files(home, table):
            with suppress(FileNotFoundError):  # a day folder deleted meanwhile
                if since_ns is None or path.stat().st_mtime_ns >= since_ns:
                    n += rewrite_audit_file(path, match)
        if n:
            blanked[f"audit.{table}"] = n
    if blanked:
        log.info("erasure: audit rows blanked %s", blanked)
    return blanked


def rewrite_audit_file(path: Path, match: AuditMatch) -> int:
    """Rewrite one audit file with the person's rows blanked, under the lock its writer takes.

    The file is first scanned without the lock (its writer keeps appending meanwhile); the lock
    is then taken and only what was appended since is scanned, so a writer waits for the rows'
    rewrite alone, and not at all when the file holds nothing of the person.

    Args:
        path: the file.
        match: from `audit_match`.

    Returns:
        Rows blanked (0: the file was left untouched).
    """
    while True:
        with open(path, "rb") as handle:
            spans, scanned = _scan(handle, match, 0, to_end=False)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            with suppress(FileNotFoundError):
                if os.path.samestat(os.fstat(handle.fileno()), os.stat(path)):
                    spans += _scan(handle, match, scanned, to_end=True)[0]
                    return _replace_lines(path, handle, spans, match)


def _scan(handle: BinaryIO, match: AuditMatch, start: int, *, to_end: bool) -> tuple[list[_Span], int]:
    """The lines from `start` on that hold a needle, as byte spans, and where the scan stopped.

    Without `to_end`, a last line without its newline (being written) is left for a later scan.
    """
    handle.seek(start)
    spans: list[_Span] = []
    offset, rest = start, b""
    while chunk := handle.read(_CHUNK):
        block = rest + chunk
        cut = block.rfind(b"\n") + 1
        spans += _spans(block[:cut], offset, match)
        offset, rest = offset + cut, block[cut:]
    if to_end and rest:
        spans += _spans(rest, offset, match)
        offset += len(rest)
    return spans, offset


def _spans(lines: bytes, offset: int, match: AuditMatch) -> list[_Span]:
    """The spans of the lines in a block of whole lines that hold a needle."""
    if not match.ascii:
        spans, start = [], offset
        for line in lines.splitlines(keepends=True):
            if match.erased_line(line) is not None:
                spans.append((start, start + len(line)))
            start += len(line)
        return spans
    lowered, found = lines.lower(), set()
    for needle in match.needles:
        at = lowered.find(needle.encode())
        while at >= 0:
            begin = lines.rfind(b"\n", 0, at) + 1
            end = lines.find(b"\n", at) + 1 or len(lines)
            found.add((offset + begin, offset + end))
            at = lowered.find(needle.encode(), end)
    return sorted(found)


def _replace_lines(path: Path, handle: BinaryIO, spans: list[_Span], match: AuditMatch) -> int:
    """Write the file anew with the person's lines blanked (temporary file, fsync, rename)."""
    replaced: dict[_Span, bytes] = {}
    for begin, end in sorted(set(spans)):
        handle.seek(begin)
        erased = match.erased_line(handle.read(end - begin))
        if erased is not None:
            replaced[(begin, end)] = erased
    if not replaced:
        return 0
    temporary = temporary_beside(path)
    temporary.unlink(missing_ok=True)
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            position = 0
            for (begin, end), erased in replaced.items():
                _copy(handle, out, position, begin)
                out.write(erased)
                position = end
            _copy(handle, out, position, None)
            out.flush()
            os.fsync(out.fileno())
        # Renamed while the old file is still locked: a writer waiting for the lock then finds
        # its file replaced and opens the new one.
        temporary.replace(path)
        fsync_path(path.parent)
    finally:
        temporary.unlink(missing_ok=True)
    rows = sum(1 for erased in replaced.values() if erased)
    log.info("erasure: blanked %d rows of %s", rows, path.name)
    return rows


def _copy(handle: BinaryIO, out: BinaryIO, begin: int, end: int | None) -> None:
    """Copy the bytes [begin, end) of the file (to its end when None) unchanged."""
    handle.seek(begin)
    left = None if end is None else end - begin
    while left is None or left > 0:
        chunk = handle.read(_CHUNK if left is None else min(_CHUNK, left))
        if not chunk:
            return
        out.write(chunk)
        if left is not None:
            left -= len(chunk)
