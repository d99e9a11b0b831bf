"""One call path for every agent: prompt -> provider (with retries and a breaker) -> schema -> checks.

``LLMGateway.run`` always returns an answer. It is the LLM's answer only if the provider answered
within its retries, the text parsed as the schema's JSON and the caller's grounding checks passed;
in every other case it is the caller's rule-based answer, with the reason recorded. The rule-based
provider (``LEARNREC_LLM_PROVIDER=rules``, the embedded default) is simply "no provider": every
call takes the rules path.

Every call is accounted (tokens, cost, outcome) in :class:`RunUsage` and written to an audit log
(``<home>/llm/audit.jsonl``) with the variables the caller marks personal replaced by
placeholders, in both the prompt and the output.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from learnrec.llm.prompts import PromptTemplate
from learnrec.llm.providers import ChatProvider, ProviderError, ProviderResponse, provider_from_settings
from learnrec.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
Reason = Literal["rules_provider", "breaker_open", "budget", "unavailable", "invalid_output"]


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failed calls; after ``reset_seconds`` lets one trial through.

    While open, agents answer from their rules at once instead of waiting out timeouts and
    retries for every learner of a nightly run.
    """

    def __init__(self, threshold: int, reset_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> Literal["closed", "open", "half_open"]:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self._opened_at >= self.reset_seconds else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None

    def record_failure(self) -> None:
        self._failures += 1
        if self.state == "half_open" or self._failures >= self.threshold:
            self._opened_at = self._clock()


@dataclass
class RunUsage:
    """Token and cost accounting of one agent run."""

    provider: str
    model: str
    calls: int = 0  # results returned (llm or rules)
    llm_calls: int = 0  # calls sent to the provider (the budget counts these)
    llm_answers: int = 0  # results that are the LLM's validated answer
    requests: int = 0  # HTTP requests made, retries included
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    fallbacks: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class GatewayResult(Generic[T]):
    value: T
    provenance: Literal["llm", "rules"]
    model: str  # LLM model id, or "rules:<rules version>"
    prompt_version: str  # the prompt's version, or the rules version
    fallback_reason: Reason | None = None


class InvalidOutput(ValueError):
    """The LLM's text is not the schema's JSON or fails the caller's grounding checks."""


def parse_json_object(text: str) -> str:
    """The JSON object in a model's reply (models wrap it in prose or code fences now and then)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise InvalidOutput("no JSON object in the output")
    return text[start : end + 1]


class LLMGateway:
    """Not thread-safe for concurrent runs of different agents; create one per agent run."""

    def __init__(
        self,
        settings: Settings,
        provider: ChatProvider | None,
        *,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
        audit_path: Path | None = None,
    ) -> None:
        self.settings = settings
        self.provider = provider
        self.breaker = breaker or CircuitBreaker(
            settings.llm_breaker_failures, settings.llm_breaker_reset_seconds
        )
        self._sleep = sleep
        self.audit_path = audit_path or settings.home / "llm" / "audit.jsonl"
        self.usage = RunUsage(
            provider=provider.name if provider else "rules", model=provider.model if provider else "rules"
        )
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMGateway:
        return cls(settings, provider_from_settings(settings))

    @property
    def llm_enabled(self) -> bool:
        return self.provider is not None

    @property
    def llm_budget_left(self) -> bool:
        """Whether this run may still call the LLM (a provider is set and the per-run budget is
        not spent): once it may not, every answer is the fallback, so callers can stop preparing
        prompts."""
        return self.llm_enabled and self.usage.llm_calls < self.settings.llm_max_calls_per_run

    def run(
        self,
        prompt: PromptTemplate,
        variables: Mapping[str, object],
        schema: type[T],
        *,
        fallback: Callable[[], T],
        rules_version: str,
        validate: Callable[[T], None] | None = None,
        personal: Iterable[str] = (),
        timeout: float | None = None,
        max_tokens: int = 1024,
    ) -> GatewayResult[T]:
        """The validated LLM answer, or ``fallback()`` with the reason.

        ``validate`` raises ``ValueError`` to reject an answer that parses but is not grounded
        (unknown ids, broken prerequisites...). ``personal`` names the variables that must not
        reach the audit log.
        """
        personal = tuple(personal)
        reason: Reason
        if self.provider is None:
            reason = "rules_provider"
        elif self.usage.llm_calls >= self.settings.llm_max_calls_per_run:
            reason = "budget"
        elif not self.breaker.allow():
            reason = "breaker_open"
        else:
            system, user = prompt.render(variables)
            with self._lock:
                self.usage.llm_calls += 1
            started = time.perf_counter()
            try:
                response = self._call_with_retries(system, user, max_tokens, timeout)
            except ProviderError as exc:
                self.breaker.record_failure()
                reason = "unavailable"
                self._audit(prompt, variables, personal, None, "unavailable", str(exc), started)
            else:
                self.breaker.record_success()
                self._account(response)
                try:
                    value = schema.model_validate_json(parse_json_object(response.text))
                    if validate is not None:
                        validate(value)
                except (InvalidOutput, ValidationError, ValueError) as exc:
                    reason = "invalid_output"
                    detail = str(exc).splitlines()[0][:300]
                    self._audit(prompt, variables, personal, response, "rejected", detail, started)
                else:
                    self._audit(prompt, variables, personal, response, "accepted", None, started)
                    with self._lock:
                        self.usage.calls += 1
                        self.usage.llm_answers += 1
                    return GatewayResult(value, "llm", response.model, prompt.version)
        with self._lock:
            self.usage.calls += 1
            self.usage.fallbacks[reason] = self.usage.fallbacks.get(reason, 0) + 1
        return GatewayResult(fallback(), "rules", f"rules:{rules_version}", rules_version, reason)

    def _call_with_retries(
        self, system: str, user: str, max_tokens: int, timeout: float | None
    ) -> ProviderResponse:
        assert self.provider is not None
        deadline = time.monotonic() + timeout if timeout is not None else None
        attempt = 0
        while True:
            per_request = self.settings.llm_timeout_seconds
            if deadline is not None:
                per_request = min(per_request, deadline - time.monotonic())
                if per_request <= 0:
                    raise ProviderError("deadline passed", retryable=False)
            with self._lock:
                self.usage.requests += 1
            try:
                return self.provider.complete(system, user, max_tokens=max_tokens, timeout=per_request)
            except ProviderError as exc:
                if not exc.retryable or attempt >= self.settings.llm_max_retries:
                    raise
                delay = self.settings.llm_backoff_seconds * 2**attempt * random.uniform(0.5, 1.0)
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, 30.0))
                if deadline is not None and time.monotonic() + delay >= deadline:
                    raise
                log.info("LLM request failed (%s); retry %d in %.2fs", exc, attempt + 1, delay)
                self._sleep(delay)
                attempt += 1

    def _account(self, response: ProviderResponse) -> None:
        cost = (
            response.input_tokens * self.settings.llm_input_usd_per_mtok
            + response.output_tokens * self.settings.llm_output_usd_per_mtok
        ) / 1e6
        with self._lock:
            self.usage.input_tokens += response.input_tokens
            self.usage.output_tokens += response.output_tokens
            self.usage.cost_usd += cost

    def _audit(
        self,
        prompt: PromptTemplate,
        variables: Mapping[str, object],
        personal: tuple[str, ...],
        response: ProviderResponse | None,
        outcome: str,
        detail: str | None,
        started: float,
    ) -> None:
        """Append one record; personal variables are placeholders in the prompt and the output."""
        system, user = prompt.render_redacted(variables, personal)
        output = response.text if response else None
        if output is not None:
            for name in personal:
                value = str(variables[name])
                if value:
                    output = output.replace(value, f"[{name}]")
        record = {
            "at": datetime.now(UTC).isoformat(),
            "prompt_version": prompt.version,
            "provider": self.usage.provider,
            "model": response.model if response else self.usage.model,
            "outcome": outcome,
            "detail": detail,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            "input_tokens": response.input_tokens if response else 0,
            "output_tokens": response.output_tokens if response else 0,
            "system": system,
            "user": user,
            "output": output[:4000] if output is not None else None,
        }
        log.debug("LLM %s %s: %s", prompt.version, outcome, detail or "")
        with self._lock:
            self.audit_path.parent.mkdir(parents=True, exist_ok=True)
            with self.audit_path.open("a", encoding="utf-8") as sink:
                sink.write(json.dumps(record) + "\n")
