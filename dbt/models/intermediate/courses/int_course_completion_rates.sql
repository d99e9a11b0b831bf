{#
  Per course: how many learners engaged, started (watched or completed) and completed it.
  completion_rate = completers / starters (null before anyone started).
#}
with interactions as (
    select * from {{ ref('int_learner_course_interactions') }}
)

select
    course_id,
    count(*) as n_learners,
    count(case when n_watch_events > 0 or is_completed then 1 end) as n_starters,
    count(case when is_completed then 1 end) as n_completers,
    cast(
        count(case when is_completed then 1 end) as {{ learnrec.type_double() }}
    ) / nullif(count(case when n_watch_events > 0 or is_completed then 1 end), 0) as completion_rate,
    -- over all quiz events of the course (exact integer sums: see macros/incremental.sql)
    {{ learnrec.quiz_score_mean('sum(quiz_score_sum_e4)', 'sum(n_quizzes)') }} as avg_quiz_score
from interactions
group by course_id
