"""The DuckDB statements of survivorship, in the order `survivorship.golden_records` runs them.

Built from the fixed attribute names below and the key layouts of `survivorship_keys`;
configuration reaches them only as `$` parameters (placeholders, source orders) and as the
`_kindred_sv_layout` table. The plan, measured on a million records:

1. `rows_sql`: the staging rows read once, joined to their profile and record numbers (`pid`,
   `rid`), every value cleaned (placeholders, names without a letter, implausible dates of birth
   left out) and hashed as compared (ignoring case and spacing); the address as one struct with
   one hash. `contact_rows_sql` does the same for the normalised emails and phones.
2. `single_sql`: one grouped pass per profile over all attributes at once: whether the profile's
   records disagree on each attribute (two different hashes), and the best row by the row key
   (`arg_max` over integers). Most (profile, attribute) pairs are settled here: one record, or
   records that agree.
3. `candidates_sql`: only the rows of contested (profile, attribute) pairs, one row per value
   present, in one pass: what `surviving_values.sql` ranks with the whole chain (frequency,
   runner-up, the rule that decided).
4. `contested_values_sql` fetches the winners' values in one pass over the rows, and
   `contested_update_sql` writes them, their keys and rules over the grouped pass's result.
5. `profiles_sql` joins the per-profile rows into `profiles.unified_profile`; `provenance_sql`
   selects one row per golden-record value, the source record and time decoded from its key
   (ids stay integers until `golden_records` gathers the text back by position).

Two different values of one person's attribute would have to share a 64-bit hash to be taken for
one (odds of about one in 10^19 per pair).
"""

from __future__ import annotations

from identity_resolution.survivorship_keys import MAX_COMPLETENESS, KeyLayout
from warehouse.identity_config import ADDRESS_FIELDS, SURVIVING_ATTRIBUTES

# Attributes taken as the source wrote them (trimmed); the names must contain a letter.
TEXT_ATTRIBUTES: tuple[str, ...] = (
    "first_name",
    "last_name",
    "full_name",
    "gender",
    "company",
    "job_title",
    "loyalty_id",
)
NAME_ATTRIBUTES: tuple[str, ...] = ("first_name", "last_name", "full_name")
ROW_ATTRIBUTES: tuple[str, ...] = tuple(a for a in SURVIVING_ATTRIBUTES if a not in ("email", "phone"))
CONTACT_ATTRIBUTES: tuple[str, ...] = ("email", "phone")
# The address parts that make an address usable for post; `most_complete` counts them.
ADDRESS_KEY_FIELDS: tuple[str, ...] = ("address_line1", "city", "postcode")
INDEX: dict[str, int] = {a: i for i, a in enumerate(SURVIVING_ATTRIBUTES)}

XREF = "_kindred_sv_xref"
SEEN = "_kindred_sv_seen"
CONTACTS_INPUT = "_kindred_sv_contacts_input"
DOB = "_kindred_sv_dob"
LAYOUT = "_kindred_sv_layout"
ROWS = "_kindred_sv_rows"
CONTACT_ROWS = "_kindred_sv_contact_rows"
SINGLE = "_kindred_sv_single"
CONTACT_SINGLE = "_kindred_sv_contact_single"
CANDIDATES = "_kindred_sv_candidates"
WINNERS = "_kindred_sv_winners"
CONTESTED_VALUES = "_kindred_sv_contested_values"
TEMP_TABLES = (SEEN, ROWS, CONTACT_ROWS, SINGLE, CONTACT_SINGLE, CANDIDATES, WINNERS, CONTESTED_VALUES)
SEEN_COLUMNS = ("pid", "n_records", "n_sources", "sources")
_NO_TIME = "TIMESTAMP '0001-01-01'"


def seen_sql() -> str:
    """Each profile's number of records and its sorted source names (`_kindred_sv_seen`)."""
    return f"""
        CREATE OR REPLACE TEMP TABLE {SEEN} AS
        SELECT pid, sum(n)::BIGINT AS n_records, count(*)::BIGINT AS n_sources,
               list(source ORDER BY source) AS sources
        FROM (SELECT pid, source, count(*) AS n FROM {XREF} GROUP BY pid, source)
        GROUP BY pid
    """


def time_span_sql() -> str:
    """The earliest and latest observation (µs since the epoch) of any row or contact value."""
    return f"SELECT min(t_us), max(t_us) FROM (SELECT t_us FROM {ROWS} UNION ALL SELECT t_us FROM {CONTACT_ROWS})"


