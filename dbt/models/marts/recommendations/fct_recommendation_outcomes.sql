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
  against the newest event in the warehouse, not the wall clock, so a rebuild is reproducible.
  The outcome the app reported itself is kept beside it (reported_outcome) for reconciliation.
#}
{%- set click_h = var('click_window_hours') -%}
{%- set enroll_h = var('enroll_window_hours') -%}
{%- set complete_h = var('completion_window_hours') -%}

with

served as (
    select * from {{ ref('stg_feedback__served_recommendations') }}
),

data_horizon as (
    select max(event_at) as observed_until from {{ ref('fct_learner_events') }}
),

later_events as (
    select
        served.log_id,
        events.event_type,
        events.event_at
    from served
    inner join {{ ref('fct_learner_events') }} as events
        on served.learner_id = events.learner_id
        and served.course_id = events.course_id
        and events.event_at >= served.served_at
        and events.event_at < {{ dbt.dateadd('hour', complete_h, 'served.served_at') }}
    where events.event_type in ('click', 'watch', 'complete')
      and events.event_date >= (select cast(min(served_at) as date) from served)
),

attributed as (
    select
        served.log_id,
        min(case when later_events.event_type = 'click'
                  and later_events.event_at < {{ dbt.dateadd('hour', click_h, 'served.served_at') }}
            then later_events.event_at end) as clicked_at,
        min(case when later_events.event_type = 'watch'
                  and later_events.event_at < {{ dbt.dateadd('hour', enroll_h, 'served.served_at') }}
            then later_events.event_at end) as enrolled_at,
        min(case when later_events.event_type = 'complete' then later_events.event_at end) as completed_at
    from served
    left join later_events on served.log_id = later_events.log_id
    group by served.log_id
)

select
    served.log_id,
    served.learner_id,
    served.course_id,
    served.model_version,
    served.signals_used,
    served.rank_at_serve,
    served.served_at,
    served.served_date,
    attributed.clicked_at,
    attributed.enrolled_at,
    attributed.completed_at,
    case
        when attributed.completed_at is not null then 'completed'
        when attributed.enrolled_at is not null then 'enrolled'
        when attributed.clicked_at is not null then 'clicked'
        when data_horizon.observed_until >= {{ dbt.dateadd('hour', click_h, 'served.served_at') }} then 'ignored'
    end as outcome,
    attributed.clicked_at is not null as is_clicked,
    attributed.enrolled_at is not null as is_enrolled,
    attributed.completed_at is not null as is_completed,
    data_horizon.observed_until >= {{ dbt.dateadd('hour', complete_h, 'served.served_at') }} as is_final,
    served.reported_outcome,
    served.reported_outcome_at
from served
inner join attributed on served.log_id = attributed.log_id
cross join data_horizon
