"""Survivorship's sort keys: each rule of a chain is a field of one integer, and the record and
time a value came from can be read back from it exactly."""

from __future__ import annotations

import duckdb
import pytest

from identity_resolution.survivorship_keys import KEY_BITS, MAX_HASH_BITS, layout

WIDTHS = {"time": 48, "record": 20, "frequency": 7, "source": 3, "completeness": 12}


def test_fields_follow_the_chain_then_the_tie_breaks():
    key = layout("last_name", ("most_frequent", "source_priority"), WIDTHS)
    assert [f.name for f in key.fields] == ["frequency", "source", "time", "record", "hash"]
    # Each field sits right above the next one: a higher field always outweighs all lower ones.
    for upper, lower in zip(key.fields, key.fields[1:], strict=False):
        assert upper.shift == lower.shift + lower.bits
    assert key.fields[-1].shift == 0
    assert key.field("hash").bits == MAX_HASH_BITS
    assert sum(f.bits for f in key.fields) <= KEY_BITS


def test_a_chain_that_names_the_time_keeps_it_in_its_place():
    key = layout("address", ("most_complete", "most_recent"), WIDTHS)
    assert [f.name for f in key.fields] == ["completeness", "time", "record", "hash"]


def test_the_hash_gets_only_the_bits_that_are_left():
    wide = {**WIDTHS, "time": 62, "record": 32, "completeness": 12, "frequency": 17}
    key = layout("full_name", ("most_frequent", "most_complete", "most_recent"), wide)
    assert key.field("hash").bits == KEY_BITS - (62 + 32 + 12 + 17)


def test_a_chain_too_wide_for_one_key_is_refused():
    wide = {**WIDTHS, "time": 64, "record": 40, "frequency": 20, "completeness": 12, "source": 8}
    with pytest.raises(ValueError, match="survivorship of company: the rule chain needs a 144-bit key"):
        layout("company", ("most_frequent", "source_priority", "most_complete", "most_recent"), wide)


def test_a_row_key_reads_back_its_numbers_in_duckdb():
    key = layout("company", ("source_priority", "most_complete", "most_recent"), WIDTHS)
    numbers = {"source": "5", "completeness": "4095", "time": str(2**48 - 1), "record": "654321"}
    sql = key.row_key(numbers)
    extracted = ", ".join(
        key.field(name).extract("k") for name in ("source", "completeness", "time", "record")
    )
    row = duckdb.sql(
        f"SELECT {extracted}, {key.field('hash').extract('k')} FROM (SELECT {sql} AS k)"
    ).fetchall()[0]
    assert row == (5, 4095, 2**48 - 1, 654321, 0)  # the hash is added per value, not per row


def test_a_better_first_rule_outweighs_everything_below_it():
    key = layout("job_title", ("source_priority", "most_recent"), WIDTHS)
    trusted_but_old = key.row_key({"source": "2", "time": "1", "record": "0"})
    newest_but_untrusted = key.row_key({"source": "1", "time": str(2**48 - 1), "record": str(2**20 - 1)})
    assert duckdb.sql(f"SELECT ({trusted_but_old}) > ({newest_but_untrusted})").fetchall()[0][0]
