{# Daily activity (incremental by date) adds up to the events of each recent day. #}
{%- set recent_days = 7 -%}
with

horizon as (
    select {{ dbt.dateadd('day', -recent_days, 'max(event_date)') }} as since
    from {{ ref('fct_learner_events') }}
),

events as (
    select learner_id, event_date, count(*) as n_events
    from {{ ref('fct_learner_events') }}
    where event_date > (select since from horizon)
    group by learner_id, event_date
),

activity as (
    select learner_id, activity_date, n_events
    from {{ ref('int_learner_daily_activity') }}
    where activity_date > (select since from horizon)
)

select events.learner_id, events.event_date, events.n_events, activity.n_events as n_activity
from events
full outer join activity
    on events.learner_id = activity.learner_id and events.event_date = activity.activity_date
where events.n_events is null or activity.n_events is null or events.n_events <> activity.n_events
