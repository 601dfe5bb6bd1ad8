"""The code location loads, covers every contract table, and Dagster stays inside pipelines/."""

import ast
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs

REPO = Path(__file__).resolve().parents[2]
LIBRARIES = ("warehouse", "identity_resolution", "feature_store", "models", "activation", "privacy", "demo")


def load(monkeypatch) -> dg.Definitions:
    monkeypatch.setenv("KINDRED_CONFIG", str(REPO / "kindred.yaml"))
    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    return definitions


def test_definitions_load_with_every_stage(monkeypatch):
    definitions = load(monkeypatch)
    keys = {key.to_user_string() for key in definitions.resolve_asset_graph().get_all_asset_keys()}
    for table in (
        "staging/people",
        "staging/events",
        "staging/orders",
        "staging/cases",
        "identity/record_xref",
        "profiles/unified_profile",
        "profiles/consent",
        "features/profile_features",
        "scores/lead_score",
        "scores/churn_risk",
        "scores/next_best_offer",
        "crm/record_scores",
        "crm/grounding",
        "audit/access_log",
        "audit/llm_calls",
    ):
        assert table in keys
    assert {k for k in keys if k.startswith("raw/")} == {
        "raw/web_events",
        "raw/app_events",
        "raw/email_events",
        "raw/shop_orders",
        "raw/store_orders",
        "raw/crm_leads",
        "raw/crm_contacts",
        "raw/support_cases",
    }


def test_every_asset_has_a_group_and_a_description(monkeypatch):
    graph = load(monkeypatch).resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name in {
            "ingest",
            "staging",
            "identity",
            "privacy",
            "features",
            "models",
            "activation",
            "serving",
        }, key
        assert node.description, key


def test_only_pipelines_imports_dagster():
    offenders = []
    for package in LIBRARIES:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                )
                if any(n == "dagster" or n.startswith("dagster.") or n.startswith("dagster_") for n in names):
                    offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
