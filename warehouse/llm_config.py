"""The `llm:` and `prompts:` sections of kindred.yaml: the endpoint generation calls, and the templates.

Part of the typed config of `warehouse.config` (`KindredConfig.llm`, `KindredConfig.prompts`);
see docs/prompts.md.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from warehouse.strict_settings import StrictSettings

_PROMPT_NAME = r"^[a-z][a-z0-9_]{0,62}$"


class LlmConfig(StrictSettings):
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


class PromptConfig(StrictSettings):
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
