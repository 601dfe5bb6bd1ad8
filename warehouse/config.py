"""Loading and validating `kindred.yaml`: the whole config, its sources and how their files are read.

`load_config` reads the file into `KindredConfig`, whose sections are typed in modules of their own
(`warehouse.<section>_config`: consent, segments, models and offers, identity matching and
survivorship, CRM sync, privacy, LLM and prompts, serving); checks across sections, such as a
segment naming a consent purpose, live here on `KindredConfig`. Errors name the setting.
"""

from __future__ import annotations

import glob
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from warehouse.canonical import DEFAULT_SOURCE_COLUMNS, REQUIRED_FIELDS, canonical_fields
from warehouse.consent_config import ANY_CONSENT, ConsentConfig
from warehouse.crm_sync_config import CrmSyncConfig
from warehouse.identity_config import IdentityConfig
from warehouse.llm_config import LlmConfig, PromptConfig
from warehouse.models_config import ModelsConfig
from warehouse.privacy_config import PrivacyConfig
from warehouse.segment_config import SegmentConfig, repeated
from warehouse.serving_config import ServingConfig
from warehouse.strict_settings import StrictSettings

FORMATS = ("csv", "parquet", "jsonl")
_EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


class ConfigError(ValueError):
    """kindred.yaml is unreadable or describes something impossible; the message says where."""


class SourceConfig(StrictSettings):
    """One landing source: where its files are and how their columns map to a canonical kind."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    kind: Literal["people", "events", "orders", "cases"]
    path: str
    format: Literal["csv", "parquet", "jsonl"] | None = None
    id_namespace: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,62}$")
    columns: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, str] = Field(default_factory=dict)
    formats: dict[str, str] = Field(default_factory=dict)
    delimiter: str = Field(default=",", min_length=1, max_length=1)

    @model_validator(mode="after")
    def _fields_are_canonical(self) -> SourceConfig:
        known = canonical_fields(self.kind)
        for setting in ("columns", "constants", "formats"):
            unknown = sorted(set(getattr(self, setting)) - set(known))
            if unknown:
                raise ValueError(
                    f"{setting} uses {', '.join(unknown)}: not a canonical field of kind '{self.kind}'. "
                    f"Known fields: {', '.join(sorted(known))}"
                )
        not_time = sorted(f for f in self.formats if known[f] != "timestamp")
        if not_time:
            raise ValueError(f"formats may only be set for timestamp fields, not {', '.join(not_time)}")
        return self

    @property
    def namespace(self) -> str:
        """Records sharing a namespace and record_id are one person."""
        return self.id_namespace or self.name

    def column_map(self) -> dict[str, str]:
        """Canonical field -> source column, with the kind's defaults (Segment names) filled in."""
        mapping = dict(DEFAULT_SOURCE_COLUMNS.get(self.kind, {}))
        mapping.update(self.columns)
        return mapping

    def required_fields(self) -> tuple[str, ...]:
        """Fields that every row must have, else it is quarantined."""
        return REQUIRED_FIELDS[self.kind]


class IngestionConfig(StrictSettings):
    """How landing files are read: row size limit and the first day of the daily partitions."""

    # A row (a JSON line, a CSV record) larger than this is quarantined instead of loaded, so one
    # runaway value cannot exhaust memory; 8 MiB is far above any real event or CRM row.
    max_row_bytes: int = Field(default=8 * 2**20, ge=1024, le=2**30)
    # The first day of the daily partitions of events and orders in the Dagster UI.
    partition_start: date = date(2020, 1, 1)


