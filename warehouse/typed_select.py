"""The SELECT that types one source's raw rows into canonical fields and names what is wrong with each.

`typed_select` generates one query per source over `raw.<source>`: each canonical field's text
(from a column, a JSON path or a constant), cleaned and typed, and `_reason`, which names every
rule the row breaks (it could not be read, a JSON line is not an object, a required field is
missing, a timestamp, number or boolean does not parse, an event is not a Segment call or has no
user). Generating it is most of staging's code, so it lives apart from `warehouse.staging`, which runs
the queries and moves their rows into staging and quarantine.

Identifiers in the generated SQL are raw column names read from the database (quoted); every
value (JSON paths, constants, formats, namespaces) is a `$n` parameter.
"""

from __future__ import annotations

import duckdb

from warehouse.canonical import EVENT_TIME, PERSON_KEY, SEGMENT_TRAITS, canonical_fields
from warehouse.config import ConfigError, SourceConfig
from warehouse.connection import quote_table, table_exists
from warehouse.landing import data_column
from warehouse.manifest import LOADED, MANIFEST, ensure_manifest

SQL_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "json": "JSON",
}
# How a yes/no value may be written in a source (compared lower-cased).
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
SEGMENT_TYPES = ("track", "page", "screen", "identify", "group", "alias")


def raw_column_names(con: duckdb.DuckDBPyConnection, source: SourceConfig) -> list[str]:
    """The columns of `raw.<source>` as the database holds them.

    Args:
        con: warehouse connection.
        source: the source.

    Returns:
        Column names in table order: lineage, `_error` and `_raw`, and the file's columns (as
            `data_column` names them).
    """
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ? "
        "ORDER BY ordinal_position",
        [source.name],
    ).fetchall()
    return [r[0] for r in rows]


def source_format(con: duckdb.DuckDBPyConnection, source: SourceConfig) -> str:
    """The format a source's loaded files were read as.

    Args:
        con: warehouse connection.
        source: the source.

    Returns:
        `csv`, `parquet` or `jsonl`: from the manifest, else the source's `format`, else its path.
    """
    ensure_manifest(con)
    formats = con.execute(
        f"SELECT DISTINCT format FROM {MANIFEST} WHERE source = ? AND status = ?", [source.name, LOADED]
    ).fetchall()
    if formats:
        return formats[0][0]
    return source.format or (
        "jsonl" if source.path.lower().endswith((".jsonl", ".ndjson", ".json")) else "csv"
    )


def quote_identifier(name: str) -> str:
    """A column name as a quoted SQL identifier (`a"b` -> `"a""b"`).

    Args:
        name: a column name read from the database.

    Returns:
        The quoted identifier.
    """
    return '"' + name.replace('"', '""') + '"'


class _Select:
    """Accumulates the parameters of one source's SELECT, numbered in order."""

    def __init__(self) -> None:
        self.params: list = []

    def param(self, value: object) -> str:
        # Numbered placeholders, because one field's expression appears several times in the text.
        self.params.append(value)
        return f"${len(self.params)}"


