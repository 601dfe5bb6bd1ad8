"""The files an erasure touches besides the warehouse's tables: exports, and the warehouse file itself.

A DELETE leaves the deleted values in the database file's free blocks (and in DuckDB's per-block
statistics and dictionaries) until they happen to be reused. `compact_warehouse` therefore writes
the whole warehouse into a fresh file with `COPY FROM DATABASE` (tables, views, sequences, macros
and column compression settings come along) and renames it over the old one. The old file is
attached read-only while the copy is made and the rename happens: DuckDB's shared lock keeps
every writer out, and a process opening the path afterwards gets the new file.

`search_home` is the proof: it looks for text in every file under KINDRED_HOME, in the raw bytes
and in the decoded content (DuckDB tables, Parquet, SQLite, zip and gzip members).
"""

from __future__ import annotations

import gzip
import logging
import os
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from privacy.erasure_rules import bound
from privacy.erasure_scope import file_condition, file_reader

log = logging.getLogger(__name__)

_CHUNK = 8 << 20
# A temporary file beside the file it replaces: `.<name>.erasing`.
TEMPORARY_SUFFIX = ".erasing"


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def fsync_path(path: Path) -> None:
    """Force a file (or a folder, after a rename in it) to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def temporary_beside(path: Path) -> Path:
    """Where a file is rewritten before it replaces `path`: `.<name>.erasing` beside it."""
    return path.with_name(f".{path.name}{TEMPORARY_SUFFIX}")


def rewrite_export(con: duckdb.DuckDBPyConnection, path: Path, params: dict) -> int:
    """Rewrite one export file (Parquet or CSV) without the person's rows, atomically.

    Args:
        con: warehouse connection holding the erasure's temporary tables.
        path: the file.
        params: the condition's parameters (`pattern`).

    Returns:
        Rows removed.
    """
    condition = file_condition(con, path, "pattern" in params)
    if condition is None:
        return 0
    reader = file_reader(path)
    params = bound(condition, params)
    (removed,) = con.execute(f"SELECT count(*) FROM {reader} t WHERE {condition}", params).fetchall()[0]
    if not removed:
        return 0
    temporary = temporary_beside(path)
    options = (
        "FORMAT parquet, COMPRESSION zstd" if path.suffix.lower() == ".parquet" else "FORMAT csv, HEADER true"
    )
    try:
        con.execute(
            f"COPY (SELECT * FROM {reader} t WHERE NOT coalesce(({condition}), false)) "
            f"TO {_literal(temporary)} ({options})",
            params,
        )
        fsync_path(temporary)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    log.info("erasure: rewrote %s without %d rows", path, removed)
    return removed


def compaction_file(database: Path) -> Path:
    """Where the fresh copy of the warehouse is written before it replaces the old file."""
    return database.with_name(f".{database.name}{TEMPORARY_SUFFIX}")


def compact_warehouse(database: Path) -> None:
    """Copy the warehouse into a fresh file and swap it in, leaving no deleted bytes behind.

    Call it with no connection of this process open on `database`. A run killed before the
    rename leaves the old file in place and a stale copy that the next call deletes.

    Args:
        database: the warehouse file.
    """
    fresh = compaction_file(database)
    for stale in (fresh, fresh.with_name(fresh.name + ".wal")):
        stale.unlink(missing_ok=True)
    spill = database.with_name(f".{database.name}.erasing.tmp")
    con = duckdb.connect()
    try:
        con.execute(f"SET temp_directory = {_literal(spill)}")
        con.execute("SET enable_progress_bar = false")
        con.execute(f"ATTACH {_literal(database)} AS kindred_old (READ_ONLY)")
        con.execute(f"ATTACH {_literal(fresh)} AS kindred_fresh")
        con.execute("COPY FROM DATABASE kindred_old TO kindred_fresh")
        con.execute("DETACH kindred_fresh")
        fsync_path(fresh)
        # Renamed while the old file is still attached: no writer can slip in between.
        fresh.replace(database)
        fsync_path(database.parent)
        con.execute("DETACH kindred_old")
    finally:
        con.close()
        fresh.unlink(missing_ok=True)
    log.info("erasure: the warehouse was rewritten into a fresh file (%s)", database)


def remove_stale(home: Path, database: Path) -> None:
    """Delete what a killed erasure left: a half-written warehouse copy, temporary export files."""
    fresh = compaction_file(database)
    for stale in (fresh, fresh.with_name(fresh.name + ".wal")):
        stale.unlink(missing_ok=True)
    for stale in home.rglob(f".*{TEMPORARY_SUFFIX}"):
        if stale.is_file():
            stale.unlink(missing_ok=True)


# --- the proof -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One place under KINDRED_HOME where a searched text was found."""

    path: Path
    how: str  # bytes | table <name> | parquet | sqlite <table> | member <name>
    text_index: int  # which of the searched texts (the texts themselves are not repeated)


