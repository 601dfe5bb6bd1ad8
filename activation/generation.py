"""Grounded generation: a prompt template, a CRM record, an OpenAI-compatible LLM, and the trust layer between.

`generate` renders a template over the record's grounding document masked with typed
placeholders (`<PERSON_1>`, `<EMAIL_1>`: the mapping stays in this process, in the request's
`Vault`), masks the rendered prompt once more, sends it to the endpoint configured in `llm:`
through the `openai` client, masks whatever personal data the answer holds, puts the values back
for a caller allowed to see them (`pii_reader`; a `reader` gets the masked answer), and audits
the call in `audit.llm_calls` (masked prompt and answer, model, endpoint host, template version,
tokens, latency) and the read in `audit.access_log`. Nothing personal is sent, logged or audited
in clear; the endpoint's key comes only from `KINDRED_LLM_API_KEY`.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import duckdb

from activation.grounding import record_grounding
from activation.grounding_fields import mask_document
from activation.prompts import PromptLibrary, PromptTemplate, registered_version
from privacy.audit import AuditLog, audit_log, new_request_id
from privacy.callers import Caller
from privacy.classification import Classification
from privacy.masking import Masker, PlaceholderStyle, default_detector
from privacy.tokens import Vault
from warehouse.config import KindredConfig
from warehouse.llm_config import LlmConfig

log = logging.getLogger(__name__)

LLM_KEY_ENV = "KINDRED_LLM_API_KEY"
_MESSAGE_CHARS = 200


class GenerationError(RuntimeError):
    """A generation could not be made; the message says why and what to fix, and holds no personal data."""


class LlmKeyMissing(GenerationError):
    """The endpoint needs a key and `KINDRED_LLM_API_KEY` is not set."""


class LlmEndpointError(GenerationError):
    """The LLM endpoint is down, timed out, refused the call or answered with an error."""


@dataclass
class Generation:
    """The result of one generation.

    Attributes:
        answer: what the caller may see: unmasked for a `pii_reader`, masked for a `reader`.
        masked_answer: the answer with placeholders, as audited.
        unmasked: whether `answer` has the values put back.
        template: the template's name.
        template_version: its version in MLflow's prompt registry.
        model: the model that answered.
        request_id: the id of the audit rows of this request.
        prompt: the masked messages sent (None for nothing sent).
        prompt_tokens: tokens the endpoint counted for the prompt.
        completion_tokens: tokens it counted for the answer.
        latency_ms: the call's duration.
        placeholders: how many placeholders of each kind the prompt held.
    """

    answer: str
    masked_answer: str
    unmasked: bool
    template: str
    template_version: str | None
    model: str
    request_id: str
    prompt: list[dict[str, str]] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    placeholders: dict[str, int] = field(default_factory=dict)


@dataclass
class MaskedPrompt:
    """A template rendered for one record and masked: what would be sent, and how to undo it."""

    template: PromptTemplate
    messages: list[dict[str, str]]
    vault: Vault
    masker: Masker
    profile_id: str | None


def masked_prompt(
    con: duckdb.DuckDBPyConnection,
    template: PromptTemplate,
    crm_object: str,
    crm_record_id: str,
    *,
    config: KindredConfig,
    source: str | None = None,
) -> MaskedPrompt:
    """Render a template over one record's document masked with typed placeholders, then mask the result.

    Args:
        con: warehouse connection (read-only is enough).
        template: the template.
        crm_object: the CRM object.
        crm_record_id: the CRM record's id.
        config: the loaded kindred.yaml.
        source: the people source, when two hold the same object and id.

    Returns:
        The masked messages, with the vault that can unmask the answer.

    Raises:
        LookupError: no such record. ValueError: the record is in several sources.
        PromptError: the template fails on this record.
    """
    record = record_grounding(con, crm_object, crm_record_id, source=source, config=config)
    vault = Vault(region=record.region)
    masker = Masker(
        PlaceholderStyle(vault), known=record.known, detector=default_detector(config), region=record.region
    )
    document = mask_document(record.document, masker, Classification.from_config(config.privacy))
    # The template's own text could hold personal data too (a name typed into it): mask it all.
    messages = [
        {"role": m["role"], "content": masker.text(m["content"]) or ""} for m in template.render(document)
    ]
    return MaskedPrompt(template, messages, vault, masker, record.profile_id)


def generate(
    con: duckdb.DuckDBPyConnection,
    template_name: str,
    crm_object: str,
    crm_record_id: str,
    *,
    caller: Caller,
    config: KindredConfig,
    source: str | None = None,
    library: PromptLibrary | None = None,
    audit: AuditLog | None = None,
) -> Generation:
    """Generate text for one CRM record with a prompt template, through the trust layer.

    Args:
        con: warehouse connection (read-only is enough).
        template_name: the template's name in `prompts:`.
        crm_object: the CRM object (`Lead`, `Contact`, ...).
        crm_record_id: the CRM record's id.
        caller: who asks; a `pii_reader` gets the answer unmasked, a `reader` masked.
        config: the loaded kindred.yaml (`llm:`, `prompts:`, `privacy:`).
        source: the people source, when two hold the same object and id.
        library: the compiled templates (built from `config` when None).
        audit: where to audit (this process's log under KINDRED_HOME when None).

    Returns:
        The answer and what was audited.

    Raises:
        PromptError: unknown template, or it fails on this record.
        LookupError: no such CRM record. ValueError: the record is in several sources.
        LlmKeyMissing, LlmEndpointError, GenerationError: no `llm:` section, no key where one is
            needed, the endpoint down, slow, refusing or failing.
    """
    audit = audit or audit_log()
    request_id = new_request_id()
    template = (library or PromptLibrary.from_config(config)).get(template_name)
    llm = _llm_settings(config)
    key = os.environ.get(LLM_KEY_ENV, "").strip() or None
    if llm.api_key_required and key is None:
        raise LlmKeyMissing(
            f"the LLM endpoint at {endpoint_host(llm.base_url)} needs a key (llm.api_key_required): set {LLM_KEY_ENV}"
        )
    read = {
        "resource": "grounding",
        "action": "generate",
        "crm_object": crm_object,
        "crm_record_id": crm_record_id,
        "request_id": request_id,
    }
    try:
        prompt = masked_prompt(con, template, crm_object, crm_record_id, config=config, source=source)
    except LookupError:
        audit.record_access(caller, **read, outcome="not_found")
        raise
    unmasked = caller.may_see_pii
    audit.record_access(
        caller, **read, profile_id=prompt.profile_id, fields=template.sections, masked=not unmasked
    )
    version = registered_version(template)
    model = template.config.model or llm.model
    audited = {
        "template": template.name,
        "template_version": version,
        "model": model,
        "endpoint_host": endpoint_host(llm.base_url),
        "prompt": prompt.messages,
        "placeholders": prompt.vault.counts(m["content"] for m in prompt.messages),
        "crm_object": crm_object,
        "crm_record_id": crm_record_id,
        "profile_id": prompt.profile_id,
        "request_id": request_id,
    }
    started = time.perf_counter()
    try:
        answer, usage = _complete(llm, template, model, prompt.messages, key)
    except GenerationError as error:
        audit.record_llm_call(
            caller,
            **audited,
            response=None,
            latency_ms=(time.perf_counter() - started) * 1000,
            outcome="error",
            error=str(error),
        )
        raise
    latency_ms = (time.perf_counter() - started) * 1000
    # The answer can hold personal data the model made up or repeated in another form: mask it
    # with the same vault, so a pii_reader still gets every value back.
    masked_answer = prompt.masker.text(answer) or ""
    audit.record_llm_call(
        caller,
        **audited,
        response=masked_answer,
        prompt_tokens=usage[0],
        completion_tokens=usage[1],
        latency_ms=latency_ms,
        answer_unmasked=unmasked,
    )
    shown = prompt.vault.unmask(masked_answer, caller) if unmasked else masked_answer
    log.info("generated %s for %s %s in %.0f ms", template.name, crm_object, crm_record_id, latency_ms)
    return Generation(
        answer=shown or "",
        masked_answer=masked_answer,
        unmasked=unmasked,
        template=template.name,
        template_version=version,
        model=model,
        request_id=request_id,
        prompt=prompt.messages,
        prompt_tokens=usage[0],
        completion_tokens=usage[1],
        latency_ms=latency_ms,
        placeholders=audited["placeholders"],
    )


def endpoint_host(base_url: str) -> str:
    """The endpoint's host and port, for messages and the audit log (never a path or credentials)."""
    parts = urlsplit(base_url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def _llm_settings(config: KindredConfig) -> LlmConfig:
    if config.llm is None:
        raise GenerationError(
            "kindred.yaml has no `llm:` section: add one with base_url and model, "
            "e.g. llm: {base_url: http://127.0.0.1:11434/v1, model: llama3.1}"
        )
    return config.llm


def _complete(
    llm: LlmConfig, template: PromptTemplate, model: str, messages: list[dict[str, str]], key: str | None
) -> tuple[str, tuple[int | None, int | None]]:
    """One chat completion; the answer's text and the token counts. Errors say what to fix."""
    import openai

    host = endpoint_host(llm.base_url)
    client = openai.OpenAI(
        base_url=llm.base_url,
        # The client insists on a key; without one, the Authorization header is left out below.
        api_key=key or "no-key",
        timeout=llm.timeout_seconds,
        max_retries=llm.max_retries,
    )
    options: dict = {
        "max_tokens": template.config.max_tokens or llm.max_tokens,
    }
    temperature = template.config.temperature if template.config.temperature is not None else llm.temperature
    if temperature is not None:
        options["temperature"] = temperature
    if template.config.top_p is not None:
        options["top_p"] = template.config.top_p
    if key is None:
        options["extra_headers"] = {"Authorization": openai.omit}
    try:
        response = client.chat.completions.create(model=model, messages=messages, **options)
    except openai.APITimeoutError:
        raise LlmEndpointError(
            f"the LLM endpoint at {host} did not answer within {llm.timeout_seconds:g} s (llm.timeout_seconds)"
        ) from None
    except openai.APIConnectionError:
        raise LlmEndpointError(
            f"cannot reach the LLM endpoint at {host} ({llm.base_url}): is it running, and is llm.base_url right?"
        ) from None
    except openai.APIStatusError as error:
        raise LlmEndpointError(_status_message(error, host, model, key is not None)) from None
    finally:
        client.close()
    choices = getattr(response, "choices", None) or []
    content = choices[0].message.content if choices and choices[0].message else None
    if not content:
        raise LlmEndpointError(f"the LLM endpoint at {host} answered without any text (model {model})")
    usage = getattr(response, "usage", None)
    return content, (
        getattr(usage, "prompt_tokens", None) if usage else None,
        getattr(usage, "completion_tokens", None) if usage else None,
    )


def _status_message(error, host: str, model: str, has_key: bool) -> str:
    status = getattr(error, "status_code", None)
    if status in (401, 403):
        if has_key:
            return f"the LLM endpoint at {host} refused the key in {LLM_KEY_ENV} (HTTP {status})"
        return f"the LLM endpoint at {host} refused the call without a key (HTTP {status}): set {LLM_KEY_ENV}"
    if status == 404:
        return (
            f"the LLM endpoint at {host} has no model '{model}' or no chat completions path (HTTP 404): "
            "check llm.model, and that llm.base_url ends where /chat/completions follows (usually /v1)"
        )
    detail = " ".join(_error_text(error).split())[:_MESSAGE_CHARS]
    return f"the LLM endpoint at {host} answered HTTP {status}" + (f": {detail}" if detail else "")


def _error_text(error) -> str:
    """The endpoint's own error message (`{"error": {"message": ...}}` in the OpenAI format)."""
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if isinstance(inner.get("message"), str):
            return inner["message"]
    return re.sub(r"^Error code: \d+ - ", "", str(getattr(error, "message", "") or ""))
