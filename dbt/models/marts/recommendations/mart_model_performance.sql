{#
  Outcome rates per model_version and serving day, from fct_recommendation_outcomes: what the
  monitoring DAG alerts on and what a model promotion is judged by after the fact. Rates are over
  the recommendations whose outcome is known (not pending); mean_reciprocal_rank_clicked is the
  mean of 1/rank_at_serve over clicked impressions.

  Incremental by serving day: a run recomputes the days that hold a row fct_recommendation_outcomes
  rebuilt since this table's as_of (the newest input arrival its rows have seen) and replaces them.
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='served_date',
        on_schema_change='fail',
    )
}}
{%- set as_of -%}
    {{ learnrec.later('ingested_until', 'received_until') }}
{%- endset %}
select
    model_version,
    served_date,
    count(*) as n_served,
    count(distinct learner_id) as n_learners,
    count(case when outcome is not null then 1 end) as n_with_outcome,
    count(case when is_clicked then 1 end) as n_clicked,
    count(case when is_enrolled then 1 end) as n_enrolled,
    count(case when is_completed then 1 end) as n_completed,
    count(case when outcome = 'ignored' then 1 end) as n_ignored,
    cast(count(case when is_clicked then 1 end) as {{ learnrec.type_double() }})
        / nullif(count(case when outcome is not null then 1 end), 0) as click_through_rate,
    cast(count(case when is_enrolled then 1 end) as {{ learnrec.type_double() }})
        / nullif(count(case when outcome is not null then 1 end), 0) as enrollment_rate,
    cast(count(case when is_completed then 1 end) as {{ learnrec.type_double() }})
        / nullif(count(case when outcome is not null then 1 end), 0) as completion_rate,
    -- rounded: a floating-point mean depends on the order rows are added in, which differs
    -- between an incremental build and a full refresh
    round(avg(case when is_clicked then 1.0 / rank_at_serve end), 12) as mean_reciprocal_rank_clicked,
    max({{ as_of }}) as as_of
from {{ ref('fct_recommendation_outcomes') }}
{% if is_incremental() %}
where served_date in ({{ learnrec.outcome_days_to_rebuild(as_of) }})
{% endif %}
group by model_version, served_date
