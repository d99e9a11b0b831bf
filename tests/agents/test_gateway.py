"""The gateway with the real anthropic and openai clients against a loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from learnrec.llm import LLMGateway, PromptTemplate
from learnrec.llm.gateway import CircuitBreaker
from learnrec.llm.prompts import PromptError, parse_prompt

from .conftest import LLMServer, Reply, llm_settings

PROMPT = parse_prompt(
    "greeting",
    'version: v3\n---- system\nAnswer as JSON {"message": str, "score": int}.\n---- user\nGreet $first_name about $course.\n',
)


class Greeting(BaseModel):
    message: str
    score: int


RULES = Greeting(message="rules", score=0)


def run(gateway: LLMGateway, validate=None):
    return gateway.run(
        PROMPT,
        {"first_name": "Ada", "course": "SQL Basics"},
        Greeting,
        fallback=lambda: RULES,
        rules_version="greeting-rules@v1",
        validate=validate,
        personal=["first_name"],
    )


@pytest.mark.integration
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_happy_path_returns_validated_llm_answer_and_accounts_tokens(
    provider: str, llm_server: LLMServer, tmp_path: Path
) -> None:
    llm_server.respond = lambda body: Reply(
        'Sure! ```json\n{"message": "Hi Ada, SQL awaits", "score": 3}\n```'
    )
    settings = llm_settings(tmp_path, llm_server, provider)
    gateway = LLMGateway.from_settings(settings)
    result = run(gateway)
    assert result.provenance == "llm"
    assert result.value == Greeting(message="Hi Ada, SQL awaits", score=3)
    assert result.prompt_version.startswith("greeting@v3+")
    assert result.fallback_reason is None
    usage = gateway.usage
    assert (usage.llm_calls, usage.llm_answers, usage.requests) == (1, 1, 1)
    assert (usage.input_tokens, usage.output_tokens) == (120, 40)
    assert usage.cost_usd == pytest.approx((120 * 3.0 + 40 * 15.0) / 1e6)
    # the real client sent the rendered prompt
    assert "Greet Ada about SQL Basics." in llm_server.prompts()[0]
    # the audit log has the call, without the first name
    records = [json.loads(line) for line in gateway.audit_path.read_text().splitlines()]
    assert records[0]["outcome"] == "accepted"
    assert "Ada" not in json.dumps(records)
    assert "Greet [first_name] about SQL Basics." in records[0]["user"]


@pytest.mark.integration
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_timeout_is_retried_then_falls_back(provider: str, llm_server: LLMServer, tmp_path: Path) -> None:
    llm_server.respond = lambda body: Reply('{"message": "late", "score": 1}', delay=1.0)
    settings = llm_settings(tmp_path, llm_server, provider, llm_timeout_seconds=0.3, llm_max_retries=1)
    gateway = LLMGateway.from_settings(settings)
    result = run(gateway)
    assert result.provenance == "rules"
    assert result.fallback_reason == "unavailable"
    assert result.value == RULES
    assert result.model == "rules:greeting-rules@v1"
    assert len(llm_server.requests) == 2  # first try + one retry


@pytest.mark.integration
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_5xx_retries_then_breaker_opens_and_rules_answer_without_requests(
    provider: str, llm_server: LLMServer, tmp_path: Path
) -> None:
    llm_server.respond = lambda body: Reply(status=503)
    settings = llm_settings(tmp_path, llm_server, provider, llm_max_retries=2, llm_breaker_failures=2)
    gateway = LLMGateway.from_settings(settings)
    first, second = run(gateway), run(gateway)
    assert len(llm_server.requests) == 6  # two calls of three attempts each
    assert gateway.breaker.state == "open"
    third = run(gateway)
    assert len(llm_server.requests) == 6  # the open breaker spares the endpoint
    assert [r.fallback_reason for r in (first, second, third)] == [
        "unavailable",
        "unavailable",
        "breaker_open",
    ]
    assert all(r.value == RULES and r.provenance == "rules" for r in (first, second, third))
    assert gateway.usage.fallbacks == {"unavailable": 2, "breaker_open": 1}


@pytest.mark.integration
def test_429_is_retried_and_recovers(llm_server: LLMServer, tmp_path: Path) -> None:
    replies = iter([Reply(status=429), Reply('{"message": "ok", "score": 2}')])
    llm_server.respond = lambda body: next(replies)
    gateway = LLMGateway.from_settings(llm_settings(tmp_path, llm_server))
    result = run(gateway)
    assert result.provenance == "llm" and result.value.score == 2
    assert len(llm_server.requests) == 2


@pytest.mark.integration
def test_4xx_other_than_429_is_not_retried(llm_server: LLMServer, tmp_path: Path) -> None:
    llm_server.respond = lambda body: Reply(status=400)
    gateway = LLMGateway.from_settings(llm_settings(tmp_path, llm_server))
    assert run(gateway).fallback_reason == "unavailable"
    assert len(llm_server.requests) == 1


@pytest.mark.integration
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
@pytest.mark.parametrize(
    "text",
    ["not json at all", '{"message": "no score"}', '{"message": "x", "score": "many"}', "{broken"],
)
def test_invalid_output_is_rejected_and_never_returned(
    provider: str, text: str, llm_server: LLMServer, tmp_path: Path
) -> None:
    llm_server.respond = lambda body: Reply(text)
    gateway = LLMGateway.from_settings(llm_settings(tmp_path, llm_server, provider))
    result = run(gateway)
    assert result.provenance == "rules" and result.value == RULES
    assert result.fallback_reason == "invalid_output"
    assert gateway.breaker.state == "closed"  # the endpoint is up; the answer was wrong
    record = json.loads(gateway.audit_path.read_text().splitlines()[-1])
    assert record["outcome"] == "rejected"


@pytest.mark.integration
def test_grounding_check_rejects_a_schema_valid_answer(llm_server: LLMServer, tmp_path: Path) -> None:
    llm_server.respond = lambda body: Reply('{"message": "Hi", "score": 99}')
    gateway = LLMGateway.from_settings(llm_settings(tmp_path, llm_server))

    def at_most_five(answer: Greeting) -> None:
        if answer.score > 5:
            raise ValueError("score out of range")

    assert run(gateway, validate=at_most_five).fallback_reason == "invalid_output"


def test_rules_provider_never_calls_out(tmp_path: Path) -> None:
    from learnrec.settings import load_settings

    gateway = LLMGateway.from_settings(load_settings(home=tmp_path))
    result = run(gateway)
    assert (result.provenance, result.fallback_reason, result.value) == ("rules", "rules_provider", RULES)
    assert gateway.usage.requests == 0


@pytest.mark.integration
def test_call_budget_caps_llm_calls_per_run(llm_server: LLMServer, tmp_path: Path) -> None:
    llm_server.respond = lambda body: Reply('{"message": "ok", "score": 1}')
    gateway = LLMGateway.from_settings(llm_settings(tmp_path, llm_server, llm_max_calls_per_run=2))
    reasons = [run(gateway).fallback_reason for _ in range(3)]
    assert reasons == [None, None, "budget"]
    assert len(llm_server.requests) == 2


def test_breaker_half_opens_after_reset_and_closes_on_success() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, reset_seconds=10, clock=lambda: now[0])
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert not breaker.allow()
    now[0] = 10.0
    assert breaker.state == "half_open" and breaker.allow()
    breaker.record_failure()  # the trial failed: open again for another period
    assert not breaker.allow()
    now[0] = 20.0
    breaker.record_success()
    assert breaker.state == "closed"


def test_prompt_refuses_missing_and_unexpected_variables() -> None:
    with pytest.raises(PromptError, match="missing"):
        PROMPT.render({"first_name": "Ada"})
    with pytest.raises(PromptError, match="unexpected"):
        PROMPT.render({"first_name": "Ada", "course": "SQL", "email": "ada@example.test"})


def test_prompt_version_changes_with_content() -> None:
    edited = parse_prompt("greeting", PROMPT_TEXT_EDITED)
    assert isinstance(edited, PromptTemplate)
    assert edited.declared_version == PROMPT.declared_version
    assert edited.version != PROMPT.version


PROMPT_TEXT_EDITED = (
    "version: v3\n---- system\nAnswer as JSON, briefly.\n---- user\nGreet $first_name about $course.\n"
)


def test_every_shipped_prompt_parses() -> None:
    from learnrec.llm import load_prompt
    from ml.agents.metadata import PROMPTS

    names = sorted(path.stem for path in PROMPTS.glob("*.txt"))
    assert names
    for name in names:
        assert load_prompt(PROMPTS, name).variables
