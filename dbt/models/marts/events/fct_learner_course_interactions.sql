{#
  Implicit feedback per learner x course, the collaborative models' training input. weight is the
  confidence of a positive interaction (formula: dbt_project.yml vars.interaction_weights and
  README.md); 0 marks an explicit negative (skipped without watching).
#}
select
    learner_id,
    course_id,
    implicit_weight as weight,
    n_events,
    n_searches,
    n_clicks,
    n_watch_events,
    watch_seconds,
    watch_share,
    is_completed as completed,
    completed_at,
    n_skips > 0 as skipped,
    is_skipped_without_watching as is_explicit_negative,
    n_quizzes,
    avg_quiz_score,
    first_event_at,
    last_event_at
from {{ ref('int_learner_course_interactions') }}