def search_home(home: Path, texts: list[str]) -> list[Hit]:
    """Look for texts, case-insensitively, in every file under a folder: bytes and decoded content.

    Every file's bytes are searched as they are; DuckDB files are also opened read-only and every
    table and view is searched row by row as text; Parquet files are read; SQLite databases,
    zip archives (MLflow's skops models) and gzip files are opened and searched inside.

    Args:
        home: KINDRED_HOME (or any folder).
        texts: what to look for (an email, a phone as written, a name).

    Returns:
        Every hit; empty when none of the texts is anywhere.
    """
    needles = [t.lower() for t in texts if t]
    hits: list[Hit] = []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        hits += [Hit(path, "bytes", i) for i in _in_bytes(path, needles)]
        with open(path, "rb") as handle:
            head = handle.read(16)
        try:
            if path.suffix == ".duckdb" and head[8:12] == b"DUCK":
                hits += _in_duckdb(path, needles)
            elif path.suffix.lower() == ".parquet":
                hits += [
                    Hit(path, "parquet", i) for i in _in_relation(f"read_parquet({_literal(path)})", needles)
                ]
            elif head.startswith(b"SQLite format 3\x00"):
                hits += _in_sqlite(path, needles)
            elif head.startswith(b"PK\x03\x04"):
                hits += _in_zip(path, needles)
            elif head.startswith(b"\x1f\x8b"):
                hits += [Hit(path, "gzip", i) for i in _in_data(gzip.decompress(path.read_bytes()), needles)]
        except (duckdb.Error, sqlite3.Error, zipfile.BadZipFile, OSError, EOFError) as error:
            log.warning("could not open %s to search inside it: %s", path, error)
    return hits


def _in_data(data: bytes, needles: list[str]) -> list[int]:
    lowered = data.lower()
    return [i for i, n in enumerate(needles) if n.encode() in lowered]


def _in_bytes(path: Path, needles: list[str]) -> list[int]:
    encoded = [n.encode() for n in needles]
    overlap = max((len(n) for n in encoded), default=1) - 1
    found: set[int] = set()
    tail = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            window = (tail + chunk).lower()
            found |= {i for i, n in enumerate(encoded) if n in window}
            tail = chunk[-overlap:] if overlap else b""
    return sorted(found)


def _in_relation(
    relation: str, needles: list[str], con: duckdb.DuckDBPyConnection | None = None
) -> list[int]:
    """Which needles some row of a relation contains, every row read once as text."""
    if not needles:
        return []
    own = con is None
    con = con or duckdb.connect()
    found = ", ".join(f"bool_or(contains(row_text, ${i + 1}))" for i in range(len(needles)))
    try:
        flags = con.execute(
            f"SELECT {found} FROM (SELECT lower(CAST(t AS VARCHAR)) AS row_text FROM (SELECT * FROM {relation}) t)",
            needles,
        ).fetchall()[0]
        return [i for i, flag in enumerate(flags) if flag]
    finally:
        if own:
            con.close()


def _in_duckdb(path: Path, needles: list[str]) -> list[Hit]:
    hits = []
    with duckdb.connect(str(path), read_only=True) as con:
        relations = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY ALL"
        ).fetchall()
        for schema, name in relations:
            relation = '"' + schema.replace('"', '""') + '"."' + name.replace('"', '""') + '"'
            try:
                hits += [Hit(path, f"table {schema}.{name}", i) for i in _in_relation(relation, needles, con)]
            except duckdb.Error as error:
                log.warning("could not read %s.%s in %s: %s", schema, name, path, error)
    return hits


def _in_sqlite(path: Path, needles: list[str]) -> list[Hit]:
    hits = []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        con.text_factory = lambda raw: raw.decode("utf-8", "replace")
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for name in names:
            found: set[int] = set()
            for row in con.execute(f'SELECT * FROM "{name.replace(chr(34), chr(34) * 2)}"'):
                text = " ".join(str(v) for v in row).lower()
                found |= {i for i, n in enumerate(needles) if n in text}
            hits += [Hit(path, f"sqlite {name}", i) for i in sorted(found)]
    return hits


def _in_zip(path: Path, needles: list[str]) -> list[Hit]:
    hits = []
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            hits += [Hit(path, f"member {member}", i) for i in _in_data(archive.read(member), needles)]
    return hits
