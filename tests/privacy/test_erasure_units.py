"""Erasure's parts on tiny inputs: identifier keys and their SQL twins, the salt, the matching rules,
a raw version rewritten without rows, shared identifiers, and what MLflow and Dagster keep."""

from __future__ import annotations

import stat

import duckdb
import pandas as pd
import pytest

from models.registry import example_without_customers
from privacy.erasure import check_reason, forget, plan_erasure
from privacy.erasure_find import ErasureRequestError, Person
from privacy.erasure_rules import row_condition, token_pattern
from privacy.suppression import (
    SALT_ENV,
    Identifiers,
    SuppressionSaltError,
    add_to_suppression,
    checked_salt,
    email_key,
    identifier_hash,
    phone_key,
    phone_keys,
    suppression_salt,
)
from privacy.suppression_check import _email_sql, _phone_sql
from tests.warehouse.conftest import write_config
from warehouse.config import load_config
from warehouse.connection import connect, open_warehouse
from warehouse.expectations import validate_staging
from warehouse.ingest import ingest_sources
from warehouse.manifest import loaded_files, record_rewrite
from warehouse.raw_store import raw_root, remove_unreferenced, replace_view, rewrite_version
from warehouse.staging import staging_columns


@pytest.mark.parametrize(
    "written",
    [" Ann.Lee@Example.COM ", "mailto:ann.lee@example.com", "ANN.LEE@EXAMPLE.COM", "no address", "a@b"],
)
def test_email_keys_are_computed_alike_in_python_and_in_staging_sql(written):
    (in_sql,) = duckdb.execute(f"SELECT {_email_sql('?')}", [written]).fetchall()[0]
    assert email_key(written) == (in_sql if "@" in in_sql else None)


@pytest.mark.parametrize(
    "written", ["(415) 555-0134", "+1 415.555.0134 ext. 12", "415-555-0134 x9", "001 415 555 0134", "12 34"]
)
def test_phone_keys_are_computed_alike_in_python_and_in_staging_sql(written):
    (in_sql,) = duckdb.execute(f"SELECT {_phone_sql('?')}", [written]).fetchall()[0]
    assert phone_key(written) == (in_sql if len(in_sql) >= 7 else None)


def test_a_phone_is_suppressed_under_every_usual_way_of_writing_it():
    keys = phone_keys("+14155550134")
    for written in (
        "(415) 555-0134",
        "+1 415 555 0134",
        "1-415-555-0134",
        "001 415 555 0134",
        "011 1 415 555 0134",
    ):
        assert phone_key(written) in keys, written
    assert phone_key("07700 900123") in phone_keys("+447700900123")  # the UK's trunk 0
    assert phone_key("(415) 555-0135") not in keys


def test_the_hash_is_the_same_in_python_and_in_duckdb():
    (in_sql,) = duckdb.execute(
        "SELECT sha256(? || ':' || ? || ':' || ?)", ["s3cret", "email", "a@b.c"]
    ).fetchall()[0]
    assert identifier_hash("s3cret", "email", "a@b.c") == in_sql


def test_the_salt_is_made_once_readable_by_its_owner_only(kindred_home, monkeypatch):
    monkeypatch.delenv(SALT_ENV, raising=False)
    assert suppression_salt() is None
    salt = suppression_salt(create=True)
    path = kindred_home / "suppression.salt"
    assert len(salt) == 64 and path.read_text().strip() == salt
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert suppression_salt(create=True) == salt
    monkeypatch.setenv(SALT_ENV, "from-the-environment")
    assert suppression_salt() == "from-the-environment"


def test_a_missing_or_different_salt_is_refused_once_the_list_has_entries(kindred_home, monkeypatch):
    monkeypatch.delenv(SALT_ENV, raising=False)
    con = connect(":memory:")
    salt = checked_salt(con, create=True)
    ids = Identifiers()
    ids.add("email", "a@b.c")
    add_to_suppression(con, ids, "er-1", salt)
    monkeypatch.setenv(SALT_ENV, "another salt")
    with pytest.raises(SuppressionSaltError, match="not the one privacy.suppression was written with"):
        checked_salt(con)
    monkeypatch.delenv(SALT_ENV)
    (kindred_home / "suppression.salt").unlink()
    with pytest.raises(SuppressionSaltError, match="salt is missing"):
        checked_salt(con)


def _matches(pattern: str, text: str) -> bool:
    return duckdb.execute("SELECT regexp_matches(?, ?)", [text, pattern]).fetchall()[0][0]


