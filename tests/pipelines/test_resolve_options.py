"""`kindred resolve` hands its region and date options to identity resolution."""

import polars as pl
from typer.testing import CliRunner

import identity_resolution.resolve
from pipelines.cli import app


def test_phone_region_and_day_first_reach_identity_resolution(tmp_path, monkeypatch):
    pl.DataFrame({"Id": ["1"], "Born": ["04/12/1985"]}).write_csv(tmp_path / "crm.csv")
    seen = {}

    def resolve_records(frames, id_column, mapping, options, **_):
        seen.update(default_phone_region=options.default_phone_region, day_first=options.day_first)
        return pl.DataFrame({"source": ["crm"], "record_id": ["1"], "profile_id": ["p1"]})

    monkeypatch.setattr(identity_resolution.resolve, "resolve_records", resolve_records)
    args = ["resolve", str(tmp_path / "crm.csv"), "--id", "Id", "--out", str(tmp_path / "out.csv")]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert seen == {"default_phone_region": "US", "day_first": False}
    result = CliRunner().invoke(app, [*args, "--phone-region", "gb", "--day-first"])
    assert result.exit_code == 0, result.output
    assert seen == {"default_phone_region": "GB", "day_first": True}
