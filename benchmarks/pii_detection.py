"""PII detection: recall per kind on a held-out corpus, Kindred's trust layer next to plain Presidio.

Kindred's detector (privacy.detection: Presidio's pattern recognizers with Kindred's own for
names, addresses and anchored numbers) and the baseline (Presidio's predefined recognizers alone,
offline `no_op` NLP engine, the same 0.4 score threshold) read the same texts in the same run.
A value counts as found when every letter and digit of it lies inside some finding, whatever kind
the finding says: what matters for masking is that nothing is left in clear. Also measured: texts
without personal data that get a finding anyway, and texts per second (median of rounds, caches
cleared each round).

`python -m benchmarks.pii_detection` prints the figures; `make bench` writes them into BENCHMARKS.md.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable

from benchmarks.pii_held_out import BENIGN_HELD_OUT, HELD_OUT

ROUNDS = 5
THRESHOLD = 0.4
KIND_ORDER = (
    "card",
    "ssn",
    "iban",
    "email",
    "phone",
    "name",
    "address",
    "ip_address",
    "url",
    "date_of_birth",
    "national_id",
    "identifier",
)

Spans = Callable[[str], list[tuple[int, int]]]


def kindred_spans() -> tuple[Spans, Callable[[], None]]:
    """Kindred's detector, and how to clear its per-text cache."""
    from privacy import detection

    detector = detection.PiiDetector(threshold=THRESHOLD)
    detector.warm_up()
    return (
        lambda text: [(f.start, f.end) for f in detector.find(text)]
    ), detection._generic_findings.cache_clear


def presidio_spans() -> tuple[Spans, Callable[[], None]]:
    """Plain Presidio: its predefined recognizers, offline, the same threshold."""
    import tldextract

    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "none"}]}
    ).create_engine()
    # Presidio's own default registry for the engine: every predefined recognizer that runs without a model.
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    return (
        lambda text: [
            (r.start, r.end) for r in engine.analyze(text, language="en", score_threshold=THRESHOLD)
        ]
    ), (lambda: None)


def recall(spans: Spans) -> tuple[dict[str, tuple[int, int]], list[tuple[str, str]]]:
    """Per kind: (values found, values in the corpus); and the values missed, as (kind, value)."""
    found: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    missed = []
    for text, values in HELD_OUT:
        covered = {i for start, end in spans(text) for i in range(start, end)}
        for kind, value in values:
            start = text.index(value)
            needed = {i for i in range(start, start + len(value)) if text[i].isalnum()}
            total[kind] += 1
            found[kind] += needed <= covered
            if not needed <= covered:
                missed.append((kind, value))
    return {kind: (found[kind], total[kind]) for kind in KIND_ORDER if total[kind]}, missed


def false_alarms(spans: Spans) -> list[str]:
    """The texts without personal data in which something was found."""
    return [text for text in BENIGN_HELD_OUT if spans(text)]


def throughput(spans: Spans, clear: Callable[[], None]) -> float:
    """Median texts per second over the corpus and the benign texts, caches cleared each round."""
    texts = [t for t, _ in HELD_OUT] + BENIGN_HELD_OUT
    rates = []
    for _ in range(ROUNDS):
        clear()
        started = time.perf_counter()
        for text in texts:
            spans(text)
        rates.append(len(texts) / (time.perf_counter() - started))
    return statistics.median(rates)


def run() -> dict:
    """Both detectors on the held-out corpus: recall per kind, false alarms, texts per second."""
    results = {}
    for name, build in (("kindred", kindred_spans), ("presidio", presidio_spans)):
        spans, clear = build()
        per_kind, missed = recall(spans)
        results[name] = {
            "recall": per_kind,
            "missed": missed,
            "false_alarms": false_alarms(spans),
            "texts_per_second": throughput(spans, clear),
        }
    results["values"] = sum(len(values) for _, values in HELD_OUT)
    results["texts"] = len(HELD_OUT)
    results["benign"] = len(BENIGN_HELD_OUT)
    return results


def section(results: dict) -> str:
    """The BENCHMARKS.md section."""
    ours, base = results["kindred"], results["presidio"]
    lines = [
        f"Data: `benchmarks/pii_held_out.py`, {results['texts']} hostile texts holding {results['values']} personal "
        f"values (chat transcripts, forwarded emails, agent notes, web forms in several languages; some written to "
        f"dodge any pattern), and {results['benign']} texts without personal data. Held out: the recognizers were "
        "developed against `tests/privacy/pii_corpus.py` only. Found = every letter and digit of the value masked. "
        "The person's own values (names, addresses, ids from every source) are found in the forms docs/trust-layer.md "
        "lists and are not part of these figures: they are tested in `tests/privacy/test_detection.py`.",
        "",
        "| kind | Kindred trust layer | plain Presidio (same run) |",
        "|---|---|---|",
    ]
    total_ours = total_base = total = 0
    for kind, (found, count) in ours["recall"].items():
        base_found = base["recall"][kind][0]
        total_ours, total_base, total = total_ours + found, total_base + base_found, total + count
        lines.append(
            f"| {kind} | **{found}/{count}** ({found / count:.0%}) | {base_found}/{count} ({base_found / count:.0%}) |"
        )
    lines += [
        f"| **all** | **{total_ours}/{total}** ({total_ours / total:.1%}) | {total_base}/{total} ({total_base / total:.1%}) |",
        f"| texts without personal data given a finding | {len(ours['false_alarms'])}/{results['benign']} | "
        f"{len(base['false_alarms'])}/{results['benign']} |",
        f"| texts per second (median of {ROUNDS} rounds, 1 core) | {ours['texts_per_second']:,.0f} | "
        f"{base['texts_per_second']:,.0f} |",
        "",
        "Missed by Kindred: " + "; ".join(f"{kind} `{value}`" for kind, value in ours["missed"]) + ".",
        "Found in texts without personal data: "
        + "; ".join(f"`{text}`" for text in ours["false_alarms"])
        + ".",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(section(run()))