def test_the_token_pattern_finds_whole_identifiers_only():
    person = Person("email", requested="an@x.com", emails={"an@x.com"}, phones={"+14155550134"})
    person.written_phones["(415) 555-0134"] = "+14155550134"
    person.profiles.add("p_123abc")
    pattern = token_pattern(person)
    for text in (
        '{"email": "AN@x.com"}',
        "mail an@x.com.",
        "call (415) 555-0134 now",
        "+14155550134",
        "p_123abc",
    ):
        assert _matches(pattern, text), text
    for text in ("joan@x.com", "an@x.com.au", "an@x.community", "+141555501345", "p_123abcd", "xp_123abc"):
        assert not _matches(pattern, text), text


def test_rules_are_read_from_the_columns_of_any_table():
    condition = row_condition(
        {
            "left_source": "VARCHAR",
            "left_record_id": "VARCHAR",
            "source_r": "VARCHAR",
            "record_id_r": "VARCHAR",
            "crm_object": "VARCHAR",
            "crm_record_id": "VARCHAR",
            "merged_into_profile_id": "VARCHAR",
            "score": "DOUBLE",
        },
        text=False,
    )
    for part in ('t."left_source"', 't."source_r"', 't."crm_object"', 't."merged_into_profile_id"'):
        assert part in condition
    assert "score" not in condition
    assert row_condition({"score": "DOUBLE", "at": "TIMESTAMP"}) is None


def test_a_raw_version_is_rewritten_without_rows_or_with_them_blanked(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "people.csv").write_text("Id,Email\n1,a@x.com\n2,b@x.com\n3,c@x.com\n")
    config = load_config(
        write_config(
            tmp_path,
            "sources:\n  - {name: crm, kind: people, path: 'in/*.csv', columns: {record_id: Id, email: Email}}\n",
        )
    )
    with open_warehouse(tmp_path / "w.duckdb") as con:
        ingest_sources(con, config)
        (entry,) = loaded_files(con, "crm").values()
        con.execute(
            "CREATE TEMP TABLE chosen AS SELECT source, _file, _ingested_at, _row_number FROM raw.crm WHERE Id = '2'"
        )
        assert rewrite_version(con, "crm", entry, "chosen") == 1
        record_rewrite(con, "crm", entry.file, 1, 1)
        replace_view(con, "crm")
        assert sorted(r[0] for r in con.execute("SELECT Id FROM raw.crm").fetchall()) == ["1", "3"]
        assert remove_unreferenced(con) == 1
        assert [p.name.endswith("-g1") for p in (raw_root(con) / "crm").iterdir()] == [True]
        (entry,) = loaded_files(con, "crm").values()
        assert (entry.generation, entry.erased_rows) == (1, 1)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE chosen AS SELECT source, _file, _ingested_at, _row_number FROM raw.crm WHERE Id = '3'"
        )
        rewrite_version(con, "crm", entry, "chosen", tombstone="erased on request")
        record_rewrite(con, "crm", entry.file, 2, 0)
        replace_view(con, "crm")
        rows = con.execute("SELECT Id, Email, _raw, _error FROM raw.crm ORDER BY _row_number").fetchall()
        assert rows == [("1", "a@x.com", None, None), (None, None, None, "erased on request")]


def _shared_warehouse(con):
    """Two profiles sharing a household email; each has its own phone."""
    columns = ", ".join(
        f"{c} VARCHAR" if c not in ("_row_number",) else f"{c} BIGINT" for c in staging_columns("people")
    )
    con.execute(
        f"CREATE TABLE staging.people ({columns.replace('_ingested_at VARCHAR', '_ingested_at TIMESTAMP')})"
    )
    con.execute("""
        INSERT INTO staging.people (source, crm_object, record_id, id_namespace, first_name, email, phone, _file, _row_number)
        VALUES ('crm', 'Contact', 'c1', 'crm', 'Carl', 'home@family.test', '312-555-0111', 'f', 1),
               ('crm', 'Contact', 'c2', 'crm', 'Dana', 'home@family.test', '312-555-0122', 'f', 2);
        CREATE TABLE identity.record_xref AS SELECT * FROM (VALUES ('crm', 'c1', 'p_carl'), ('crm', 'c2', 'p_dana')) v(source, record_id, profile_id);
        CREATE TABLE identity.person_records AS SELECT * FROM (VALUES
            ('crm', 'c1', 'home@family.test', '+13125550111'), ('crm', 'c2', 'home@family.test', '+13125550122'))
            v(source, record_id, email_norm, phone_norm);
        CREATE TABLE profiles.contact_points AS SELECT * FROM (VALUES
            ('p_carl', 'email', 'home@family.test'), ('p_carl', 'phone', '+13125550111'),
            ('p_dana', 'email', 'home@family.test'), ('p_dana', 'phone', '+13125550122')) v(profile_id, kind, value);
        CREATE TABLE profiles.unified_profile AS SELECT * FROM (VALUES
            ('p_carl', 'home@family.test'), ('p_dana', 'home@family.test')) v(profile_id, email);
    """)  # fmt: skip


