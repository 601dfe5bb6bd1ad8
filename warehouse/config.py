"""Loading and validating `kindred.yaml`: sources, their column mappings, and model settings."""

from __future__ import annotations

import glob
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from warehouse.canonical import (
    DEFAULT_SOURCE_COLUMNS,
    KIND_FIELDS,
    PERSON_ATTRIBUTES,
    REQUIRED_FIELDS,
    canonical_fields,
)
from warehouse.consent_config import ANY_CONSENT, ConsentConfig
from warehouse.identity_config import SparkSettings, SurvivorshipConfig
from warehouse.offer_config import OfferConfig
from warehouse.segment_config import SegmentConfig, repeated
from warehouse.serving_config import ServingConfig

FORMATS = ("csv", "parquet", "jsonl")
_EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


class ConfigError(ValueError):
    """kindred.yaml is unreadable or describes something impossible; the message says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
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


class LeadScoreConfig(_Strict):
    horizon_days: int = Field(default=90, ge=7, le=730)


class ChurnRiskConfig(_Strict):
    horizon_days: int = Field(default=90, ge=7, le=730)
    # Active customers: a purchase in this many days before a cut-off (the churn population).
    lookback_days: int = Field(default=180, ge=7, le=3650)


class NextBestOfferConfig(_Strict):
    horizon_days: int = Field(default=90, ge=7, le=730)
    offer_field: Literal["product_category", "product_id"] = "product_category"
    top_k: int = Field(default=10, ge=1, le=100)
    # How offers reach people: offers are kept only for people who may receive marketing on at
    # least one of these channels (consent).
    channels: list[str] = Field(default_factory=lambda: ["email"], min_length=1)
    # The offers to rank (warehouse/offer_config.py); empty: every value of offer_field is an offer.
    catalog: list[OfferConfig] = Field(default_factory=list)

    @field_validator("catalog")
    @classmethod
    def _unique_offer_ids(cls, catalog: list[OfferConfig]) -> list[OfferConfig]:
        duplicated = repeated(o.id for o in catalog)
        if duplicated:
            raise ValueError(f"offer ids must be unique; repeated: {', '.join(duplicated)}")
        return catalog


class ModelsConfig(_Strict):
    lead_score: LeadScoreConfig = Field(default_factory=LeadScoreConfig)
    churn_risk: ChurnRiskConfig = Field(default_factory=ChurnRiskConfig)
    next_best_offer: NextBestOfferConfig = Field(default_factory=NextBestOfferConfig)


# --- identity: matching, guardrails, blocked values, Splink overrides (docs/identity-resolution.md)


def _known_attribute(name: str) -> str:
    if name not in PERSON_ATTRIBUTES:
        raise ValueError(f"unknown attribute {name!r}; known attributes: {', '.join(PERSON_ATTRIBUTES)}")
    return name


class IdentityGuardsConfig(_Strict):
    """Conflict rules that forbid a link whatever the evidence, and the cluster size limit."""

    dates_of_birth: bool = True
    # Two dates of birth this many edits apart (or fewer) may be typos of one date.
    date_of_birth_max_edits: int = Field(default=2, ge=0, le=4)
    national_ids: bool = True
    national_id_max_edits: int = Field(default=1, ge=0, le=4)
    generational_suffixes: bool = True
    given_names: bool = True
    # Jaro-Winkler similarity above which two given names may be one name typed twice.
    given_name_similarity: float = Field(default=0.88, gt=0, le=1)
    max_cluster_size: int = Field(default=100, ge=2, le=100_000)
    # An email, phone or loyalty number carried by more given names or records than this is shared.
    shared_contact_max_names: int = Field(default=3, ge=1)
    shared_contact_max_records: int = Field(default=50, ge=2)


class BlockedValuesConfig(_Strict):
    """Placeholder values that identify nobody, added to the defaults (test@..., 0000000000)."""

    use_defaults: bool = True
    email: list[str] = Field(default_factory=list)
    phone: list[str] = Field(default_factory=list)
    national_id: list[str] = Field(default_factory=list)
    loyalty_id: list[str] = Field(default_factory=list)


class SplinkComparisonConfig(_Strict):
    """An extra comparison, or one replacing the built-in comparison of the same attribute."""

    attribute: str
    method: Literal["exact", "jaro_winkler", "jaro", "levenshtein", "damerau_levenshtein", "date_years"] = (
        "exact"
    )
    thresholds: list[float] = Field(default_factory=list)
    term_frequencies: bool = False

    _attribute = field_validator("attribute")(_known_attribute)

    @model_validator(mode="after")
    def _thresholds_fit_the_method(self) -> SplinkComparisonConfig:
        if self.method == "exact":
            if self.thresholds:
                raise ValueError("method 'exact' takes no thresholds")
            return self
        if not self.thresholds:
            raise ValueError(f"method '{self.method}' needs thresholds, e.g. [0.9] or [1, 2]")
        if self.method in ("jaro_winkler", "jaro") and not all(0 < t < 1 for t in self.thresholds):
            raise ValueError(f"method '{self.method}' takes similarity thresholds between 0 and 1")
        if self.method in ("levenshtein", "damerau_levenshtein") and not all(
            t >= 1 and t == int(t) for t in self.thresholds
        ):
            raise ValueError(f"method '{self.method}' takes whole-number distances of 1 or more")
        if self.method == "date_years" and not all(t > 0 for t in self.thresholds):
            raise ValueError("method 'date_years' takes positive numbers of years")
        return self


class SplinkConfig(_Strict):
    """Overrides of the Splink model Kindred builds from the data."""

    # The match probability a pair needs to be linked (same as identity.match_threshold).
    threshold: float | None = Field(default=None, gt=0, lt=1)
    comparisons: list[SplinkComparisonConfig] = Field(default_factory=list)
    # Each rule: the attributes that must be equal, e.g. [last_name, city].
    blocking_rules: list[list[str]] = Field(default_factory=list)

    @field_validator("blocking_rules")
    @classmethod
    def _rules_name_attributes(cls, rules: list[list[str]]) -> list[list[str]]:
        for rule in rules:
            if not rule:
                raise ValueError("a blocking rule needs at least one attribute")
            for name in rule:
                _known_attribute(name)
        return rules


class IdentityConfig(_Strict):
    default_phone_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    match_threshold: float | None = Field(default=None, gt=0, lt=1)
    # Slashed dates of birth such as 04/12/1985 read as day/month/year (most of the world) when
    # true, month/day/year (the US) when false; unambiguous dates read the same either way.
    date_of_birth_day_first: bool = False
    # The saved match model is retrained when the data moved by more than this share.
    retrain_when_changed: float = Field(default=0.2, gt=0, le=1)
    guards: IdentityGuardsConfig = Field(default_factory=IdentityGuardsConfig)
    blocked_values: BlockedValuesConfig = Field(default_factory=BlockedValuesConfig)
    splink: SplinkConfig = Field(default_factory=SplinkConfig)
    survivorship: SurvivorshipConfig = Field(default_factory=SurvivorshipConfig)
    # Which engine scores record pairs with Splink: `duckdb` in process, or `spark` (the optional
    # `spark` extra) for data past one machine.
    backend: Literal["duckdb", "spark"] = "duckdb"
    spark: SparkSettings = Field(default_factory=SparkSettings)

    @model_validator(mode="after")
    def _one_threshold(self) -> IdentityConfig:
        both = self.match_threshold is not None and self.splink.threshold is not None
        if both and self.match_threshold != self.splink.threshold:
            raise ValueError(
                f"match_threshold ({self.match_threshold}) and splink.threshold ({self.splink.threshold}) "
                "disagree; set one of them"
            )
        return self


class IngestionConfig(_Strict):
    """How landing files are read: row size limit and the first day of the daily partitions."""

    # A row (a JSON line, a CSV record) larger than this is quarantined instead of loaded, so one
    # runaway value cannot exhaust memory; 8 MiB is far above any real event or CRM row.
    max_row_bytes: int = Field(default=8 * 2**20, ge=1024, le=2**30)
    # The first day of the daily partitions of events and orders in the Dagster UI.
    partition_start: date = date(2020, 1, 1)


class CrmSnapshotsConfig(_Strict):
    """Per-run Parquet snapshots of the `crm` tables under `KINDRED_HOME/exports/crm/`."""

    # The newest `keep` snapshots stay, older ones are removed; 0 writes none.
    keep: int = Field(default=7, ge=0, le=10_000)


class CrmSyncConfig(_Strict):
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


# What a field holds, for masking and for finding a person's values in free text (privacy:).
PiiKind = Literal[
    "email", "phone", "name", "address", "date_of_birth", "national_id", "identifier", "free_text", "none"
]
_PROMPT_NAME = r"^[a-z][a-z0-9_]{0,62}$"


class PrivacyConfig(_Strict):
    """Which fields hold personal data, and how free text is searched for it (`privacy:`)."""

    # Canonical field (`email`) or source column (`crm_contacts.MobilePhone`) -> kind. Merged over
    # the defaults of privacy.classification; `none` declares a field not personal.
    pii_fields: dict[str, PiiKind] = Field(default_factory=dict)
    # Regions whose national phone formats are searched for in free text, besides the identity
    # section's default region (numbers written with a country code are found whatever the list).
    phone_regions: list[str] = Field(
        default_factory=lambda: ["US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "CA", "AU", "BR", "MX"]
    )
    # A finding scoring below this is ignored (Presidio's scores: 0.4 for a possible phone number,
    # 1.0 for a Luhn-valid card).
    detection_threshold: float = Field(default=0.4, gt=0, le=1)

    @field_validator("pii_fields")
    def _known_fields(cls, fields: dict[str, str]) -> dict[str, str]:
        from warehouse.canonical import PERSON_ATTRIBUTES

        known = set(PERSON_ATTRIBUTES).union(*(set(f) for f in KIND_FIELDS.values()))
        for name in fields:
            source, dot, column = name.partition(".")
            if dot and source and column:
                continue
            if name not in known:
                raise ValueError(
                    f"'{name}' is neither a canonical field nor source.column (e.g. crm_contacts.MobilePhone); "
                    f"canonical fields: {', '.join(sorted(known))}"
                )
        return fields

    @field_validator("phone_regions")
    def _regions(cls, regions: list[str]) -> list[str]:
        import phonenumbers

        unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(
                f"unknown phone region {', '.join(unknown)}: use ISO 3166 codes such as US, GB, DE"
            )
        return regions


class LlmConfig(_Strict):
    """The OpenAI-compatible endpoint prompts are sent to (`llm:`); its key comes from KINDRED_LLM_API_KEY."""

    base_url: str = Field(pattern=r"^https?://[^\s/]+")
    model: str = Field(min_length=1)
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    max_tokens: int = Field(default=512, ge=1, le=32_768)
    temperature: float | None = Field(default=None, ge=0, le=2)
    # Retries after a connection error, a timeout, HTTP 429 or 5xx (the openai client's own policy).
    max_retries: int = Field(default=1, ge=0, le=5)
    # True when the endpoint refuses calls without a key (hosted APIs): a missing key then fails
    # before anything is sent. Local servers (Ollama, vLLM) usually need none.
    api_key_required: bool = False


class PromptConfig(_Strict):
    """A prompt template (`prompts:`): Jinja2 over the grounding document of one CRM record."""

    name: str = Field(pattern=_PROMPT_NAME)
    description: str = ""
    template: str = Field(min_length=1)
    system: str | None = None
    # Per-template model parameters; unset ones come from `llm:`.
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=32_768)
    top_p: float | None = Field(default=None, gt=0, le=1)

    @field_validator("template", "system")
    def _jinja_syntax(cls, text: str | None) -> str | None:
        if text is None:
            return text
        from jinja2 import TemplateSyntaxError
        from jinja2.sandbox import SandboxedEnvironment

        try:
            SandboxedEnvironment().parse(text)
        except TemplateSyntaxError as error:
            raise ValueError(f"not a valid Jinja2 template: {error.message} (line {error.lineno})") from None
        return text


class KindredConfig(_Strict):
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
    "CrmSyncConfig",
    "IngestionConfig",
    "KindredConfig",
    "SegmentConfig",
    "LlmConfig",
    "PiiKind",
    "PrivacyConfig",
    "PromptConfig",
    "ServingConfig",
    "SourceConfig",
    "SurvivorshipConfig",
    "load_config",
    "required_columns",
    "KIND_FIELDS",
]