def written_birth_dates_sql(person_rows: str) -> str:
    """Each distinct date of birth as the sources wrote it."""
    return f"SELECT DISTINCT date_of_birth AS raw FROM ({person_rows}) WHERE date_of_birth IS NOT NULL"


def _not_placeholder(value_key: str) -> str:
    return f"NOT list_contains($placeholder_hashes::UBIGINT[], hash({value_key}))"


def _source_ranks(priorities: dict[tuple[str, ...], int]) -> str:
    """`s_<n>`: a row's place in each source order (higher wins, 0 for an unlisted source)."""
    return "".join(
        f", coalesce({len(order) + 1} - list_position($priority_{n}::VARCHAR[], source), 0) AS s_{n}"
        for order, n in priorities.items()
    )


def rows_sql(person_rows: str, priorities: dict[tuple[str, ...], int]) -> str:
    """Every staging row of a resolved record, cleaned, hashed and numbered, in `_kindred_sv_rows`.

    Args:
        person_rows: the SELECT of every staging row (`records.person_rows_sql`).
        priorities: each source order in use -> its number (`$priority_<n>`).

    Returns:
        A CREATE TABLE statement; parameters `placeholder_hashes` and `priority_<n>`.
    """
    keys = ", ".join(f"lower(regexp_replace(r.{a}, '\\s+', ' ', 'g')) AS {a}_key" for a in TEXT_ATTRIBUTES)
    parts = ", ".join(
        f"CASE WHEN {_not_placeholder(f'lower(r.{p})')} THEN r.{p} END AS {p}" for p in ADDRESS_FIELDS
    )
    text = []
    for a in TEXT_ATTRIBUTES:
        valid = f"{a}_key IS NOT NULL AND {_not_placeholder(f'{a}_key')}"
        if a in NAME_ATTRIBUTES:
            valid += f" AND regexp_matches({a}, '\\pL')"
        text.append(
            f"CASE WHEN {valid} THEN {a} END AS {a}, CASE WHEN {valid} THEN hash({a}_key) END AS {a}_h, "
            f"least(length({a}_key), {MAX_COMPLETENESS}) AS {a}_len"
        )
    filled = " OR ".join(f"{p} IS NOT NULL" for p in ADDRESS_FIELDS)
    packed = ", ".join(f"{p} := {p}" for p in ADDRESS_FIELDS)
    address_key = ", ".join(f"coalesce(lower({p}), '')" for p in ADDRESS_FIELDS)
    complete = " + ".join(f"({p} IS NOT NULL)::INTEGER" for p in ADDRESS_KEY_FIELDS)
    return f"""
        CREATE OR REPLACE TEMP TABLE {ROWS} AS
        WITH cleaned AS (
            SELECT x.pid, x.rid, r.source,
                   CASE WHEN r._order.t > {_NO_TIME} THEN epoch_us(r._order.t) END AS t_us,
                   r._first, r._last, {", ".join(f"r.{a}" for a in TEXT_ATTRIBUTES)}, {keys},
                   d.iso AS date_of_birth, {parts}
            FROM ({person_rows}) AS r
            JOIN {XREF} AS x USING (source, record_id)
            LEFT JOIN {DOB} AS d ON d.raw = r.date_of_birth
        )
        SELECT pid, rid, t_us, _first, _last, {", ".join(text)},
               date_of_birth, CASE WHEN date_of_birth IS NOT NULL THEN hash(date_of_birth) END AS date_of_birth_h,
               10 AS date_of_birth_len,
               CASE WHEN {filled} THEN struct_pack({packed}) END AS address,
               CASE WHEN {filled} THEN hash(concat_ws('|', {address_key})) END AS address_h,
               {complete} AS address_len
               {_source_ranks(priorities)}
        FROM cleaned
    """


def contact_rows_sql(priorities: dict[tuple[str, ...], int]) -> str:
    """The normalised emails and phones of resolved records, placeholders left out, hashed and
    numbered like the staging rows, in `_kindred_sv_contact_rows`.

    Args:
        priorities: each source order in use -> its number.

    Returns:
        A CREATE TABLE statement; parameters `placeholders`, `digit_placeholders`, `priority_<n>`.
    """
    return f"""
        CREATE OR REPLACE TEMP TABLE {CONTACT_ROWS} AS
        WITH contacts AS (
            SELECT x.pid, x.rid, c.source, c.kind, c.value,
                   CASE WHEN c.last_seen > {_NO_TIME} THEN epoch_us(c.last_seen) END AS t_us,
                   CASE WHEN c.kind = 'phone' THEN ltrim(c.value, '+') END AS digits
            FROM {CONTACTS_INPUT} AS c JOIN {XREF} AS x USING (source, record_id)
        )
        SELECT pid, rid, kind, value, hash(value) AS h, least(length(value), {MAX_COMPLETENESS}) AS len,
               t_us {_source_ranks(priorities)}
        FROM contacts
        WHERE NOT list_contains($placeholders::VARCHAR[], value)
          -- a placeholder number, with or without a country code of up to three digits
          AND NOT (kind = 'phone' AND list_has_any(
                $digit_placeholders::VARCHAR[], [digits, digits[2:], digits[3:], digits[4:]]))
    """


