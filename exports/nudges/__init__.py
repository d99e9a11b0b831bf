"""Nudge delivery: NudgeDrafts (from the Re-engagement Agent) -> rules -> outbox -> providers ->
raw.notification_events, and delivery events back from the providers.

Entry points (the CLI ``learnrec nudges``, the ``learner_nudges`` DAG and the tests call these):
:func:`exports.nudges.pipeline.plan_for_date`, :func:`exports.nudges.delivery.deliver_due`,
:func:`exports.nudges.feedback.ingest_notification_events`.
"""
