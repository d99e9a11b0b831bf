"""Chat providers behind the gateway: Anthropic Claude and any OpenAI-compatible endpoint.

Each provider makes exactly one HTTP request per ``complete`` call (the SDKs' own retries are
switched off: the gateway owns retries, backoff and the circuit breaker, so that they behave the
same for every provider). Failures are mapped to :class:`ProviderError` with ``retryable`` set for
timeouts, connection errors, 429 and 5xx.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from learnrec.sdk_logs import hold_sdk_loggers
from learnrec.settings import Settings

# at DEBUG the SDKs log each request whole: prompts with first names and questions
hold_sdk_loggers()


@dataclass(frozen=True)
class ProviderResponse:
    text: str
    input_tokens: int
    output_tokens: int
    model: str


class ProviderError(Exception):
    """One failed request. ``retryable``: worth another attempt (timeout, connection, 429, 5xx)."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class ChatProvider(Protocol):
    name: str
    model: str

    def complete(self, system: str, user: str, *, max_tokens: int, timeout: float) -> ProviderResponse: ...


def _retry_after(headers: object) -> float | None:
    value = getattr(headers, "get", lambda _key: None)("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _status_error(exc: Exception, provider: str) -> ProviderError:
    status = int(getattr(exc, "status_code", 0))
    retryable = status == 429 or status >= 500
    headers = getattr(getattr(exc, "response", None), "headers", None)
    return ProviderError(f"{provider} HTTP {status}", retryable=retryable, retry_after=_retry_after(headers))


class AnthropicProvider:
    """Claude through the official ``anthropic`` client (``base_url`` for gateways and tests)."""

    name = "anthropic"

    def __init__(self, api_key: str, model: str, base_url: str | None = None) -> None:
        import anthropic

        self.model = model
        self._client = anthropic.Anthropic(api_key=api_key, base_url=base_url, max_retries=0)

    def complete(self, system: str, user: str, *, max_tokens: int, timeout: float) -> ProviderResponse:
        import anthropic

        try:
            message = self._client.messages.create(
                model=self.model,
                max_tokens=max_tokens,
                system=system,
                messages=[{"role": "user", "content": user}],
                timeout=timeout,
            )
        except anthropic.APITimeoutError as exc:
            raise ProviderError("anthropic timeout", retryable=True) from exc
        except anthropic.APIConnectionError as exc:
            raise ProviderError("anthropic connection error", retryable=True) from exc
        except anthropic.APIStatusError as exc:
            raise _status_error(exc, "anthropic") from exc
        text = "".join(block.text for block in message.content if getattr(block, "type", "") == "text")
        return ProviderResponse(
            text, message.usage.input_tokens, message.usage.output_tokens, message.model or self.model
        )


class OpenAICompatibleProvider:
    """Any OpenAI-compatible chat endpoint (vLLM, TGI, Ollama, OpenAI) through the ``openai`` client."""

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str | None = None) -> None:
        import openai

        self.model = model
        # Self-hosted endpoints often need no key, but the client insists on one.
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key or "unused", max_retries=0)

    def complete(self, system: str, user: str, *, max_tokens: int, timeout: float) -> ProviderResponse:
        import openai

        try:
            completion = self._client.chat.completions.create(
                model=self.model,
                max_tokens=max_tokens,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                timeout=timeout,
            )
        except openai.APITimeoutError as exc:
            raise ProviderError("openai timeout", retryable=True) from exc
        except openai.APIConnectionError as exc:
            raise ProviderError("openai connection error", retryable=True) from exc
        except openai.APIStatusError as exc:
            raise _status_error(exc, "openai") from exc
        if not completion.choices:
            raise ProviderError("openai: response without choices", retryable=True)
        usage = completion.usage
        return ProviderResponse(
            completion.choices[0].message.content or "",
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
            completion.model or self.model,
        )


def provider_from_settings(settings: Settings) -> ChatProvider | None:
    """The configured provider, or None for the rule-based default (``LEARNREC_LLM_PROVIDER=rules``)."""
    if settings.llm_provider == "anthropic":
        key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else ""
        return AnthropicProvider(key, settings.anthropic_model, settings.anthropic_base_url)
    if settings.llm_provider == "openai":
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAICompatibleProvider(str(settings.openai_base_url), str(settings.openai_model), key)
    return None
