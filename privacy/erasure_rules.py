"""The rules that tell an erased person's rows in any table or file, read from the table's columns.

Tables are found, not listed: every base table of the warehouse is read from
`information_schema`, so tables other parts add later are covered by the same rules:

- a column named `profile_id` (or `..._profile_id`, `profile_id_...`) holding one of the
  person's profiles;
- a pair `source` + `record_id` (with the same prefix or suffix, e.g. `source_l`/`record_id_l`)
  naming one of the person's source records;
- a pair `crm_object` + `crm_record_id` naming one of the person's CRM records;
- any text column (VARCHAR, JSON, and lists, structs and maps cast to text) containing one of the
  person's own emails or phones (as normalised and as the sources wrote them), profile ids or
  `source:record_id` / `Object:Id` keys, as a whole token.

The person's profiles, records and CRM records are temporary tables (`load_person`), so the
conditions are plain SQL over them; the token pattern is the `$pattern` parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from privacy.erasure_find import Person

PROFILES = "_erase_profiles"
RECORDS = "_erase_records"
CRM_RECORDS = "_erase_crm"
ROWS = "_erase_rows"
# Tables whose content is no one's personal data: the erasure's own bookkeeping, the file manifest.
EXCLUDED = frozenset(
    {
        ("privacy", "erasure_receipts"),
        ("privacy", "suppression"),
        ("privacy", "suppression_salt"),
        ("privacy", "erasure_cleanup"),
        ("raw", "_manifest"),
        ("staging", "_staged_files"),
    }
)
LINEAGE_KEY = ("source", "_file", "_row_number", "_ingested_at")
FEED_COLUMNS = frozenset({"crm_object", "crm_record_id", "change", "changed_at"})
_SEPARATOR = "chr(31)"
_NOT_TEXT = ("BOOLEAN", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "DOUBLE", "FLOAT", "DECIMAL",
             "DATE", "TIME", "TIMESTAMP", "INTERVAL", "BLOB", "UUID", "UBIGINT", "UINTEGER", "USMALLINT",
             "UTINYINT", "BIT")  # fmt: skip
_RE2_SPECIAL = set("\\.+*?()|[]{}^$")


@dataclass
class Table:
    """One base table and its columns (name -> DuckDB type)."""

    schema: str
    name: str
    columns: dict[str, str]

    @property
    def label(self) -> str:
        """`schema.table`, for receipts and messages."""
        return f"{self.schema}.{self.name}"

    @property
    def sql(self) -> str:
        """The table's quoted name."""
        return f"{quoted(self.schema)}.{quoted(self.name)}"

    @property
    def has_lineage(self) -> bool:
        """Whether its rows carry their raw row (`source, _file, _row_number, _ingested_at`)."""
        return set(LINEAGE_KEY) <= set(self.columns)

    @property
    def is_change_feed(self) -> bool:
        """Whether it is a change feed of CRM records (CRM syncs read deletes from it)."""
        return set(self.columns) >= FEED_COLUMNS


def bound(sql: str, params: dict) -> dict:
    """The named parameters a statement uses (DuckDB refuses ones it does not)."""
    return {name: value for name, value in params.items() if f"${name}" in sql}


def quoted(name: str) -> str:
    """An identifier read from the catalog, quoted (never user input)."""
    return '"' + name.replace('"', '""') + '"'


def _literal_re2(text: str) -> str:
    return "".join("\\" + c if c in _RE2_SPECIAL else c for c in text)


def person_tokens(person: Person, ids: set[str] | None = None) -> tuple[list[str], list[str], list[str]]:
    """The literal texts `token_pattern` looks for: the person's own emails and phones (as normalised
    and as written), and the keys naming them (profile ids, `source:record_id`, `Object:Id`, `ids`).

    Returns:
        (emails, phones, keys), each sorted.
    """
    emails = sorted({e.strip() for e in person.own_emails() if e.strip()})
    phones = sorted({p.strip() for p in person.own_phones() if p.strip()})
    keys = sorted(
        person.profiles
        | {f"{s}:{r}" for s, r in person.records}
        | {f"{o}:{i}" for _, o, i in person.crm_records}
        | (ids or set())
    )
    return emails, phones, keys


def token_pattern(
    person: Person, ids: set[str] | None = None, quoted_ids: set[str] | None = None
) -> str | None:
    """An RE2 pattern matching the person's identifiers as whole tokens in free text.

    Args:
        person: the person.
        ids: record ids to match as bare tokens too (CSV fields, unparsed lines).
        quoted_ids: record ids to match as JSON strings (`"acc_001199"`).

    Returns:
        The pattern, or None when there is nothing to look for.
    """
    emails, phones, keys = person_tokens(person, ids)
    alternatives = []
    if emails:
        body = "|".join(_literal_re2(e) for e in emails)
        alternatives.append(f"(?i:(?:^|[^a-z0-9._%+-])(?:{body})(?:$|\\.$|\\.[^a-z0-9]|[^a-z0-9_.-]))")
    if phones:
        body = "|".join(_literal_re2(p) for p in phones)
        alternatives.append(f"(?:(?:^|[^0-9+])(?:{body})(?:$|[^0-9]))")
    if keys:
        body = "|".join(_literal_re2(k) for k in keys)
        alternatives.append(f"(?:(?:^|[^A-Za-z0-9_])(?:{body})(?:$|[^A-Za-z0-9_]))")
    if quoted_ids:
        alternatives.append("(?:" + "|".join(_literal_re2(f'"{i}"') for i in sorted(quoted_ids)) + ")")
    return "|".join(alternatives) or None


