"""`kindred resolve` on arbitrary person files, as the contract defines it."""

import json

import polars as pl

from tests.end_to_end.conftest import kindred


def write_people(tmp_path):
    pl.DataFrame(
        {
            "Id": ["a1", "a2", "a3"],
            "First": ["Jonathan", "Maria", "Wei"],
            "Last": ["Smith", "Garcia", "Chen"],
            "Mail": ["jon.smith@example.com", "maria.g@example.org", "wei.chen@example.net"],
            "Phone": ["(415) 555-0101", "+1 212 555 0199", None],
        }
    ).write_csv(tmp_path / "crm.csv")
    pl.DataFrame(
        {
            "Id": ["b1", "b2"],
            "First": ["Jon", "Ana"],
            "Last": ["Smith", "Lopez"],
            "Mail": [" JON.SMITH@example.com", "ana@example.com"],
            "Phone": ["415.555.0101", None],
        }
    ).write_parquet(tmp_path / "shop.parquet")


def test_resolve_links_across_files(tmp_path):
    write_people(tmp_path)
    out = tmp_path / "out" / "resolved.csv"
    run = kindred(
        tmp_path,
        tmp_path / "home",
        "resolve",
        "crm.csv",
        "shop.parquet",
        "--id",
        "Id",
        "--map",
        "first_name=First",
        "--map",
        "last_name=Last",
        "--map",
        "email=Mail",
        "--map",
        "phone=Phone",
        "--out",
        str(out),
    )
    assert run.returncode == 0, run.output
    resolved = pl.read_csv(out)
    assert resolved.columns == ["source", "record_id", "profile_id"]
    assert resolved.height == 5
    ids = dict(zip(resolved["record_id"], resolved["profile_id"], strict=True))
    assert ids["a1"] == ids["b1"]
    assert len({ids["a2"], ids["a3"], ids["b2"], ids["a1"]}) == 4


def test_resolve_names_the_bad_column_and_writes_nothing(tmp_path):
    write_people(tmp_path)
    out = tmp_path / "resolved.parquet"
    run = kindred(
        tmp_path,
        tmp_path / "home",
        "resolve",
        "crm.csv",
        "--id",
        "Id",
        "--map",
        "email=Email",
        "--out",
        str(out),
    )
    assert run.returncode != 0
    assert "Email" in run.output
    assert not out.exists()
    run = kindred(
        tmp_path,
        tmp_path / "home",
        "resolve",
        "crm.csv",
        "--id",
        "Id",
        "--map",
        "mail=Mail",
        "--out",
        str(out),
    )
    assert run.returncode != 0
    assert "mail" in run.output
    assert not out.exists()


def test_resolve_writes_the_splink_settings_it_used(tmp_path):
    from splink import DuckDBAPI, Linker

    from identity_resolution.attributes import DERIVED_COLUMNS, MATCH_COLUMNS

    write_people(tmp_path)
    out, model = tmp_path / "resolved.parquet", tmp_path / "model" / "splink.json"
    run = kindred(
        tmp_path,
        tmp_path / "home",
        "resolve",
        "crm.csv",
        "shop.parquet",
        "--id",
        "Id",
        "--map",
        "first_name=First",
        "--map",
        "last_name=Last",
        "--map",
        "email=Mail",
        "--out",
        str(out),
        "--model-out",
        str(model),
    )
    assert run.returncode == 0, run.output
    settings = json.loads(model.read_text(encoding="utf-8"))
    assert {c["output_column_name"] for c in settings["comparisons"]} >= {"first_name", "last_name", "email"}
    assert settings["blocking_rules_to_generate_predictions"]
    # Splink takes the file as it is: the same model scores outside Kindred.
    text = json.dumps(settings)
    columns = {"unique_id": [1, 2]} | {
        c: [["jon"], ["jon"]] if c == "first_name_aliases" else ["jon", "jon"]
        for c in (*MATCH_COLUMNS, *DERIVED_COLUMNS)
        if c in text
    }
    api = DuckDBAPI()
    scored = Linker(api.register(pl.DataFrame(columns).to_arrow()), settings).inference.predict()
    assert scored.as_pyarrow_table().num_rows == 1
    assert [p.name for p in model.parent.iterdir()] == ["splink.json"]
