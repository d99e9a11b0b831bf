"""Benchmarks behind ``make bench`` (``learnrec bench``): the harness and one module per suite.

Kept out of the production packages, which never import them; the figures they write
(``results.json``, ``RESULTS.md``) live in this folder and are committed.
"""
