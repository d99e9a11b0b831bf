{#
  Learner x course event counts over all history, one row per pair that has any event.
  Incremental by pair: a run recomputes exactly the pairs that received events since the
  watermark (new or late), from all their events, and replaces them.
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['learner_id', 'course_id'],
        on_schema_change='fail',
    )
}}

with

events as (
    select * from {{ ref('stg_ingest__learner_events') }}
    {% if is_incremental() %}
    -- a plain filter the engine can push below staging's dedup window (the join below is exact)
    where learner_id in (
        select learner_id
        from ({{ learnrec.events_arrived_since_watermark(source('ingest', 'learner_events'), 'last_ingested_at') }}) as arrived
    )
    {% endif %}
),

{% if is_incremental() %}
touched_pairs as (
    select distinct learner_id, course_id
    from ({{ learnrec.events_arrived_since_watermark(source('ingest', 'learner_events'), 'last_ingested_at') }}) as arrived
),

scoped_events as (
    select events.*
    from events
    inner join touched_pairs
        on events.learner_id = touched_pairs.learner_id
        and events.course_id = touched_pairs.course_id
),
{% else %}
scoped_events as (
    select * from events
),
{% endif %}

aggregated as (
    select
        learner_id,
        course_id,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        count(*) as n_events,
        count(case when event_type = 'search' then 1 end) as n_searches,
        count(case when event_type = 'click' then 1 end) as n_clicks,
        count(case when event_type = 'watch' then 1 end) as n_watch_events,
        cast(coalesce(sum(case when event_type = 'watch' then watch_duration_seconds end), 0) as {{ dbt.type_bigint() }}) as watch_seconds,
        count(distinct case when event_type = 'watch' then module_id end) as modules_watched,
        count(case when event_type = 'complete' then 1 end) as n_completions,
        min(case when event_type = 'complete' then event_at end) as completed_at,
        count(case when event_type = 'skip' then 1 end) as n_skips,
        count(case when event_type = 'quiz_score' then 1 end) as n_quizzes,
        {{ learnrec.quiz_score_sum_e4("event_type = 'quiz_score'") }} as quiz_score_sum_e4,
        max(ingested_at) as last_ingested_at
    from scoped_events
    group by learner_id, course_id
)

select
    aggregated.*,
    {{ learnrec.quiz_score_mean('quiz_score_sum_e4', 'n_quizzes') }} as avg_quiz_score
from aggregated
