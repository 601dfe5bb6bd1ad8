"""The `crm_sync:` section of kindred.yaml: the PostgreSQL mirror of the `crm` tables and its snapshots.

Part of the typed config of `warehouse.config` (`KindredConfig.crm_sync`); see docs/crm-sync.md.
`postgres_url` also checks a target given on the command line (`kindred crm sync --target`).
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from warehouse.strict_settings import StrictSettings


class CrmSnapshotsConfig(StrictSettings):
    """Per-run Parquet snapshots of the `crm` tables under `KINDRED_HOME/exports/crm/`."""

    # The newest `keep` snapshots stay, older ones are removed; 0 writes none.
    keep: int = Field(default=7, ge=0, le=10_000)


class CrmSyncConfig(StrictSettings):
    """Where `kindred crm sync` (and the pipeline's sync asset) mirrors the `crm` tables."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # postgresql://user@host:port/dbname, never with a password: that comes from PGPASSWORD,
    # ~/.pgpass or PGPASSFILE. No target: the pipeline skips the sync.
    target: str | None = None
    mirror_schema: str = Field(default="kindred", alias="schema", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    segments: bool = False
    # Names this Kindred's rows in the mirror: a sync deletes only rows written under its owner.
    owner: str = Field(default="kindred", pattern=r"^[A-Za-z0-9_.:-]{1,100}$")
    snapshots: CrmSnapshotsConfig = Field(default_factory=CrmSnapshotsConfig)

    @field_validator("target")
    @classmethod
    def _no_password(cls, target: str | None) -> str | None:
        return None if target is None else postgres_url(target)


def postgres_url(url: str) -> str:
    """Check a PostgreSQL target URL: `postgresql://user@host:port/dbname`, without a password.

    Args:
        url: the URL as written in kindred.yaml or on the command line.

    Returns:
        The URL, unchanged.

    Raises:
        ValueError: not a postgresql:// URL, or it holds a password. The message never repeats the
            URL, which may contain one.
    """
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    if not url.startswith(("postgresql://", "postgres://")):
        raise ValueError("the target must be a URL like postgresql://user@host:5432/dbname")
    try:
        parts = conninfo_to_dict(url)
    except ProgrammingError:
        raise ValueError("the target is not a valid URL like postgresql://user@host:5432/dbname") from None
    if "password" in parts:
        raise ValueError(
            "the target URL contains a password: secrets never live in kindred.yaml or on the command line; "
            "remove it from the URL and give it in PGPASSWORD (or ~/.pgpass, PGPASSFILE)"
        )
    return url
