"""Which engine runs Splink for a resolution: DuckDB in this process (the default) or Spark
(`identity.backend: spark`, `kindred resolve --backend spark`).

`splink_engine` is the seam: the matching code builds its settings, trains and scores through a
`SplinkEngine` made by an `EngineFactory`, and never asks which database is underneath. This
module makes the factory for the configured backend. For Spark, one session serves every engine
of a run (training and scoring each make one); each engine drops the temporary views it made
when it closes. Everything after Splink (links, guards, clusters, survivorship) stays in DuckDB
and polars.

Spark is an optional extra (`uv sync --extra spark`); the DuckDB path never imports pyspark.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from identity_resolution.splink_engine import EngineFactory, SplinkEngine, duckdb_engine
from warehouse.identity_config import SparkSettings

log = logging.getLogger(__name__)

BACKENDS: tuple[str, ...] = ("duckdb", "spark")
# Spark has no unsigned integers: these are registered as Int64 and cast back when read.
_UNSIGNED = (pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)
# Spark's 200 shuffle partitions suit a cluster; on one machine they are mostly overhead.
_LOCAL_SHUFFLE_PARTITIONS = "16"


@dataclass
class SparkEngine(SplinkEngine):
    """A `SplinkEngine` on a Spark session: frames cross as Arrow, unsigned ids survive the trip.

    Attributes:
        session: the Spark session the database API runs on.
    """

    session: Any = None
    _registered: dict[str, pl.DataType] = field(default_factory=dict)
    _views_before: set[str] = field(default_factory=set)

    def register(self, frame: pl.DataFrame, table_name: str):
        """Hand a frame to Spark (unsigned integer columns as Int64).

        Args:
            frame: the rows.
            table_name: a name unique within this engine.

        Returns:
            The Splink dataframe.
        """
        unsigned = {c: t for c, t in frame.schema.items() if t in _UNSIGNED}
        self._registered |= unsigned
        signed = frame.cast(dict.fromkeys(unsigned, pl.Int64)) if unsigned else frame
        return self.db_api.register(signed.to_arrow(), table_name=table_name)

    def to_polars(self, table) -> pl.DataFrame:
        """A Splink table as polars; columns registered unsigned (and their `_l`/`_r` copies in
        pair tables) come back with the type they had.

        Args:
            table: a Splink dataframe.

        Returns:
            The rows.
        """
        frame = super().to_polars(table)
        casts = {}
        for column, dtype in frame.schema.items():
            wanted = self._registered.get(column) or self._registered.get(
                column.removesuffix("_l").removesuffix("_r")
            )
            if wanted is not None and dtype != wanted:
                casts[column] = wanted
        return frame.cast(casts) if casts else frame

    def close(self) -> None:
        """Drop the temporary views this engine made: a session that outlives it (the next
        engine of the run, a notebook's) would otherwise refuse the same table names."""
        for view in _temp_views(self.session) - self._views_before:
            self.session.catalog.dropTempView(view)
        super().close()


def spark_engine(session) -> SparkEngine:
    """A Splink engine on a running Spark session.

    Args:
        session: a `pyspark.sql.SparkSession` with Splink's similarity functions on its class path.

    Returns:
        The engine; closing it drops its temporary views and leaves the session running.
    """
    from splink.backends.spark import SparkAPI

    return SparkEngine(
        db_api=SparkAPI(spark_session=session),
        name="spark",
        session=session,
        _views_before=_temp_views(session),
    )


def _temp_views(session) -> set[str]:
    return {t.name for t in session.catalog.listTables() if t.isTemporary}


class SparkEngines:
    """The engine factory of a Spark run: the first engine starts (or joins) the session, the
    later ones reuse it; `close` stops a session it started. A run that never needs Splink (too
    few records to compare) never starts Spark.

    Attributes:
        settings: `identity.spark`.
    """

    name = "spark"

    def __init__(self, settings: SparkSettings) -> None:
        self.settings = settings
        self._stack = ExitStack()
        self._session = None

    def __call__(self) -> SparkEngine:
        if self._session is None:
            self._session = self._stack.enter_context(spark_session(self.settings))
        return spark_engine(self._session)

    def close(self) -> None:
        """Stop the session if this factory started it."""
        self._stack.close()
        self._session = None


@contextmanager
def engine_factory(backend: str = "duckdb", spark: SparkSettings | None = None) -> Iterator[EngineFactory]:
    """The engine factory of one resolution run, for `resolve_identities(engine_factory=...)`.

    DuckDB engines are private in-memory databases (`splink_engine.duckdb_engine`). Spark engines
    share one session (`SparkEngines`): the running one when there is one (a notebook, a cluster
    job), left running; otherwise one started from `identity.spark` with Splink's similarity
    functions on its class path, stopped when the block ends.

    Args:
        backend: `duckdb` or `spark` (`identity.backend`).
        spark: master, Spark properties and checkpoint folder (`identity.spark`; defaults when None).

    Returns:
        A context manager yielding the factory.

    Raises:
        ValueError: an unknown backend.
        RuntimeError: (from the first engine) Spark was chosen but pyspark is not installed.

    Example:
        >>> with engine_factory("duckdb") as make_engine:
        ...     engine = make_engine()
        ...     engine.to_polars(engine.register(pl.DataFrame({"unique_id": [1, 2]}), "people")).height
        2
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown identity backend {backend!r}; use one of: {', '.join(BACKENDS)}")
    if backend == "duckdb":
        yield duckdb_engine
        return
    engines = SparkEngines(spark or SparkSettings())
    try:
        yield engines
    finally:
        engines.close()


@contextmanager
def spark_session(settings: SparkSettings) -> Iterator[Any]:
    """The running Spark session, or a new one from `identity.spark` stopped at the end.

    Args:
        settings: master, Spark properties and checkpoint folder.

    Returns:
        A context manager yielding the session.

    Raises:
        RuntimeError: pyspark is not installed.
    """
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError as error:
        raise RuntimeError(
            "identity.backend is spark but pyspark is not installed: install the `spark` extra "
            "(uv sync --extra spark, or pip install 'kindred[spark]')"
        ) from error
    running = SparkSession.getActiveSession()
    if running is not None:
        log.info("spark: using the running session (%s)", running.sparkContext.master)
        with _scratch(running, settings):
            yield running
        return
    local = settings.master.startswith("local")
    if local:
        # Spark's driver listens on several ports; on one machine they stay on the loopback.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    scratch = tempfile.mkdtemp(prefix="kindred-spark-")
    builder = (
        SparkSession.builder.master(settings.master)
        .appName("kindred-identity")
        .config("spark.jars", similarity_jar_location())
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Nothing is written to a `spark-warehouse` folder in the working directory.
        .config("spark.sql.warehouse.dir", os.path.join(scratch, "warehouse"))
    )
    if local:
        builder = (
            builder.config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", _LOCAL_SHUFFLE_PARTITIONS)
        )
    for key, value in settings.conf.items():
        builder = builder.config(key, value)
    log.info("spark: starting a session on %s", settings.master)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    try:
        with _scratch(session, settings, folder=scratch):
            yield session
    finally:
        session.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def _scratch(session, settings: SparkSettings, folder: str | None = None) -> Iterator[None]:
    """Splink writes its intermediate tables as Parquet under the session's checkpoint folder:
    the configured one, the running session's own, or a temporary one removed afterwards."""
    if settings.checkpoint_dir:
        session.sparkContext.setCheckpointDir(settings.checkpoint_dir)
        yield
        return
    if not session.sparkContext._jsc.sc().getCheckpointDir().isEmpty():
        yield
        return
    own = folder is None
    folder = folder or tempfile.mkdtemp(prefix="kindred-spark-")
    session.sparkContext.setCheckpointDir(os.path.join(folder, "checkpoints"))
    try:
        yield
    finally:
        if own:
            shutil.rmtree(folder, ignore_errors=True)