def warehouse_tables(con: duckdb.DuckDBPyConnection) -> list[Table]:
    """Every base table of the warehouse, with its columns, but the erasure's own bookkeeping."""
    rows = con.execute(
        """SELECT c.table_schema, c.table_name, list(c.column_name ORDER BY c.ordinal_position),
                  list(c.data_type ORDER BY c.ordinal_position)
           FROM information_schema.columns c JOIN information_schema.tables t
             USING (table_catalog, table_schema, table_name)
           WHERE t.table_type = 'BASE TABLE' AND t.table_catalog = current_database()
           GROUP BY ALL ORDER BY 1, 2"""
    ).fetchall()
    return [
        Table(schema, name, dict(zip(columns, types, strict=True)))
        for schema, name, columns, types in rows
        if (schema, name) not in EXCLUDED
    ]


def is_text(data_type: str) -> bool:
    upper = data_type.upper()
    if "VARCHAR" in upper or "JSON" in upper or upper.startswith(("STRUCT", "MAP")):
        return True
    return not upper.startswith(_NOT_TEXT)


def _paired(columns: dict[str, str], key: str, partner: str) -> list[tuple[str, str]]:
    """Column pairs like (source_l, record_id_l): `partner` with the same prefix and suffix as `key`."""
    pairs = []
    for column in columns:
        at = column.find(key)
        if at < 0 or (key == "record_id" and column[max(0, at - 4) : at] == "crm_"):
            continue
        other = column[:at] + partner + column[at + len(key) :]
        if other in columns:
            pairs.append((other, column))
    return pairs


def row_condition(columns: dict[str, str], alias: str = "t", *, text: bool = True) -> str | None:
    """A condition true for the rows of a table (or file) with these columns that are the person's.

    Reads the temporary tables `_erase_profiles`, `_erase_records` and `_erase_crm`, and the
    `$pattern` parameter (when `text` and the table has text columns).

    Returns:
        The condition, or None when no rule applies to these columns.
    """
    tests = []
    for column, data_type in columns.items():
        is_profile = (
            column == "profile_id" or column.endswith("_profile_id") or column.startswith("profile_id_")
        )
        if is_profile and "VARCHAR" in data_type.upper() and "[]" not in data_type:
            tests.append(f"{alias}.{quoted(column)} IN (SELECT profile_id FROM {PROFILES})")
    for source, record in _paired(columns, "record_id", "source"):
        tests.append(
            f"{alias}.{quoted(source)} || {_SEPARATOR} || {alias}.{quoted(record)} IN "
            f"(SELECT source || {_SEPARATOR} || record_id FROM {RECORDS})"
        )
    for crm_object, crm_record in _paired(columns, "crm_record_id", "crm_object"):
        tests.append(
            f"{alias}.{quoted(crm_object)} || {_SEPARATOR} || {alias}.{quoted(crm_record)} IN "
            f"(SELECT crm_object || {_SEPARATOR} || crm_record_id FROM {CRM_RECORDS})"
        )
    if text:
        for column, data_type in columns.items():
            if is_text(data_type):
                value = f"{alias}.{quoted(column)}"
                if data_type.upper() != "VARCHAR":
                    value = f"CAST({value} AS VARCHAR)"
                tests.append(f"regexp_matches({value}, $pattern)")
    return " OR ".join(f"({t})" for t in tests) or None


def load_person(con: duckdb.DuckDBPyConnection, person: Person) -> None:
    """The person's profiles, records and CRM records as temporary tables for the conditions."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PROFILES} (profile_id VARCHAR)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {RECORDS} (source VARCHAR, record_id VARCHAR)")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {CRM_RECORDS} (source VARCHAR, crm_object VARCHAR, crm_record_id VARCHAR)"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ROWS} "
        "(source VARCHAR, _file VARCHAR, _row_number BIGINT, _ingested_at TIMESTAMP)"
    )
    if person.profiles:
        con.executemany(f"INSERT INTO {PROFILES} VALUES (?)", [[p] for p in sorted(person.profiles)])
    if person.records:
        con.executemany(f"INSERT INTO {RECORDS} VALUES (?, ?)", sorted(person.records))
    if person.crm_records:
        con.executemany(f"INSERT INTO {CRM_RECORDS} VALUES (?, ?, ?)", sorted(person.crm_records))