def typed_select(con: duckdb.DuckDBPyConnection, kind: str, source: SourceConfig) -> tuple[str, list]:
    """The SELECT typing one source's raw rows, with `_reason` and `_event_time`.

    Four layers, so every expression is written (and evaluated) once: the raw rows with their
    JSON extracted (`src`), each field's cleaned source text (`_t_<field>`), the typed values,
    then the reason built from the texts and typed values by name.

    Args:
        con: warehouse connection.
        kind: the source's kind.
        source: the source.

    Returns:
        The SQL and its parameters.
    """
    if not table_exists(con, f"raw.{source.name}"):
        raise ConfigError(
            f"source '{source.name}': raw.{source.name} does not exist; ingest the source first"
        )
    raw_columns = raw_column_names(con, source)
    is_json = source_format(con, source) == "jsonl"
    fields = canonical_fields(kind)
    mapping = source.column_map()
    q = _Select()

    def source_paths(name: str) -> list[str]:
        if name in mapping:
            return [mapping[name]]
        # Events read Segment's names and traits; other kinds a key named like the field.
        return _json_defaults(kind).get(name, []) if kind == "events" else [name]

    paths = _JsonPaths({p for name in fields if name not in source.constants for p in source_paths(name)})

    def source_text(name: str, kind_type: str) -> str | None:
        """Expression for the source text of a canonical field, or None if unmapped."""
        if name in source.constants:
            return q.param(source.constants[name])
        if is_json:
            parts = [paths.ref(p) for p in source_paths(name)]
            if not parts:
                return None
            joined = f"coalesce({', '.join(parts)})" if len(parts) > 1 else parts[0]
            # JSON values keep their text as it is; everything else is trimmed.
            text = joined if kind_type == "json" else _clean(joined)
            parents = sorted({part.split("[")[0] for part in parts})
            if "_ex" in parents:
                return text
            # Read from objects most rows lack (traits): only rows that have one do the work.
            return f"CASE WHEN {' OR '.join(f'{p} IS NOT NULL' for p in parents)} THEN {text} END"
        column = data_column(mapping.get(name, name))
        return _clean(quote_identifier(column)) if column in raw_columns else None

    texts: dict[str, str] = {}  # field -> its text column
    text_columns: list[str] = []
    typed: dict[str, str] = {}  # field -> its typed expression
    # (condition that the row breaks the rule, message): cheap conditions decide; messages are
    # only built for the rows that fail.
    reasons: list[tuple[str, str]] = []
    for name, kind_type in fields.items():
        label = mapping.get(name, name)
        text = source_text(name, kind_type)
        if text is None:
            typed[name] = f"NULL::{SQL_TYPES[kind_type]}"
            continue
        texts[name] = column = f"_t_{name}"
        text_columns.append(f"{text} AS {column}")
        if is_json and kind_type == "json" and name not in source.constants:
            typed[name] = _json_value(column)
            continue
        typed[name] = _typed(column, kind_type, source.formats.get(name), q)
        if kind_type != "string":
            reasons.append(
                (
                    f"({column} IS NOT NULL AND {name} IS NULL)",
                    f"concat({q.param(f'unparseable {kind_type} in {name} (column {label}): ')}, left({column}, 80))",
                )
            )
    for name in source.required_fields():
        label = mapping.get(name, name)
        present = texts.get(name, "NULL")
        reasons.append((f"({present} IS NULL)", q.param(f"missing {name} (column {label})")))
    if kind == "events":
        reasons += _event_rules(texts, typed, mapping, q)
    if is_json:
        read_reason = (
            "CASE WHEN _ex IS NULL THEN 'malformed JSON line' "
            # ltrim copies the line: only lines not starting with the brace pay for it.
            "WHEN NOT starts_with(_raw, '{') AND NOT starts_with(ltrim(_raw), '{') "
            "THEN 'JSON line is not an object' END"
        )
        inner = paths.select(quote_table(f"raw.{source.name}"), q)
    else:
        read_reason = "NULL"
        inner = f"SELECT * FROM {quote_table(f'raw.{source.name}')}"
    broken = " OR ".join(c for c, _ in reasons) or "false"
    messages = ", ".join(f"CASE WHEN {c} THEN {m} END" for c, m in reasons) or "NULL"
    reason = (
        f"coalesce(_error, {read_reason}, "
        f"CASE WHEN {broken} THEN nullif(concat_ws('; ', {messages}), '') END)"
    )
    carried = "_file, _row_number, _ingested_at, _error" + (", _ex, _raw" if is_json else "")
    namespace = q.param(source.namespace)
    source_name = q.param(source.name)
    person_key = "" if kind == "people" else f"{PERSON_KEY[kind]} AS record_id,"
    sql = f"""
WITH src AS ({inner}),
text AS (SELECT {", ".join([*text_columns, carried])} FROM src),
typed AS (SELECT *, {", ".join(f"{expr} AS {name}" for name, expr in typed.items())} FROM text)
SELECT {source_name} AS source, {", ".join(fields)},
  {person_key}
  {namespace} AS id_namespace,
  _file, _row_number, _ingested_at,
  {reason} AS _reason,
  {EVENT_TIME[kind]} AS _event_time
FROM typed
"""
    return sql, q.params


def _clean(text: str) -> str:
    """The trimmed text, NULL when empty.

    `trim` costs more than the rest of the typing on long ids, and almost no value needs it: a
    value whose first and last characters are printable ASCII is kept as it is.
    """
    return (
        f"CASE WHEN ord({text}) BETWEEN 33 AND 126 AND ord({text}[-1]) BETWEEN 33 AND 126 "
        f"THEN {text} ELSE nullif(trim({text}), '') END"
    )


