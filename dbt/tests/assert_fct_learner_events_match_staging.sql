{#
  The incremental fact holds exactly the deduplicated events, date by date: nothing lost, nothing
  twice (a late arrival folded into its past day, a replayed batch). Checked over the newest
  `recent_days` event dates, so the test's cost does not grow with history either.
#}
{%- set recent_days = 7 -%}
with

horizon as (
    select {{ dbt.dateadd('day', -recent_days, 'max(event_date)') }} as since
    from {{ ref('stg_ingest__learner_events') }}
),

staged as (
    select event_date, count(*) as n_staged
    from {{ ref('stg_ingest__learner_events') }}
    where event_date > (select since from horizon)
    group by event_date
),

fact as (
    select event_date, count(*) as n_fact
    from {{ ref('fct_learner_events') }}
    where event_date > (select since from horizon)
    group by event_date
)

select
    coalesce(staged.event_date, fact.event_date) as event_date,
    staged.n_staged,
    fact.n_fact
from staged
full outer join fact on staged.event_date = fact.event_date
where staged.n_staged is null or fact.n_fact is null or staged.n_staged <> fact.n_fact