class KindredConfig(StrictSettings):
    """The whole of kindred.yaml, with `base_dir` (the file's folder) for relative paths."""

    sources: list[SourceConfig]
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    ingestion: IngestionConfig = Field(default_factory=IngestionConfig)
    consent: ConsentConfig = Field(default_factory=ConsentConfig)
    segments: list[SegmentConfig] = Field(default_factory=list)
    crm_sync: CrmSyncConfig = Field(default_factory=CrmSyncConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    llm: LlmConfig | None = None
    prompts: list[PromptConfig] = Field(default_factory=list)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    base_dir: Path = Path(".")

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        duplicated = repeated(s.name for s in sources)
        if duplicated:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicated)}")
        if not sources:
            raise ValueError("at least one source is needed")
        return sources

    @field_validator("segments")
    @classmethod
    def _unique_segments(cls, segments: list[SegmentConfig]) -> list[SegmentConfig]:
        duplicated = repeated(s.name for s in segments)
        if duplicated:
            raise ValueError(f"segment names must be unique; repeated: {', '.join(duplicated)}")
        return segments

    @model_validator(mode="after")
    def _segments_use_consent_words(self) -> KindredConfig:
        # A segment exported under a misspelt channel or purpose would match no opt-out at all.
        for n, segment in enumerate(self.segments):
            at = f"segments[{n}] ('{segment.name}')"
            if segment.purpose not in self.consent.purposes:
                raise ValueError(
                    f"{at}.purpose: {segment.purpose!r} is not a consent purpose; known: "
                    f"{', '.join(self.consent.purposes)} (add a new one to consent.purposes)"
                )
            if segment.channel is not None and segment.channel not in self.consent.channels:
                raise ValueError(
                    f"{at}.channel: {segment.channel!r} is not a consent channel; known: "
                    f"{', '.join(self.consent.channels)} (add a new one to consent.channels)"
                )
        return self

    @model_validator(mode="after")
    def _consent_names_sources(self) -> KindredConfig:
        kinds = {s.name: s.kind for s in self.sources}
        named = [(f"fields ({f.column})", f.sources, "people") for f in self.consent.fields]
        named += [(f"events ({n})", e.sources, "events") for n, e in self.consent.events.items()]
        for where, sources, kind in named:
            wrong = [s for s in sources or [] if kinds.get(s) != kind]
            if wrong:
                raise ValueError(f"consent.{where}: {wrong[0]!r} is not a source of kind {kind}")
        if self.consent.file and self.consent.file.name in kinds:
            raise ValueError(
                f"consent.file.name: {self.consent.file.name!r} is already a source name; "
                "choose another (it names the file's quarantine table)"
            )
        known = [*self.consent.channels, ANY_CONSENT]
        offers = self.models.next_best_offer
        named = [("channels", offers.channels)]
        named += [
            (f"catalog[{n}] ('{o.id}').channels", o.channels or []) for n, o in enumerate(offers.catalog)
        ]
        for where, channels in named:
            unknown = [c for c in channels if c not in known]
            if unknown:
                raise ValueError(
                    f"models.next_best_offer.{where}: {unknown[0]!r} is not a consent channel; known: {', '.join(known)}"
                )
        return self

    def path_of(self, pattern: str) -> Path:
        """A configured path or glob, relative to the config file's folder unless absolute."""
        path = Path(pattern).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    @field_validator("prompts")
    @classmethod
    def _unique_prompts(cls, prompts: list[PromptConfig]) -> list[PromptConfig]:
        names = [p.name for p in prompts]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"prompt names must be unique; repeated: {', '.join(duplicated)}")
        return prompts

    @model_validator(mode="after")
    def _pii_sources_exist(self) -> KindredConfig:
        names = {s.name for s in self.sources}
        for field in self.privacy.pii_fields:
            source, dot, _ = field.partition(".")
            if dot and source not in names:
                raise ValueError(
                    f"privacy.pii_fields: '{field}' names source '{source}', which kindred.yaml does not "
                    f"define (sources: {', '.join(sorted(names))})"
                )
        return self

    @model_validator(mode="after")
    def _survivorship_names_sources(self) -> KindredConfig:
        known = {s.name for s in self.sources}
        for setting, names in self.identity.survivorship.named_sources().items():
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ValueError(
                    f"identity.survivorship.{setting}: unknown source {unknown[0]!r}; "
                    f"sources: {', '.join(sorted(known))}"
                )
        return self

    def sources_of(self, kind: str) -> list[SourceConfig]:
        """The sources of one canonical kind, in config order."""
        return [s for s in self.sources if s.kind == kind]

    def files_of(self, source: SourceConfig) -> list[Path]:
        """The files a source's glob matches now, sorted (relative globs start at base_dir)."""
        pattern = self.path_of(source.path)
        return sorted(Path(p) for p in glob.glob(str(pattern), recursive=True) if Path(p).is_file())

    def format_of(self, source: SourceConfig, file: Path) -> str:
        """A file's format: the source's `format`, else the file's extension."""
        if source.format:
            return source.format
        fmt = _EXTENSIONS.get(file.suffix.lower())
        if fmt is None:
            raise ConfigError(
                f"source '{source.name}': cannot tell the format of {file} from its extension; "
                f"set `format:` to one of {', '.join(FORMATS)}"
            )
        return fmt


def load_config(path: Path | str) -> KindredConfig:
    """Read and validate a kindred.yaml.

    Args:
        path: the YAML file.

    Returns:
        The validated config; relative source paths resolve against the file's folder.

    Raises:
        ConfigError: the file is missing, is not YAML, or breaks the format; the message names the
            file and the setting (e.g. `sources[2].columns`).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (pass --config or create kindred.yaml)")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping with a `sources:` list at the top level")
    document = {**document, "base_dir": path.resolve().parent}
    try:
        return KindredConfig.model_validate(document)
    except ValidationError as error:
        raise ConfigError(f"{path}: {_describe(error, document)}") from error


def _describe(error: ValidationError, document: dict) -> str:
    lines = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        # A check across sections (no location) names its settings in the message itself.
        lines.append(f"{_location(problem['loc'], document)}: {message}" if problem["loc"] else message)
    return "; ".join(lines)


def _location(loc: tuple, document: dict) -> str:
    parts: list[str] = []
    node = document
    for key in loc:
        if isinstance(key, int):
            name = node[key].get("name") if isinstance(node, list) and isinstance(node[key], dict) else None
            parts[-1] += f"[{key}]" + (f" ('{name}')" if name else "")
        else:
            parts.append(str(key))
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts) or "config"


def required_columns(source: SourceConfig) -> dict[str, str]:
    """Required canonical field -> the source column that must exist (constants excepted)."""
    mapping = source.column_map()
    return {f: mapping.get(f, f) for f in source.required_fields() if f not in source.constants}


__all__ = [
    "ConfigError",
    "ConsentConfig",
    "IngestionConfig",
    "KindredConfig",
    "SegmentConfig",
    "ServingConfig",
    "SourceConfig",
    "load_config",
    "required_columns",
]
