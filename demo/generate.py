"""Generate the synthetic demo company: eight sources, a consent export and their ground truth, from one seed.

Usage:
    from pathlib import Path
    from demo.generate import generate_demo_data
    summary = generate_demo_data(Path("data/demo"), people=3000, seed=7)

The same `people`, `seed` and rates always give byte-identical files.
"""

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from faker import Faker

from demo.campaigns import simulate_email
from demo.catalog import build_catalog
from demo.consent import consent_rng, plan_consent, write_preferences, write_truth
from demo.crm_records import build_crm_records
from demo.ground_truth import write_people, write_records
from demo.identifiers import loyalty_numbers
from demo.lifecycle import simulate_lifecycles
from demo.messiness import MessRates
from demo.pools import build_pools
from demo.population import build_population
from demo.profiles import build_account_profiles, build_lead_forms
from demo.purchases import simulate_orders
from demo.sessions import simulate_clickstream
from demo.sources.app_events import write_app_events
from demo.sources.crm_contacts import write_crm_contacts
from demo.sources.crm_leads import write_crm_leads
from demo.sources.email_events import write_email_events
from demo.sources.shop_orders import write_shop_orders
from demo.sources.store_orders import write_store_orders
from demo.sources.support_cases import write_support_cases
from demo.sources.web_events import write_web_events
from demo.sources.written import WrittenSource

logger = logging.getLogger(__name__)

# The top-level entries the generator owns inside `out`; anything else there is left alone.
OWNED = ("events", "orders", "crm", "consent", "ground_truth")


@dataclass(frozen=True)
class DemoSummary:
    """What `generate_demo_data` wrote.

    Attributes:
        out: the demo data folder.
        people: number of true people.
        seed: the seed used.
        files: every file written, relative to `out`, sorted.
        rows: data rows per source (JSON lines or CSV rows).
        records: distinct person keys (ground-truth records) per source.
        seconds: wall-clock generation time.
    """

    out: Path
    people: int
    seed: int
    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def describe(self) -> str:
        """A short human-readable account: one line per source, then the totals.

        Returns:
            Text for a terminal.
        """
        width = max(len(name) for name in self.rows) if self.rows else 0
        lines = [
            f"{name:<{width}}  {rows:>10,} rows  {self.records[name]:>8,} records"
            for name, rows in self.rows.items()
        ]
        lines.append(
            f"{self.people:,} people (seed {self.seed}), {len(self.files)} files under {self.out} in {self.seconds:.1f} s"
        )
        return "\n".join(lines)


def _write_all(
    target: Path, n_people: int, seed: int, rates: MessRates
) -> tuple[list[WrittenSource], list[Path]]:
    """Simulate the company and write every source and the ground truth into `target`.

    Returns:
        What each source writer produced, and the other files written (the preference centre's
        consent export).
    """
    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    pools = build_pools(fake, rng)
    people, _companies = build_population(n_people, fake, rng, pools, rates)
    catalog = build_catalog(rng)
    lifecycles = simulate_lifecycles(people, rng)
    orders = simulate_orders(people, lifecycles, catalog, rng)
    profiles = build_account_profiles(people, lifecycles, rng, rates)
    forms = build_lead_forms(people, lifecycles.leads, rng, rates)
    loyalty = lifecycles.loyalty.sort("loyalty_joined", "pidx")
    loyalty = loyalty.with_columns(
        loyalty_number=pl.Series(loyalty_numbers(loyalty.height, rng), dtype=pl.String)
    )
    leads, contacts = build_crm_records(people, lifecycles, rng, rates)
    clickstream = simulate_clickstream(
        people, lifecycles, orders, catalog, profiles.select("pidx", "account_id", "account_created"), rng
    )
    email = simulate_email(people, lifecycles, rng)
    consent = plan_consent(people, lifecycles, leads, contacts, email, consent_rng(seed))

    written = [
        write_web_events(target, clickstream, catalog, orders, profiles, forms, people, rng),
        write_app_events(target, clickstream, catalog, orders, profiles, forms, people, rng),
        write_email_events(target, email, people, rng),
        write_shop_orders(target, orders, catalog, profiles, people, pools, rng, rates),
        write_store_orders(target, orders, catalog, loyalty, people, rng, rates),
        write_crm_leads(target, leads, contacts, forms, people, pools, rng, rates, consent.lead_flags),
        write_crm_contacts(
            target, contacts, loyalty, profiles, people, pools, rng, rates, consent.contact_flags
        ),
        write_support_cases(target, lifecycles.cases, contacts, people, rng, rates),
    ]
    write_records(target, written, people)
    write_people(
        target, people, lifecycles, profiles, loyalty, leads.rename({"created_at": "lead_created_at"})
    )
    write_truth(target, consent)
    return written, [write_preferences(target, consent)]


def generate_demo_data(
    out: Path, people: int = 3000, seed: int = 7, rates: MessRates | None = None
) -> DemoSummary:
    """Write the seeded synthetic company's sources and its ground truth under `out`.

    Files are built in a temporary folder next to `out` and moved into place only when all of
    them are written, replacing the previous `events/`, `orders/`, `crm/`, `consent/` and `ground_truth/`.

    Args:
        out: the demo data folder (created if needed), e.g. `data/demo`.
        people: number of true people (at least 50).
        seed: the seed; the same seed and size give byte-identical files.
        rates: how messy the sources are; `MessRates()` when omitted.

    Returns:
        A `DemoSummary` with the files, rows and records per source.

    Raises:
        ValueError: if `people` is below 50.
    """
    if people < 50:
        raise ValueError(f"people must be at least 50 to populate every source, got {people}")
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}-", dir=out.parent) as scratch:
        target = Path(scratch)
        written, others = _write_all(target, people, seed, rates or MessRates())
        for name in OWNED:
            if (out / name).exists():
                shutil.rmtree(out / name)
            if (target / name).exists():
                shutil.move(str(target / name), str(out / name))
        files = sorted(p.relative_to(target) for p in [*(p for s in written for p in s.files), *others])
    files += [Path("ground_truth") / name for name in ("records.csv", "people.csv", "consent.csv")]
    summary = DemoSummary(
        out=out,
        people=people,
        seed=seed,
        files=files,
        rows={s.name: s.rows for s in written},
        records={s.name: s.records.height for s in written},
        seconds=round(time.perf_counter() - started, 2),
    )
    logger.info(
        "demo data: %d people, %d files, %d rows in %.1f s under %s",
        people,
        len(files),
        sum(summary.rows.values()),
        summary.seconds,
        out,
    )
    return summary
