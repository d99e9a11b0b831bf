"""Nudge delivery: NudgeDrafts (from the Re-engagement Agent) -> rules -> outbox -> providers ->
raw.notification_events, and delivery events back from the providers.

Entry points (the CLI ``learnrec nudges``, the ``learner_nudges`` DAG and the tests call these):
:mod:`exports.nudges.pipeline` (draft via the Re-engagement Agent, plan, deliver, ingest events),
built on :func:`exports.nudges.planning.plan_nudges`, :func:`exports.nudges.delivery.deliver_due` and
:func:`exports.nudges.feedback.ingest_notification_events`.
"""
