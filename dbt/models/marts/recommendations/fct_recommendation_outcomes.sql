{#
  Every served recommendation (the Recommendation Log) with its outcome, attributed from the
  learner's later events on the same course, within windows counted from served_at
  (dbt_project.yml vars):
    clicked   a click within click_window_hours (24 h)
    enrolled  a first watch within enroll_window_hours (7 days): the product has no enrol event;
              starting to watch is the enrolment
    completed a complete event within completion_window_hours (30 days)
    ignored   none of these, once the click window has closed (before that: outcome null, pending)
  outcome is the furthest stage reached (completed > enrolled > clicked). Windows are judged
  against the newest event in the warehouse (observed_until), not the wall clock, so a rebuild is
  reproducible. The outcome the app reported itself is kept beside it (reported_outcome).

  Incremental (a night's cost grows with the day, not with the log's history): a run rebuilds
  only the rows whose outcome can have changed since the watermarks it stores
  (ingested_until: newest event ingested_at folded in; received_until: newest log receipt):
    new log rows       attributed from all their events;
    re-reported rows   a receipt since received_until (the app reported an outcome);
    rows with new events on their (learner, course) inside a window: the first click / watch /
    completion is the earlier of the stored one and the new events' (a minimum merges exactly);
    rows whose click or completion window closed between their observed_until and tonight's.
  Every other row keeps its values, which a full refresh would give as well
  (tests/dbt/test_incremental.py compares, the three as-of columns aside).
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='log_id',
        on_schema_change='fail',
    )
}}
{%- set click_h = var('click_window_hours') -%}
{%- set enroll_h = var('enroll_window_hours') -%}
{%- set complete_h = var('completion_window_hours') -%}

with

horizon as (
    select
        max(event_at) as observed_until,
        max(ingested_at) as ingested_until,
        (select max(received_at) from {{ source('feedback', 'served_recommendations') }}) as received_until
    from {{ ref('fct_learner_events') }}
),

{% if is_incremental() %}
watermark as (
    select max(ingested_until) as ingested_until, max(received_until) as received_until from {{ this }}
),

received as (
    select distinct log_id
    from {{ source('feedback', 'served_recommendations') }}
    where received_at > (select received_until from watermark)
       or (select received_until from watermark) is null
),

new_events as (
    select learner_id, course_id, event_type, event_at
    from {{ ref('fct_learner_events') }}
    where event_date in (
            select distinct event_date
            from ({{ learnrec.events_arrived_since_watermark(source('ingest', 'learner_events'), 'ingested_until') }}) as arrived
        )
      and ingested_at > (select coalesce(ingested_until, {{ dbt.cast("'1970-01-01 00:00:00+00:00'", learnrec.type_timestamp_utc()) }}) from watermark)
      and event_type in ('click', 'watch', 'complete')
),

new_event_times as (
    select
        previous.log_id,
        {{ learnrec.first_outcome_times('new_events', 'previous') }}
    from {{ this }} as previous
    inner join new_events
        on previous.learner_id = new_events.learner_id
        and previous.course_id = new_events.course_id
        and new_events.event_at >= previous.served_at
        and new_events.event_at < {{ dbt.dateadd('hour', complete_h, 'previous.served_at') }}
    group by previous.log_id
),

changed as (
    select log_id from new_event_times
    union
    select log_id from received
    union
    select previous.log_id
    from {{ this }} as previous
    cross join horizon
    where previous.served_at > {{ dbt.dateadd('hour', -complete_h, 'previous.observed_until') }}
      and (
        ({{ dbt.dateadd('hour', click_h, 'previous.served_at') }} > previous.observed_until
         and {{ dbt.dateadd('hour', click_h, 'previous.served_at') }} <= horizon.observed_until)
        or ({{ dbt.dateadd('hour', complete_h, 'previous.served_at') }} > previous.observed_until
         and {{ dbt.dateadd('hour', complete_h, 'previous.served_at') }} <= horizon.observed_until)
      )
),

