"""Prompt templates: Jinja2 over a CRM record's grounding document, checked and versioned.

A template (`prompts:` in kindred.yaml) is rendered in Jinja2's sandbox with `StrictUndefined`,
over the record's grounding document masked for the LLM (typed placeholders: `<PERSON_1>`). Its
merge fields are the document's keys (`activation.grounding_document.DOCUMENT_FIELDS`):
`{{ profile.first_name }}`, `{{ scores.churn_risk.reasons | join("; ") }}`,
`{{ next_best_offers.offers[0].offer }}`. A field the document does not have is an error when the
templates are loaded, naming the template, the field and the line; what can only fail on a
given record (`scores.lead_score.score` where the record has no lead score) fails when rendering,
with the template named, never as a silent blank.

Each template is versioned in MLflow's prompt registry under KINDRED_HOME (`prompt.<name>`): a
template whose text or model parameters changed gets a new version when next used, and the
version used is recorded with every LLM call in `audit.llm_calls`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

from activation.grounding_fields import DOCUMENT_FIELDS
from warehouse.config import KindredConfig
from warehouse.llm_config import PromptConfig

log = logging.getLogger(__name__)

REGISTRY_PREFIX = "prompt."
_ANY = object()  # a value whose inside is not checked (loop helpers, values set in the template)
_METHODS = {"items", "keys", "values", "get"}
_ENVIRONMENT = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
)


class PromptError(ValueError):
    """A template is unknown, names a merge field the document lacks, or fails to render.

    The message names the template (and the field), never a value of the record.
    """


@dataclass(frozen=True)
class PromptTemplate:
    """One prompt template from kindred.yaml, compiled.

    Attributes:
        config: the template's settings as written.
        fields: the merge fields it uses, as dotted paths (`profile.first_name`), sorted.
    """

    config: PromptConfig
    fields: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        """The template's name."""
        return self.config.name

    @property
    def sections(self) -> list[str]:
        """The document sections the template reads (`profile`, `scores`, ...), for the audit log."""
        return sorted({f.split(".")[0].split("[")[0] for f in self.fields})

    @property
    def content_hash(self) -> str:
        """A hash of everything that makes a version: texts and model parameters."""
        settings = self.config.model_dump(exclude={"name", "description"})
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()

    def render(self, document: dict) -> list[dict[str, str]]:
        """The chat messages for one document: the system message (if any), then the user message.

        Args:
            document: the (masked) grounding document.

        Returns:
            `[{"role": "system", "content": ...}, {"role": "user", "content": ...}]`.

        Raises:
            PromptError: the template fails on this document (a field it has no value for).
        """
        messages = []
        if self.config.system:
            messages.append({"role": "system", "content": self._render(self.config.system, document)})
        messages.append({"role": "user", "content": self._render(self.config.template, document)})
        return messages

    def _render(self, text: str, document: dict) -> str:
        try:
            return _ENVIRONMENT.from_string(text).render(document).strip()
        except TemplateError as error:
            raise PromptError(
                f"prompt '{self.name}' cannot be rendered for this record: {error.message}"
            ) from None


class PromptLibrary:
    """The templates of a kindred.yaml, each checked against the grounding document's fields.

    Args:
        prompts: the `prompts:` entries.

    Raises:
        PromptError: a template uses a merge field the document does not have.
    """

    def __init__(self, prompts: Iterable[PromptConfig]) -> None:
        self._templates: dict[str, PromptTemplate] = {}
        for prompt in prompts:
            used: set[str] = set()
            for text in (prompt.system, prompt.template):
                if text is not None:
                    used.update(check_fields(prompt.name, text))
            # The deepest paths only: `profile.first_name` says `profile` already.
            leaves = {f for f in used if not any(o.startswith((f + ".", f + "[")) for o in used)}
            self._templates[prompt.name] = PromptTemplate(prompt, tuple(sorted(leaves)))

    @classmethod
    def from_config(cls, config: KindredConfig) -> PromptLibrary:
        """The library of a loaded kindred.yaml."""
        return cls(config.prompts)

    def get(self, name: str) -> PromptTemplate:
        """One template by name.

        Raises:
            PromptError: no template has that name; the message lists those that exist.
        """
        template = self._templates.get(name)
        if template is None:
            known = ", ".join(sorted(self._templates)) or "none: add a `prompts:` section to kindred.yaml"
            raise PromptError(f"no prompt template named '{name}' (templates: {known})")
        return template

    def __iter__(self):
        return iter(self._templates.values())

    def __len__(self) -> int:
        return len(self._templates)


def check_fields(name: str, text: str) -> list[str]:
    """The merge fields a template uses, after checking each against the grounding document.

    Args:
        name: the template's name, for messages.
        text: the template text.

    Returns:
        The dotted paths used (`profile.first_name`, `next_best_offers.offers[].offer`).

    Raises:
        PromptError: a field the document does not have, named with its line and what exists there.
    """
    try:
        tree = _ENVIRONMENT.parse(text)
    except TemplateError as error:
        raise PromptError(f"prompt '{name}': not a valid Jinja2 template: {error.message}") from None
    used: list[str] = []
    problems: list[str] = []
    _visit(tree, {}, used, problems)
    if problems:
        raise PromptError(f"prompt '{name}': {problems[0]}")
    return used


