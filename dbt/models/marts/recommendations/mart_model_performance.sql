{#
  Outcome rates per model_version and serving day, from fct_recommendation_outcomes: what the
  monitoring DAG alerts on and what a model promotion is judged by after the fact. Rates are over
  the recommendations whose outcome is known (not pending); mean_reciprocal_rank_clicked is the
  mean of 1/rank_at_serve over clicked impressions.
#}
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
    avg(case when is_clicked then 1.0 / rank_at_serve end) as mean_reciprocal_rank_clicked
from {{ ref('fct_recommendation_outcomes') }}
group by model_version, served_date
