"""Masking of personal data before it leaves Kindred for a CRM field or a copilot document.

The contract, applied everywhere a copilot or rep sees a person (display masking):

- emails keep their first character and the domain: `jane.doe@example.com` -> `j***@example.com`
  (a domain label holding the person's last name, as in `jane@doe-family.net`, is masked too);
- phones keep only their last digits: `+14155550101` -> `***-***-0101` (4 digits kept from
  numbers of 10 digits or more, 2 from shorter ones, none below 6 digits);
- first names stay (a copilot greets the person), last names shrink to an initial: `Doe` -> `D.`;
- free text (case subjects, descriptions, event names) is searched by the trust layer
  (`privacy.detection`: Presidio's recognizers and Kindred's, plus the person's own values):
  cards keep their last 4 digits, IBANs their country, other people's names become initials,
  national ids, street addresses and dates of birth become `[SSN]`, `[ADDRESS]`, ...

Every function is idempotent: masking masked text returns it unchanged. The value forms live in
`privacy.display` and the detection in `privacy.detection`; this module keeps the activation
face they had: `mask_email`, `mask_phone`, `mask_name`, `scrub_text` and `TextScrubber`.
"""

from __future__ import annotations

from collections.abc import Iterable

from privacy.detection import DEFAULT_PHONE_REGIONS, PiiDetector
from privacy.display import mask_email, mask_name, mask_phone
from privacy.known import KnownPii
from privacy.masking import DisplayStyle, Masker, default_detector

__all__ = ["TextScrubber", "mask_email", "mask_name", "mask_phone", "scrub_text"]


def scrub_text(
    text: str | None,
    *,
    region: str = "US",
    emails: Iterable[str | None] = (),
    phones: Iterable[str | None] = (),
    last_names: Iterable[str | None] = (),
) -> str | None:
    """Mask everything personal inside free text, and the person's known identifiers.

    To scrub many texts of one person, build a `TextScrubber` once instead.

    Args:
        text: the free text (case subject, description, event name, ...).
        region: the region for phone numbers written without a country code.
        emails: the person's known email addresses.
        phones: the person's known phone numbers, in any format.
        last_names: the person's known last names; each whole-word occurrence becomes its initial.

    Returns:
        The text with every finding masked for display; None for None.

    Example:
        >>> scrub_text("Reach Jane Doe at jane+crm@example.com or (415) 555-0101", last_names=["Doe"])
        'Reach Jane D. at j***@example.com or ***-***-0101'
    """
    return TextScrubber(region=region, emails=emails, phones=phones, last_names=last_names)(text)


class TextScrubber:
    """`scrub_text` for one person, built once and applied to many texts.

    Args:
        region: the region for phone numbers written without a country code.
        emails: the person's known email addresses.
        phones: the person's known phone numbers, in any format.
        last_names: the person's known last names.
        known: everything else known about the person (names, addresses, ids), added to the above.
        detector: the detector to use (the process's default for `region` otherwise).

    Example:
        >>> scrub = TextScrubber(phones=["+1 415 555 0101"], last_names=["Doe"])
        >>> scrub("Mrs DOE asked to be called on 415/555/0101")
        'Mrs D. asked to be called on ***-***-0101'
    """

    def __init__(
        self,
        *,
        region: str = "US",
        emails: Iterable[str | None] = (),
        phones: Iterable[str | None] = (),
        last_names: Iterable[str | None] = (),
        known: KnownPii | None = None,
        detector: PiiDetector | None = None,
    ) -> None:
        self.region = region
        collected = KnownPii()
        if known is not None:
            collected.merge(known)
        collected.add_all("email", emails)
        collected.add_all("phone", phones)
        collected.add_all("name", last_names, part="last")
        self.known = collected
        if detector is None:
            detector = _detector_for(region)
        private = [n for n in collected.of("name") if collected.name_parts.get(n) == "last"]
        self._masker = Masker(
            DisplayStyle(region=region, private_words=private),
            known=collected,
            detector=detector,
            region=region,
        )

    def __call__(self, text: str | None) -> str | None:
        """Scrub one text (free text: everything personal is masked)."""
        return self._masker.text(text)

    def identifier(self, value: str | None) -> str | None:
        """Scrub an identifier or label (order id, product category, offer id).

        Emails and the person's own values are masked as in free text, but unknown digit runs are
        left alone: a long order number is not a phone, and masking it would make it useless.
        """
        return self._masker.label(value)

    def mask_email(self, email: str | None) -> str | None:
        """`mask_email` with this person's last names hidden from the domain too."""
        return mask_email(email, private_words=self._masker.style.private_words)


def _detector_for(region: str) -> PiiDetector:
    regions = (region, *DEFAULT_PHONE_REGIONS)
    detector = default_detector()
    if detector.phone_regions[0] == region:
        return detector
    return PiiDetector(phone_regions=regions, threshold=detector.threshold)
