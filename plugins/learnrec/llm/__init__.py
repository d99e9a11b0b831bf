"""The model-agnostic LLM gateway the agents call (ml/agents): one interface, three providers.

``LLMGateway.run`` renders a versioned prompt, calls the configured provider (Anthropic Claude,
any OpenAI-compatible endpoint, or none: the rule-based default), validates the answer against a
pydantic schema plus the caller's grounding checks and, on any failure, returns the caller's
rule-based answer instead. Invalid LLM output is never returned.
"""

from learnrec.llm.gateway import GatewayResult, LLMGateway, RunUsage
from learnrec.llm.prompts import PromptTemplate, load_prompt
from learnrec.llm.providers import ChatProvider, ProviderError, ProviderResponse, provider_from_settings

__all__ = [
    "ChatProvider",
    "GatewayResult",
    "LLMGateway",
    "PromptTemplate",
    "ProviderError",
    "ProviderResponse",
    "RunUsage",
    "load_prompt",
    "provider_from_settings",
]
