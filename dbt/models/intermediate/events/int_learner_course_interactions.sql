{#
  Implicit feedback per learner x course: the aggregated events plus watch share, completion and
  the implicit weight the collaborative models train on (formula in README.md and the YAML).
#}
{%- set w = var('interaction_weights') -%}

with

aggregated as (
    select * from {{ ref('int_learner_course_events_aggregated') }}
),

courses as (
    select course_id, duration_hours from {{ ref('stg_operational__courses') }}
),

shaped as (
    select
        aggregated.*,
        case
            when courses.duration_hours > 0
                then least(1.0, aggregated.watch_seconds / (courses.duration_hours * 3600.0))
        end as watch_share,
        aggregated.n_completions > 0 as is_completed,
        aggregated.n_skips > 0 and aggregated.n_watch_events = 0 as is_skipped_without_watching
    from aggregated
    left join courses on aggregated.course_id = courses.course_id
),

weighted as (
    select
        shaped.*,
        case
            when is_skipped_without_watching then 0.0
            else greatest(
                0.0,
                {{ w.search }} * (case when n_searches > 0 then 1 else 0 end)
                + {{ w.click }} * (case when n_clicks > 0 then 1 else 0 end)
                + {{ w.watch_share }} * coalesce(watch_share, 0.0)
                + {{ w.completion }} * (case when is_completed then 1 else 0 end)
                + {{ w.quiz }} * coalesce(avg_quiz_score, 0.0) / 100.0
                - {{ w.skip_after_watching }} * (case when n_skips > 0 then 1 else 0 end)
            )
        end as implicit_weight
    from shaped
)

select
    learner_id,
    course_id,
    first_event_at,
    last_event_at,
    n_events,
    n_searches,
    n_clicks,
    n_watch_events,
    watch_seconds,
    modules_watched,
    watch_share,
    is_completed,
    completed_at,
    n_skips,
    is_skipped_without_watching,
    n_quizzes,
    quiz_score_sum_e4,
    avg_quiz_score,
    cast(implicit_weight as {{ learnrec.type_double() }}) as implicit_weight,
    is_skipped_without_watching as is_negative,
    last_ingested_at
from weighted