def _keyed(table: str, keys: dict[str, str]) -> str:
    """The table with each distinct key expression computed once per row (`k_<n>`)."""
    columns = ", ".join(f"{sql} AS {name}" for sql, name in keys.items())
    return f"(SELECT *, {columns} FROM {table})"


def _settled(attribute: str, value: str, h: str, key: str, where: str) -> str:
    """One attribute's columns of a grouped pass: whether the profile's records disagree, the best
    row's value and key, and a rule column for `contested_update_sql` to fill."""
    mine = f"FILTER (WHERE {where})"
    return (
        f"min({h}) {mine} <> max({h}) {mine} AS {attribute}_contested, "
        f"arg_max({value}, {key}) {mine} AS {attribute}, max({key}) {mine} AS {attribute}_key, "
        f"NULL::VARCHAR AS {attribute}_rule"
    )


def single_sql(row_keys: dict[str, str], key_of: dict[str, str]) -> str:
    """One pass over the staging rows per profile: for each row attribute, whether the profile's
    records disagree, and the best row's value and key (`_kindred_sv_single`). Where they
    disagree, `contested_update_sql` puts the chain's winner and its rule in afterwards.

    Args:
        row_keys: key SQL -> its column name, one per distinct key.
        key_of: attribute -> the column name of its key.

    Returns:
        A CREATE TABLE statement; parameters `t_min` and `max_rid`.
    """
    columns = ", ".join(_settled(a, a, f"{a}_h", key_of[a], f"{a}_h IS NOT NULL") for a in ROW_ATTRIBUTES)
    return f"""
        CREATE OR REPLACE TEMP TABLE {SINGLE} AS
        SELECT pid, min(_first) AS first_seen, max(_last) AS last_seen, {columns}
        FROM {_keyed(ROWS, row_keys)} GROUP BY pid
    """


def contact_single_sql(contact_keys: dict[str, str], key_of: dict[str, str]) -> str:
    """`single_sql` for emails and phones (`_kindred_sv_contact_single`)."""
    columns = ", ".join(_settled(k, "value", "h", key_of[k], f"kind = '{k}'") for k in CONTACT_ATTRIBUTES)
    return f"""
        CREATE OR REPLACE TEMP TABLE {CONTACT_SINGLE} AS
        SELECT pid, {columns} FROM {_keyed(CONTACT_ROWS, contact_keys)} GROUP BY pid
    """


def candidates_sql(key_sql: dict[str, str]) -> str:
    """The candidates of contested (profile, attribute) pairs only, one per row with a value, in
    one pass over each table (`_kindred_sv_candidates`): what `surviving_values.sql` ranks. `rn`
    is the row's number in its table.

    Args:
        key_sql: attribute -> its row key SQL.

    Returns:
        A CREATE TABLE statement; parameters `t_min` and `max_rid`.
    """
    entries = ", ".join(
        f"{{'a': {INDEX[a]}, 'h': CASE WHEN s.{a}_contested THEN r.{a}_h END, 'k': {key_sql[a]}}}"
        for a in ROW_ATTRIBUTES
    )
    contested = " OR ".join(f"s.{a}_contested" for a in ROW_ATTRIBUTES)
    kinds = " ".join(f"WHEN '{k}' THEN {INDEX[k]}" for k in CONTACT_ATTRIBUTES)
    contact_key = " ".join(f"WHEN '{k}' THEN {key_sql[k]}" for k in CONTACT_ATTRIBUTES)
    contact_contested = " OR ".join(f"(c.kind = '{k}' AND s.{k}_contested)" for k in CONTACT_ATTRIBUTES)
    return f"""
        CREATE OR REPLACE TEMP TABLE {CANDIDATES} AS
        SELECT pid, rid, rn, e.a AS a, e.h AS h, e.k AS k
        FROM (
            SELECT r.pid, r.rid, r.rn, unnest([{entries}]) AS e
            FROM (SELECT *, rowid AS rn FROM {ROWS}) AS r JOIN {SINGLE} AS s USING (pid)
            WHERE {contested}
        )
        WHERE e.h IS NOT NULL
        UNION ALL
        SELECT c.pid, c.rid, c.rn, CASE c.kind {kinds} END, c.h, CASE c.kind {contact_key} END
        FROM (SELECT *, rowid AS rn FROM {CONTACT_ROWS}) AS c JOIN {CONTACT_SINGLE} AS s USING (pid)
        WHERE {contact_contested}
    """