def _visit(node: nodes.Node, scope: dict[str, Any], used: list[str], problems: list[str]) -> None:
    if isinstance(node, nodes.For):
        items = _resolve(node.iter, scope, used, problems)
        inner = {**scope, "loop": (_ANY, "loop")}
        element = items[0][0] if isinstance(items[0], list) and items[0] else _ANY
        for target in _names(node.target):
            inner[target] = (element if isinstance(node.target, nodes.Name) else _ANY, f"{items[1]}[]")
        for child in [*node.body, *([node.test] if node.test else [])]:
            _visit(child, inner, used, problems)
        for child in node.else_:
            _visit(child, scope, used, problems)
        return
    if isinstance(node, nodes.Assign | nodes.AssignBlock):
        for target in _names(node.target):
            scope[target] = (_ANY, target)
    if isinstance(node, nodes.Macro | nodes.CallBlock):
        scope = {**scope, **{arg.name: (_ANY, arg.name) for arg in node.args}}
    if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
        _resolve(node, scope, used, problems)
        return
    for child in node.iter_child_nodes():
        _visit(child, scope, used, problems)


def _resolve(
    node: nodes.Node, scope: dict[str, Any], used: list[str], problems: list[str]
) -> tuple[Any, str]:
    """The schema a name or attribute chain points at, and its dotted path; problems noted."""
    if isinstance(node, nodes.Name):
        if node.name in scope:
            return scope[node.name]
        if node.name in DOCUMENT_FIELDS:
            used.append(node.name)
            return DOCUMENT_FIELDS[node.name], node.name
        problems.append(
            f"unknown merge field '{node.name}' (line {node.lineno}); the document has: "
            f"{', '.join(DOCUMENT_FIELDS)}"
        )
        return _ANY, node.name
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Slice):
        # A slice of a list is a list of the same items (`recent_activity.events[:3]`).
        return _resolve(node.node, scope, used, problems)
    if isinstance(node, nodes.Getattr | nodes.Getitem):
        base, path = _resolve(node.node, scope, used, problems)
        key = node.attr if isinstance(node, nodes.Getattr) else _constant(node.arg)
        if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Const):
            _visit(node.arg, scope, used, problems)
        return _step(base, path, key, node.lineno, used, problems)
    _visit(node, scope, used, problems)
    return _ANY, "?"


def _step(base: Any, path: str, key: Any, line: int, used: list[str], problems: list[str]) -> tuple[Any, str]:
    if base is _ANY or key is _ANY:
        return _ANY, path
    if isinstance(base, list):
        if isinstance(key, int):
            return (base[0] if base else _ANY), f"{path}[]"
        return _ANY, path  # a list's own attributes (`|length` is a filter, not this)
    if isinstance(base, dict):
        if key in base or "*" in base:
            here = f"{path}.{key}"
            used.append(here)
            return base.get(key, base.get("*")), here
        if key in _METHODS:
            return _ANY, path
        wrong = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"
        problems.append(
            f"unknown merge field '{wrong}' (line {line}); {path} has: {', '.join(base) or 'nothing'}"
        )
        return _ANY, wrong
    # A plain value: its string methods (`.upper()`) are fine.
    return _ANY, path


def _constant(node: nodes.Node) -> Any:
    return node.value if isinstance(node, nodes.Const) else _ANY


def _names(target: nodes.Node) -> list[str]:
    if isinstance(target, nodes.Name):
        return [target.name]
    if isinstance(target, nodes.Tuple):
        return [n.name for n in target.items if isinstance(n, nodes.Name)]
    return []


_VERSIONS: dict[tuple[str, str, str], str] = {}
_VERSIONS_LOCK = threading.Lock()


def registered_version(template: PromptTemplate, *, register: bool = True) -> str | None:
    """The template's version in MLflow's prompt registry under KINDRED_HOME, registered if new.

    A template is registered as `prompt.<name>` with its messages, its model parameters and a
    hash of both as the `kindred.content_sha256` tag; the latest version is reused while the hash
    is the same, and a changed template becomes the next version.

    Args:
        template: the template.
        register: register a new version when the template changed (False: only look up).

    Returns:
        The version number as text; None when `register` is False and no version matches.
    """
    from models.registry import tracking_uri

    uri = tracking_uri()
    key = (uri, template.name, template.content_hash)
    with _VERSIONS_LOCK:
        if key in _VERSIONS:
            return _VERSIONS[key]
        version = _lookup_or_register(uri, template, register=register)
        if version is not None:
            _VERSIONS[key] = version
        return version


def _lookup_or_register(uri: str, template: PromptTemplate, *, register: bool) -> str | None:
    # Telemetry would try the network; a self-hosted CDP does not phone home.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # A client of its own: MLflow's process-wide tracking and registry URIs are left alone.
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    registry_name = REGISTRY_PREFIX + template.name
    latest = client.load_prompt(f"prompts:/{registry_name}@latest", allow_missing=True)
    if latest is not None and latest.tags.get("kindred.content_sha256") == template.content_hash:
        return str(latest.version)
    if not register:
        return None
    config = template.config
    messages = ([{"role": "system", "content": config.system}] if config.system else []) + [
        {"role": "user", "content": config.template}
    ]
    parameters = {
        "model_name": config.model,
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
        "top_p": config.top_p,
    }
    created = client.register_prompt(
        name=registry_name,
        template=messages,
        commit_message=config.description or f"{template.name} from kindred.yaml",
        tags={"kindred.content_sha256": template.content_hash},
        model_config={k: v for k, v in parameters.items() if v is not None} or None,
    )
    log.info("prompt %s registered as version %s", template.name, created.version)
    return str(created.version)
