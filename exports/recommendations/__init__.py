"""Per-learner recommendations and learning paths: precompute, gate, publish, serving export.

One function per nightly step (``steps``), used alike by the DAG, the CLI and the tests.
"""