def test_an_email_another_profile_shares_stays_with_it_and_is_not_suppressed(
    tmp_path, kindred_home, monkeypatch
):
    monkeypatch.delenv(SALT_ENV, raising=False)
    config = load_config(
        write_config(
            tmp_path, "sources:\n  - {name: crm, kind: people, path: 'none/*.csv', id_namespace: crm}\n"
        )
    )
    database = tmp_path / "w.duckdb"
    with open_warehouse(database) as con:
        _shared_warehouse(con)
        plan = plan_erasure(con, config, "profile", "p_carl")
        assert plan.person.shared == {"home@family.test"}
        assert plan.summary()["shared"] == 1
    receipt = forget(database, config, "profile", "p_carl").receipt
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT profile_id FROM profiles.unified_profile").fetchall() == [("p_dana",)]
        assert con.execute(
            "SELECT count(*) FROM staging.people WHERE email = 'home@family.test'"
        ).fetchall() == [(1,)]
        kinds = dict(con.execute("SELECT kind, count(*) FROM privacy.suppression GROUP BY 1").fetchall())
    assert "email" not in kinds and kinds["phone"] >= 1 and kinds["record"] == 1
    household = identifier_hash(suppression_salt(), "email", "home@family.test")
    assert household not in receipt.identifier_hashes


def test_a_reason_mentioning_the_person_is_refused():
    person = Person("email", emails={"an@x.com"}, names={"Ann Lee"})
    check_reason("ticket 42", person)
    for reason in ("ann lee asked", "see an@x.com", "Ms Lee"):
        with pytest.raises(ErasureRequestError):
            check_reason(reason, person)


def test_mlflow_input_examples_keep_the_columns_and_no_customer_values():
    real = pd.DataFrame({"orders_90d": [3.0, 1.0], "lead_source": pd.Categorical(["web", "fair"])})
    example = example_without_customers(real)
    assert list(example.columns) == list(real.columns) and list(example.dtypes) == list(real.dtypes)
    assert len(example) == 1 and example.isna().all(axis=None)


def test_failed_uniqueness_checks_show_no_ids_in_dagster_metadata():
    con = connect(":memory:")
    columns = ", ".join(f'"{c}" VARCHAR' for c in staging_columns("people"))
    con.execute(f"CREATE TABLE staging.people ({columns})")
    con.execute(
        "INSERT INTO staging.people (source, record_id, id_namespace) VALUES "
        "('crm', 'secret-id-1', 'crm'), ('crm', 'secret-id-1', 'crm')"
    )
    report = validate_staging(con, "people")
    unique = [f for f in report.failures if "unique" in f["expectation"]]
    assert unique and unique[0]["unexpected_count"] == 2
    assert "secret-id-1" not in str(report.results)


def test_files_searched_under_home_leave_out_the_raw_store_landing_files_and_temporaries(tmp_path):
    from privacy.erasure_scope import data_files

    for name in ("exports/crm/1/record_scores.parquet", "exports/s.csv", "audit/log.parquet",
                 "warehouse.raw/web/v1/part-0.parquet", "landing/orders.csv", "exports/.x.parquet.erasing",
                 "exports/.hidden.csv", "mlflow.db"):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = data_files(
        tmp_path, tmp_path / "warehouse.raw", {str((tmp_path / "landing/orders.csv").resolve())}
    )
    assert [str(p.relative_to(tmp_path)) for p in found] == [
        "audit/log.parquet",
        "exports/crm/1/record_scores.parquet",
        "exports/s.csv",
    ]


def test_rejected_rows_read_outside_staging_lose_their_content_when_they_name_an_erased_person(
    kindred_home, monkeypatch
):
    import polars as pl

    from privacy.suppression_check import ERASED_ON_REQUEST, blank_suppressed

    monkeypatch.delenv(SALT_ENV, raising=False)
    con = connect(":memory:")
    rejected = pl.DataFrame(
        {
            "reason": ["unknown status 'maybe'", "unknown status 'maybe'", "no usable identifier"],
            "raw_content": ['{"Email": "Gone@Example.org"}', '{"Email": "kept@example.org"}', '{"Id": "003A", "Source": "crm"}'],
        }
    )  # fmt: skip
    assert blank_suppressed(con, rejected, ["crm"]).equals(rejected)  # nobody erased yet: untouched
    salt = checked_salt(con, create=True)
    ids = Identifiers()
    ids.add("email", "gone@example.org")
    ids.add("record", "crm:003A")
    add_to_suppression(con, ids, "er-1", salt)
    blanked = blank_suppressed(con, rejected, ["crm", "web"])
    assert blanked["reason"].to_list() == [ERASED_ON_REQUEST, "unknown status 'maybe'", ERASED_ON_REQUEST]
    assert blanked["raw_content"].to_list() == [None, '{"Email": "kept@example.org"}', None]
