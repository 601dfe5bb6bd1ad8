"""`kindred resolve` hands its region, date and backend options to identity resolution."""

import polars as pl
from typer.testing import CliRunner

import identity_resolution.resolve
from identity_resolution.splink_engine import duckdb_engine
from pipelines.cli import app


def test_phone_region_day_first_and_backend_reach_identity_resolution(tmp_path, monkeypatch):
    pl.DataFrame({"Id": ["1"], "Born": ["04/12/1985"]}).write_csv(tmp_path / "crm.csv")
    seen = {}

    def resolve_frames(frames, id_column, mapping, options, *, engine_factory, **_):
        seen.update(
            default_phone_region=options.default_phone_region,
            day_first=options.day_first,
            duckdb=engine_factory is duckdb_engine,
            backend=getattr(engine_factory, "name", None),
        )
        return pl.DataFrame({"source": ["crm"], "record_id": ["1"], "profile_id": ["p1"]}), None

    monkeypatch.setattr(identity_resolution.resolve, "resolve_frames", resolve_frames)
    args = ["resolve", str(tmp_path / "crm.csv"), "--id", "Id", "--out", str(tmp_path / "out.csv")]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert seen == {"default_phone_region": "US", "day_first": False, "duckdb": True, "backend": None}
    # The Spark factory starts its session on the first engine only, so none starts here.
    result = CliRunner().invoke(app, [*args, "--phone-region", "gb", "--day-first", "--backend", "spark"])
    assert result.exit_code == 0, result.output
    assert seen == {"default_phone_region": "GB", "day_first": True, "duckdb": False, "backend": "spark"}


def test_an_unknown_backend_is_refused_before_any_work(tmp_path):
    pl.DataFrame({"Id": ["1"]}).write_csv(tmp_path / "crm.csv")
    out = tmp_path / "out.csv"
    args = ["resolve", str(tmp_path / "crm.csv"), "--id", "Id", "--out", str(out), "--backend", "hadoop"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "--backend 'hadoop': use one of duckdb, spark" in result.output
    assert not out.exists()