served as (
    select * from {{ ref('stg_feedback__served_recommendations') }}
    where log_id in (select log_id from received)
),

kept as (
    select previous.*
    from {{ this }} as previous
    where previous.log_id in (select log_id from changed)
),

fresh as (
    select * from served where log_id not in (select log_id from kept)
),
{% else %}
fresh as (
    select * from {{ ref('stg_feedback__served_recommendations') }}
),
{% endif %}

fresh_events as (
    select fresh.log_id, events.event_type, events.event_at
    from fresh
    inner join {{ ref('fct_learner_events') }} as events
        on fresh.learner_id = events.learner_id
        and fresh.course_id = events.course_id
        and events.event_at >= fresh.served_at
        and events.event_at < {{ dbt.dateadd('hour', complete_h, 'fresh.served_at') }}
    where events.event_type in ('click', 'watch', 'complete')
      and events.event_date >= (select cast(min(served_at) as date) from fresh)
),

attributed as (
    select
        fresh.log_id,
        fresh.learner_id,
        fresh.course_id,
        fresh.model_version,
        fresh.signals_used,
        fresh.rank_at_serve,
        fresh.route,
        fresh.is_control,
        fresh.served_at,
        fresh.served_date,
        {{ learnrec.first_outcome_times('fresh_events', 'fresh') }},
        fresh.reported_outcome,
        fresh.reported_outcome_at
    from fresh
    left join fresh_events on fresh.log_id = fresh_events.log_id
    group by
        fresh.log_id, fresh.learner_id, fresh.course_id, fresh.model_version, fresh.signals_used,
        fresh.rank_at_serve, fresh.route, fresh.is_control, fresh.served_at, fresh.served_date, fresh.reported_outcome, fresh.reported_outcome_at
{% if is_incremental() %}
    union all
    select
        kept.log_id,
        kept.learner_id,
        kept.course_id,
        kept.model_version,
        kept.signals_used,
        kept.rank_at_serve,
        kept.route,
        kept.is_control,
        kept.served_at,
        kept.served_date,
        {{ learnrec.earlier('kept.clicked_at', 'new_event_times.clicked_at') }} as clicked_at,
        {{ learnrec.earlier('kept.enrolled_at', 'new_event_times.enrolled_at') }} as enrolled_at,
        {{ learnrec.earlier('kept.completed_at', 'new_event_times.completed_at') }} as completed_at,
        coalesce(served.reported_outcome, kept.reported_outcome) as reported_outcome,
        case when served.log_id is not null then served.reported_outcome_at else kept.reported_outcome_at end
            as reported_outcome_at
    from kept
    left join new_event_times on kept.log_id = new_event_times.log_id
    left join served on kept.log_id = served.log_id
{% endif %}
)

select
    attributed.log_id,
    attributed.learner_id,
    attributed.course_id,
    attributed.model_version,
    attributed.signals_used,
    attributed.rank_at_serve,
    attributed.route,
    attributed.is_control,
    attributed.served_at,
    attributed.served_date,
    attributed.clicked_at,
    attributed.enrolled_at,
    attributed.completed_at,
    case
        when attributed.completed_at is not null then 'completed'
        when attributed.enrolled_at is not null then 'enrolled'
        when attributed.clicked_at is not null then 'clicked'
        when horizon.observed_until >= {{ dbt.dateadd('hour', click_h, 'attributed.served_at') }} then 'ignored'
    end as outcome,
    attributed.clicked_at is not null as is_clicked,
    attributed.enrolled_at is not null as is_enrolled,
    attributed.completed_at is not null as is_completed,
    coalesce(horizon.observed_until >= {{ dbt.dateadd('hour', complete_h, 'attributed.served_at') }}, false) as is_final,
    attributed.reported_outcome,
    attributed.reported_outcome_at,
    horizon.observed_until,
    horizon.ingested_until,
    horizon.received_until
from attributed
cross join horizon
