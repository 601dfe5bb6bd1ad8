"""Everything identity resolution takes from `identity:` in kindred.yaml, as one typed value.

The pipeline builds it once from the loaded config (`MatchOptions.from_config`); `kindred
resolve` and the tests build it directly. The defaults are the documented ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from identity_resolution.attributes import ATTRIBUTE_COLUMNS
from identity_resolution.blocking import Rule
from identity_resolution.comparisons import ComparisonSpec, configured_spec
from identity_resolution.deterministic import ContactGuard
from identity_resolution.guards import BlockedValues, Guardrails

# Retrain when the data moved by more than this share since the saved model was trained.
DEFAULT_RETRAIN_SHARE = 0.2


@dataclass(frozen=True)
class MatchOptions:
    """How to match: reading values, the threshold, the guardrails, and Splink overrides."""

    default_phone_region: str = "US"
    day_first: bool = False
    # None: chosen from the data (`probabilistic.default_threshold`).
    match_threshold: float | None = None
    guards: Guardrails = field(default_factory=Guardrails)
    contact_guard: ContactGuard = field(default_factory=ContactGuard)
    blocked: BlockedValues = field(default_factory=BlockedValues)
    comparisons: tuple[ComparisonSpec, ...] = ()
    blocking_rules: tuple[Rule, ...] = ()
    retrain_share: float = DEFAULT_RETRAIN_SHARE

    def fingerprint(self) -> dict:
        """What a saved model depends on besides the data: a change retrains it (as plain JSON
        values, so it compares equal to the copy stored with the model)."""
        return json.loads(
            json.dumps(
                {
                    "comparisons": sorted(
                        (s.name, [lv.label for lv in s.levels], [lv.tf_column for lv in s.levels])
                        for s in self.comparisons
                    ),
                    "blocking_rules": sorted(list(r) for r in self.blocking_rules),
                }
            )
        )

    @classmethod
    def from_config(cls, identity) -> MatchOptions:
        """Options from the `identity` section of a loaded kindred.yaml (`warehouse.identity_config.IdentityConfig`).

        Args:
            identity: the validated section.

        Returns:
            The options.
        """
        splink = identity.splink
        threshold = splink.threshold or identity.match_threshold
        g = identity.guards
        return cls(
            default_phone_region=identity.default_phone_region,
            day_first=identity.date_of_birth_day_first,
            match_threshold=threshold,
            guards=Guardrails(
                dates_of_birth=g.dates_of_birth,
                date_of_birth_max_edits=g.date_of_birth_max_edits,
                national_ids=g.national_ids,
                national_id_max_edits=g.national_id_max_edits,
                generational_suffixes=g.generational_suffixes,
                given_names=g.given_names,
                given_name_similarity=g.given_name_similarity,
                max_cluster_size=g.max_cluster_size,
            ),
            contact_guard=ContactGuard(
                max_first_names=g.shared_contact_max_names, max_records=g.shared_contact_max_records
            ),
            blocked=BlockedValues(
                use_defaults=identity.blocked_values.use_defaults,
                email=tuple(identity.blocked_values.email),
                phone=tuple(identity.blocked_values.phone),
                national_id=tuple(identity.blocked_values.national_id),
                loyalty_id=tuple(identity.blocked_values.loyalty_id),
            ),
            comparisons=tuple(
                configured_spec(c.attribute, c.method, list(c.thresholds), c.term_frequencies)
                for c in splink.comparisons
            ),
            blocking_rules=tuple(
                tuple(dict.fromkeys(ATTRIBUTE_COLUMNS[a] for a in rule)) for rule in splink.blocking_rules
            ),
            retrain_share=identity.retrain_when_changed,
        )
