"""kindred.yaml errors name the file, the source and the setting."""

import pytest

from warehouse.config import ConfigError, load_config
from warehouse.connection import connect, table_exists
from warehouse.ingest import ingest_sources


def write(tmp_path, text):
    path = tmp_path / "kindred.yaml"
    path.write_text(text)
    return path


def test_unknown_canonical_field_is_named(tmp_path):
    path = write(tmp_path, "sources:\n  - {name: shop, kind: orders, path: o.csv, columns: {bogus: X}}\n")
    with pytest.raises(
        ConfigError,
        match=r"kindred.yaml: sources\[0\] \('shop'\).*bogus.*not a canonical field of kind 'orders'",
    ):
        load_config(path)


def test_unknown_kind_and_duplicate_names(tmp_path):
    path = write(tmp_path, "sources:\n  - {name: a, kind: order, path: x}\n")
    with pytest.raises(ConfigError, match=r"sources\[0\] \('a'\).kind"):
        load_config(path)
    path = write(
        tmp_path, "sources:\n  - {name: a, kind: orders, path: x}\n  - {name: a, kind: cases, path: y}\n"
    )
    with pytest.raises(ConfigError, match="repeated: a"):
        load_config(path)


def test_not_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "sources: [\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_paths_are_relative_to_the_config_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "o.csv").write_text("customer_id,ordered_at,amount\n1,2025-01-01,3\n")
    config = load_config(write(tmp_path, "sources:\n  - {name: shop, kind: orders, path: sub/*.csv}\n"))
    assert config.files_of(config.sources[0]) == [tmp_path / "sub" / "o.csv"]


def test_missing_required_column_stops_before_writing(tmp_path):
    (tmp_path / "o.csv").write_text("customer_id,ordered_at,amount\n1,2025-01-01,3\n")
    (tmp_path / "p.csv").write_text("CustomerID,When,amount\n1,2025-01-01,3\n")
    config = load_config(
        write(
            tmp_path,
            """
sources:
  - {name: good, kind: orders, path: o.csv}
  - {name: shop, kind: orders, path: p.csv, columns: {customer_id: CustomerID}}
""",
        )
    )
    con = connect(":memory:")
    with pytest.raises(
        ConfigError,
        match=r"source 'shop': .*p.csv has no column 'ordered_at' for required field 'ordered_at'",
    ):
        ingest_sources(con, config)
    assert not table_exists(con, "raw.good")


def test_a_source_without_files_is_an_error(tmp_path):
    config = load_config(write(tmp_path, "sources:\n  - {name: shop, kind: orders, path: none/*.csv}\n"))
    with pytest.raises(ConfigError, match="source 'shop': no file matches path 'none/\\*.csv'"):
        ingest_sources(connect(":memory:"), config)


def test_identity_settings_are_read_and_checked(tmp_path):
    source = "sources:\n  - {name: crm, kind: people, path: p.csv}\n"
    config = load_config(write(tmp_path, source))
    assert (config.identity.default_phone_region, config.identity.date_of_birth_day_first) == ("US", False)
    config = load_config(
        write(tmp_path, source + "identity: {default_phone_region: GB, date_of_birth_day_first: true}\n")
    )
    assert (config.identity.default_phone_region, config.identity.date_of_birth_day_first) == ("GB", True)
    with pytest.raises(ConfigError, match="identity.date_of_birth_day_first"):
        load_config(write(tmp_path, source + "identity: {date_of_birth_day_first: sometimes}\n"))
