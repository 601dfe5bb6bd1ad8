"""`make bench`: every benchmark, side by side with its baseline, written into BENCHMARKS.md."""

from __future__ import annotations

import logging
import sys

from benchmarks import (
    consent_read,
    crm_sync,
    identity_accuracy,
    identity_as_of,
    identity_scale,
    ingest_throughput,
    models_public,
    models_scoring,
    models_targets,
    pii_detection,
    segment_export,
    serving_load,
    suppression_staging,
    survivorship_scale,
)
from benchmarks.report import write_section


def models_section() -> str:
    """telco, bank marketing and online retail: our training pipeline next to LightGBM defaults."""
    r = models_public.run_benchmarks()
    t, b, o = r["telco_churn"], r["bank_marketing"], r["online_retail"]
    lines = [
        "Classifiers: 5-fold cross-validation, ours (Kindred's pipeline: preprocessing, LightGBM, Platt calibration) "
        "next to LightGBM defaults in the same run. Next purchase: the last month of Online Retail held out, "
        "10 products recommended per customer seen before it.",
        "",
        "| data | metric | Kindred | plain baseline (same run) | reference (datasets README) |",
        "|---|---|---|---|---|",
        f"| telco_churn ({t['rows']:,} rows) | ROC-AUC | **{t['kindred_roc_auc']:.3f}** | {t['lgbm_default_roc_auc']:.3f} | {t['reference_roc_auc']:.3f} |",
        f"| | PR-AUC | **{t['kindred_pr_auc']:.3f}** | {t['lgbm_default_pr_auc']:.3f} | {t['reference_pr_auc']:.3f} |",
        f"| bank_marketing without `duration` ({b['rows']:,} rows) | ROC-AUC | **{b['kindred_roc_auc']:.3f}** | {b['lgbm_default_roc_auc']:.3f} | {b['reference_roc_auc']:.3f} |",
        f"| | PR-AUC | **{b['kindred_pr_auc']:.3f}** | {b['lgbm_default_pr_auc']:.3f} | {b['reference_pr_auc']:.3f} |",
        f"| online_retail ({o['customers_ranked']:,} customers) | HR@10 | **{o['kindred_hr_at_10']:.3f}** | {o['baseline_hr_at_10']:.3f} | {o['reference_hr_at_10']:.3f} |",
        f"| | Recall@10 | **{o['kindred_recall_at_10']:.3f}** | {o['baseline_recall_at_10']:.3f} | {o['reference_recall_at_10']:.3f} |",
        f"| | HR@1 | **{o['kindred_hr_at_1']:.3f}** | {o['baseline_hr_at_1']:.3f} | |",
        "",
        "The plain next-purchase baseline is each customer's own most-bought products, then popular ones, on the "
        "same split as ours; the README's reference used another split.",
    ]
    return "\n".join(lines)


SECTIONS = {
    "Identity resolution accuracy": lambda: identity_accuracy.section(identity_accuracy.run()),
    "Identity resolution at a million records": lambda: identity_scale.section(identity_scale.run()),
    "Models on public data": models_section,
    "Ingestion throughput": lambda: ingest_throughput.section(ingest_throughput.run()),
    consent_read.SECTION: lambda: consent_read.section(consent_read.run()),
    segment_export.SECTION: lambda: segment_export.section(segment_export.run()),
    crm_sync.SECTION: lambda: crm_sync.section(crm_sync.run()),
    suppression_staging.SECTION: lambda: suppression_staging.section(suppression_staging.run()),
    "PII detection": lambda: pii_detection.section(pii_detection.run()),
    serving_load.SECTION: lambda: serving_load.section(serving_load.run()),
    models_targets.SECTION: lambda: models_targets.section(models_targets.run()),
    models_scoring.SECTION: lambda: models_scoring.section(models_scoring.run()),
    survivorship_scale.SECTION: lambda: survivorship_scale.section(survivorship_scale.run()),
    identity_as_of.SECTION: lambda: identity_as_of.section(
        identity_as_of.run(demo=identity_as_of.demo_warehouse())
    ),
}


def main(names: list[str]) -> None:
    """Run the named sections (all when none are named) and write them into BENCHMARKS.md."""
    logging.basicConfig(level=logging.WARNING)
    for heading, build in SECTIONS.items():
        if not names or any(n.lower() in heading.lower() for n in names):
            print(f"running: {heading}")
            write_section(heading, build())
    print("BENCHMARKS.md updated")


if __name__ == "__main__":
    main(sys.argv[1:])
