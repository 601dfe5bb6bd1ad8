"""kindred.yaml against the generated files: every path, column and person key lines up."""

import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from tests.demo.conftest import read_csv
from warehouse.config import load_config, required_columns

REPO = Path(__file__).resolve().parents[2]
KEY_FIELD = {"people": "record_id", "orders": "customer_id", "cases": "customer_id"}


@pytest.fixture(scope="module")
def config(demo):
    loaded = load_config(REPO / "kindred.yaml")
    # The demo fixture writes to <root>/data/demo, the layout the config's relative paths expect.
    return loaded.model_copy(update={"base_dir": demo.out.parent.parent})


def _has_path(document: dict, dotted: str) -> bool:
    node = document
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_source_matches_files_and_their_columns(config):
    for source in config.sources:
        files = config.files_of(source)
        assert files, f"{source.name}: no file matches {source.path}"
        # What the config names explicitly, plus the required fields (Segment defaults included).
        mapping = {**source.columns, **required_columns(source)}
        if config.format_of(source, files[0]) == "csv":
            header = set(pl.read_csv(files[0], n_rows=0).columns)
            missing = sorted(c for c in mapping.values() if c not in header)
            assert not missing, f"{source.name}: columns {missing} not in {files[0].name}"
        else:
            documents = [
                json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines()
            ]
            missing = sorted(c for c in mapping.values() if not any(_has_path(d, c) for d in documents))
            assert not missing, f"{source.name}: paths {missing} never present"


def test_person_keys_of_the_config_are_exactly_the_ground_truth_records(config, truth):
    assert {s.name for s in config.sources} == set(truth["source"].unique())
    for source in config.sources:
        files = config.files_of(source)
        if source.kind == "events":
            frames = [
                pl.read_ndjson(f, schema={"userId": pl.String, "anonymousId": pl.String}) for f in files
            ]
            keys = pl.concat(frames).select(pl.coalesce("userId", "anonymousId").alias("k"))["k"]
        else:
            column = source.column_map()[KEY_FIELD[source.kind]]
            keys = pl.concat([pl.read_csv(f, infer_schema=False).select(column) for f in files]).to_series()
        assert keys.null_count() == 0, f"{source.name}: rows without a person key"
        expected = set(truth.filter(pl.col("source") == source.name)["record_id"])
        assert set(keys) == expected, source.name


def test_declared_timestamp_formats_parse_every_row(config):
    for source in config.sources:
        for field, fmt in source.formats.items():
            column = source.column_map()[field]
            for file in config.files_of(source):
                values = pl.read_csv(file, infer_schema=False)[column]
                for value in values.to_list():
                    parsed = datetime.strptime(value, fmt)
                    assert datetime(2025, 1, 1) <= parsed <= datetime(2026, 10, 31, 23, 59)


def test_namespaces_tie_shared_ids(config, truth):
    namespaces = {s.name: s.namespace for s in config.sources}
    assert namespaces["web_events"] == namespaces["app_events"] == namespaces["shop_orders"]
    assert namespaces["crm_contacts"] == namespaces["support_cases"]
    # Within a namespace, one record id is one person, whichever source it appears in.
    tagged = truth.with_columns(ns=pl.col("source").replace_strict(namespaces))
    owners = tagged.group_by("ns", "record_id").agg(pl.col("person_id").n_unique().alias("n"))
    assert owners["n"].max() == 1
    contacts = set(_ids(truth, "crm_contacts"))
    assert set(_ids(truth, "support_cases")) <= contacts


def _ids(truth: pl.DataFrame, source: str) -> list[str]:
    return truth.filter(pl.col("source") == source)["record_id"].to_list()


def test_store_and_crm_files_read_as_text(demo):
    store = read_csv(demo.out, "orders/store_orders.csv")
    contacts = read_csv(demo.out, "crm/contacts.csv")
    # Loyalty numbers keep their leading 70 and join store rows to CRM contacts.
    assert store["loyalty_number"].str.contains(r"^70\d{8}$").all()
    linked = set(store["loyalty_number"]) & set(contacts["Loyalty_Number__c"].drop_nulls())
    assert len(linked) > 0.9 * store["loyalty_number"].n_unique()
