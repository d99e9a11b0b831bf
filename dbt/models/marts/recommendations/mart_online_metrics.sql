{#
  Online metrics per serving day x model_version x route x is_control, from
  fct_recommendation_outcomes: what the recommendations did once served. Rates are over the
  recommendations whose outcome is known (not pending), as in mart_model_performance.
  n_impressions counts the rows an app reported an outcome for (shown on screen; 0 where apps do
  not report). Coverage and popularity bias are over everything served: coverage is distinct
  courses served / the catalogue (dim_courses when the day was computed), top_1pct_course_share
  the share of served recommendations going to the group's most served 1% of the catalogue
  (at least one course).

  Incremental by serving day, as mart_model_performance: a run recomputes the days holding a row
  fct_recommendation_outcomes rebuilt since this table's as_of, each from all its rows.
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

with

outcomes as (
    select * from {{ ref('fct_recommendation_outcomes') }}
    {% if is_incremental() %}
    where served_date in ({{ learnrec.outcome_days_to_rebuild(as_of) }})
    {% endif %}
),

catalogue as (
    select count(*) as n_courses from {{ ref('dim_courses') }}
),

per_course as (
    select
        served_date,
        model_version,
        route,
        is_control,
        course_id,
        count(*) as n_served,
        row_number() over (
            partition by served_date, model_version, route, is_control
            order by count(*) desc, course_id
        ) as served_rank
    from outcomes
    group by served_date, model_version, route, is_control, course_id
),

concentration as (
    select
        per_course.served_date,
        per_course.model_version,
        per_course.route,
        per_course.is_control,
        count(*) as n_courses_served,
        sum(case when per_course.served_rank <= greatest(1, ceil(catalogue.n_courses * 0.01)) then per_course.n_served else 0 end)
            as n_served_top_1pct,
        max(catalogue.n_courses) as n_catalogue_courses
    from per_course
    cross join catalogue
    group by per_course.served_date, per_course.model_version, per_course.route, per_course.is_control
),

rates as (
    select
        served_date,
        model_version,
        route,
        is_control,
        count(*) as n_served,
        count(case when reported_outcome is not null then 1 end) as n_impressions,
        count(distinct learner_id) as n_learners,
        count(case when outcome is not null then 1 end) as n_with_outcome,
        count(case when is_clicked then 1 end) as n_clicked,
        count(case when is_enrolled then 1 end) as n_enrolled,
        count(case when is_completed then 1 end) as n_completed,
        max({{ as_of }}) as as_of
    from outcomes
    group by served_date, model_version, route, is_control
)

select
    rates.served_date,
    rates.model_version,
    rates.route,
    rates.is_control,
    rates.n_served,
    rates.n_impressions,
    rates.n_learners,
    rates.n_with_outcome,
    rates.n_clicked,
    rates.n_enrolled,
    rates.n_completed,
    cast(rates.n_clicked as {{ learnrec.type_double() }}) / nullif(rates.n_with_outcome, 0) as click_through_rate,
    cast(rates.n_enrolled as {{ learnrec.type_double() }}) / nullif(rates.n_with_outcome, 0) as enrollment_rate,
    cast(rates.n_completed as {{ learnrec.type_double() }}) / nullif(rates.n_with_outcome, 0) as completion_rate,
    concentration.n_courses_served,
    cast(concentration.n_courses_served as {{ learnrec.type_double() }})
        / nullif(concentration.n_catalogue_courses, 0) as coverage,
    cast(concentration.n_served_top_1pct as {{ learnrec.type_double() }}) / rates.n_served as top_1pct_course_share,
    rates.as_of
from rates
inner join concentration
    on rates.served_date = concentration.served_date
    and rates.model_version = concentration.model_version
    and rates.route = concentration.route
    and rates.is_control = concentration.is_control
