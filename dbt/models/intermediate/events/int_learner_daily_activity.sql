{#
  One row per learner per UTC day with events. Incremental by event date: the dates touched by
  events ingested since the watermark (today's and late arrivals' past days) are rebuilt whole.
  Sessions are runs of events less than `session_gap_minutes` apart within the day.
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='activity_date',
        on_schema_change='fail',
    )
}}

with

events as (
    select * from {{ ref('stg_ingest__learner_events') }}
    {% if is_incremental() %}
    where event_date in (
        select distinct event_date
        from ({{ learnrec.events_arrived_since_watermark(source('ingest', 'learner_events'), 'last_ingested_at') }}) as arrived
    )
    {% endif %}
),

sessionised as (
    select
        events.*,
        case
            when lag(event_at) over (partition by learner_id, event_date order by event_at, event_id) is null
                then 1
            when {{ dbt.datediff(
                    'lag(event_at) over (partition by learner_id, event_date order by event_at, event_id)',
                    'event_at', 'second') }} > {{ var('session_gap_minutes') }} * 60
                then 1
            else 0
        end as starts_session
    from events
)

select
    learner_id,
    event_date as activity_date,
    count(*) as n_events,
    cast(sum(starts_session) as {{ dbt.type_bigint() }}) as n_sessions,
    count(distinct course_id) as n_courses,
    count(case when event_type = 'search' then 1 end) as n_searches,
    count(case when event_type = 'click' then 1 end) as n_clicks,
    count(case when event_type = 'watch' then 1 end) as n_watch_events,
    cast(coalesce(sum(case when event_type = 'watch' then watch_duration_seconds end), 0) as {{ dbt.type_bigint() }}) as watch_seconds,
    count(case when event_type = 'complete' then 1 end) as n_completions,
    count(case when event_type = 'skip' then 1 end) as n_skips,
    count(case when event_type = 'quiz_score' then 1 end) as n_quizzes,
    {{ learnrec.quiz_score_mean(learnrec.quiz_score_sum_e4("event_type = 'quiz_score'"), "count(case when event_type = 'quiz_score' then 1 end)") }} as avg_quiz_score,
    min(event_at) as first_event_at,
    max(event_at) as last_event_at,
    max(ingested_at) as last_ingested_at
from sessionised
group by learner_id, event_date
