"""The platform's LLM agents: AI Metadata, Learning Path, Re-engagement and Course Q&A.

Each agent is a plain function over the warehouse that calls the LLM only through
:class:`learnrec.llm.LLMGateway` and carries its own rule-based answer, which the gateway returns
whenever the LLM is off (the embedded default), unavailable, over budget or wrong. The same
functions run from the tests, the ``learnrec`` CLI and the DAG tasks.
"""