def contested_values_sql() -> str:
    """The value of each contested pair's winning row (`_kindred_sv_contested_values`)."""
    text = " ".join(f"WHEN {INDEX[a]} THEN r.{a}" for a in ROW_ATTRIBUTES if a != "address")
    rows = ", ".join(str(INDEX[a]) for a in ROW_ATTRIBUTES)
    return f"""
        CREATE OR REPLACE TEMP TABLE {CONTESTED_VALUES} AS
        SELECT w.pid, w.a, w.k, w.rule, CASE w.a {text} END AS value, CASE WHEN w.a = {INDEX["address"]}
               THEN r.address END AS address
        FROM {WINNERS} AS w JOIN (SELECT rowid AS rn, * FROM {ROWS}) AS r USING (rn)
        WHERE w.a IN ({rows})
        UNION ALL
        SELECT w.pid, w.a, w.k, w.rule, c.value, NULL
        FROM {WINNERS} AS w JOIN (SELECT rowid AS rn, value FROM {CONTACT_ROWS}) AS c USING (rn)
        WHERE w.a NOT IN ({rows})
    """


def contested_update_sql(attribute: str) -> str:
    """Put the winners of one attribute's contested pairs, their keys and rules, into the profile's
    row of `_kindred_sv_single` (or `_kindred_sv_contact_single`)."""
    table = CONTACT_SINGLE if attribute in CONTACT_ATTRIBUTES else SINGLE
    value = "address" if attribute == "address" else "value"
    return f"""
        UPDATE {table} SET {attribute} = w.{value}, {attribute}_key = w.k, {attribute}_rule = w.rule
        FROM (SELECT * FROM {CONTESTED_VALUES} WHERE a = {INDEX[attribute]}) AS w
        WHERE {table}.pid = w.pid
    """


def profiles_sql(columns: tuple[str, ...]) -> str:
    """`profiles.unified_profile` in profile id order (`columns` in order; address parts from the
    address struct); parameter `updated_at`."""
    selected = []
    for column in columns:
        if column in ADDRESS_FIELDS:
            selected.append(f"s.address.{column} AS {column}")
        elif column == "updated_at":
            selected.append("$updated_at::TIMESTAMP AS updated_at")
        elif column in CONTACT_ATTRIBUTES:
            selected.append(f"c.{column}")
        elif column in SEEN_COLUMNS:
            selected.append(f"p.{column}")
        else:
            selected.append(f"s.{column}")
    return f"""
        SELECT {", ".join(selected)}
        FROM {SEEN} AS p LEFT JOIN {SINGLE} AS s USING (pid) LEFT JOIN {CONTACT_SINGLE} AS c USING (pid)
        ORDER BY pid
    """


def provenance_sql(layouts: dict[str, KeyLayout], attributes: tuple[str, ...]) -> str:
    """`profiles.attribute_provenance` with integers for ids: `pid`, `a` (the position in
    `attributes`), `value`, `rid`, `observed_at`, `rule`; the record and time decoded from the
    winning key. One select per golden-record column over the profiles' rows.

    Args:
        layouts: each surviving attribute's key layout.
        attributes: the golden-record columns, address parts each on their own.

    Returns:
        A SELECT; parameters `t_min` and `max_rid`.
    """
    selects = []
    for n, attribute in enumerate(attributes):
        unit = "address" if attribute in ADDRESS_FIELDS else attribute
        value = f"address.{attribute}" if unit == "address" else attribute
        key = f"{unit}_key"
        record = layouts[unit].field("record").extract(key)
        time = layouts[unit].field("time").extract(key)
        table = CONTACT_SINGLE if unit in CONTACT_ATTRIBUTES else SINGLE
        selects.append(
            f"SELECT pid, {n} AS a, {value} AS value, $max_rid - {record} AS rid, "
            f"CASE WHEN {time} > 0 THEN make_timestamp({time} - 1 + $t_min) END AS observed_at, "
            f"coalesce({unit}_rule, 'only_value') AS rule FROM {table} WHERE {value} IS NOT NULL"
        )
    return "\nUNION ALL\n".join(selects)
