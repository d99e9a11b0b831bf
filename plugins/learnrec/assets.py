"""Airflow Assets that connect the DAGs (URIs only: DAG files import this at parse time).

``learner_events_ingest`` updates :data:`LEARNER_EVENTS` after every batch and
:data:`LEARNER_EVENTS_DAY_CLOSED` once the last hour of a UTC day has landed; the nightly DAG is
scheduled on the latter, and ``learner_nudges`` on :data:`RECOMMENDATIONS` (published by the
nightly DAG).
"""

LEARNER_EVENTS = "warehouse://raw/learner_events"
LEARNER_EVENTS_DAY_CLOSED = "warehouse://raw/learner_events/day_closed"
RECOMMENDATIONS = "warehouse://recs/learner_recommendations"