class _JsonPaths:
    """The JSON paths one source reads, extracted with one parse per row and object.

    Paths come from one `json_extract_string` over the line (`_ex`); a deeper path is read from
    an object above it (`_ex_<n>`), parsed on its own: `traits.email` from the text of `traits`,
    `context.traits.address.city` from `context.traits`. Dozens of trait paths then cost one parse
    of a small object that most events do not even have, and no large object (such as all of
    `context`) is written out as text only to be parsed again.
    """

    def __init__(self, read: set[str]) -> None:
        """`read`: every path the source reads; an object among them is a parent for the paths below it."""
        self.read = read
        self.top: dict[str, int] = {}
        self.nested: dict[str, dict[str, int]] = {}

    def parent(self, dotted: str) -> str | None:
        """The object a path is read from: the deepest one read anyway, else its second level."""
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            if ".".join(parts[:cut]) in self.read:
                return ".".join(parts[:cut])
        return ".".join(parts[: min(2, len(parts) - 1)]) or None

    def ref(self, dotted: str) -> str:
        """The SQL expression of a dotted path's text."""
        parent = self.parent(dotted)
        if parent is None:
            return f"_ex[{self.top.setdefault(dotted, len(self.top) + 1)}]"
        self.top.setdefault(parent, len(self.top) + 1)
        group = self.nested.setdefault(parent, {})
        position = group.setdefault(dotted.removeprefix(parent + "."), len(group) + 1)
        return f"_ex_{list(self.nested).index(parent) + 1}[{position}]"

    def select(self, table: str, q: _Select) -> str:
        """A SELECT of the raw table with `_ex` and the `_ex_<n>` lists added."""
        if not self.top:
            return f"SELECT *, []::VARCHAR[] AS _ex FROM {table}"
        top = [_json_path(key) for key in self.top]
        inner = f"SELECT *, try(json_extract_string(_raw, {q.param(top)})) AS _ex FROM {table}"
        if not self.nested:
            return inner
        levels = [
            f"try(json_extract_string(_ex[{self.top[head]}], {q.param([_json_path(p) for p in group])})) AS _ex_{n}"
            for n, (head, group) in enumerate(self.nested.items(), start=1)
        ]
        return f"SELECT *, {', '.join(levels)} FROM ({inner})"


def _event_rules(
    texts: dict[str, str], typed: dict[str, str], mapping: dict[str, str], q: _Select
) -> list[tuple[str, str]]:
    """The Segment rules: a known call type (stored lower-case), and a user or an anonymous id."""
    rules = []
    if "type" in texts:
        allowed = q.param(list(SEGMENT_TYPES))
        message = q.param(f"' is not a Segment call type ({', '.join(SEGMENT_TYPES)})")
        text = texts["type"]
        typed["type"] = f"lower({typed['type']})"
        rules.append(
            (
                f"({text} IS NOT NULL AND NOT list_contains({allowed}, type))",
                f"concat('type ''', left({text}, 40), {message})",
            )
        )
    user = texts.get("user_id", "NULL")
    anonymous = texts.get("anonymous_id", "NULL")
    labels = f"columns {mapping.get('user_id', 'user_id')}, {mapping.get('anonymous_id', 'anonymous_id')}"
    rules.append(
        (f"({user} IS NULL AND {anonymous} IS NULL)", q.param(f"missing user_id and anonymous_id ({labels})"))
    )
    return rules


def _json_value(value: str) -> str:
    # Objects and arrays stay JSON; a scalar where an object was expected is kept as a JSON string.
    return (
        f"CASE WHEN {value} IS NULL THEN NULL "
        f"WHEN (starts_with({value}, '{{') OR starts_with({value}, '[')) AND json_valid({value}) THEN {value}::JSON "
        f"ELSE to_json({value}) END"
    )


def _typed(text: str, kind_type: str, fmt: str | None, q: _Select) -> str:
    if kind_type == "timestamp":
        parsed = (
            f"try_strptime({text}, {q.param(fmt)})::TIMESTAMP"
            if fmt
            else f"try_cast({text} AS TIMESTAMPTZ)::TIMESTAMP"
        )
        # Years outside 1000-9999 are typos or overflow, not times a customer did something.
        return f"CASE WHEN year({parsed}) BETWEEN 1000 AND 9999 THEN {parsed} END"
    if kind_type == "double":
        return f"CASE WHEN isfinite(try_cast({text} AS DOUBLE)) THEN try_cast({text} AS DOUBLE) END"
    if kind_type == "boolean":
        return (
            f"CASE WHEN list_contains({q.param(list(TRUE_WORDS))}, lower({text})) THEN true "
            f"WHEN list_contains({q.param(list(FALSE_WORDS))}, lower({text})) THEN false END"
        )
    if kind_type == "json":
        return f"CASE WHEN json_valid({text}) THEN {text}::JSON END"
    return text


def _json_path(dotted: str) -> str:
    return "$." + ".".join(f'"{part}"' for part in dotted.split("."))


def _json_defaults(kind: str) -> dict[str, list[str]]:
    """JSON paths read when a field is not mapped: Segment names and traits, for events."""
    if kind != "events":
        return {}
    defaults: dict[str, list[str]] = {
        "message_id": ["messageId"],
        "type": ["type"],
        "event": ["event"],
        "user_id": ["userId"],
        "anonymous_id": ["anonymousId"],
        "timestamp": ["timestamp"],
        "properties": ["properties"],
        "traits": ["traits", "context.traits"],
    }
    for attribute, trait in SEGMENT_TRAITS.items():
        defaults[attribute] = [f"traits.{trait}", f"context.traits.{trait}"]
    return defaults
