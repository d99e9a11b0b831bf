{#
  The A/B control group's read-out per serving day: treatment (every learner outside the control
  group, whatever their route: intention to treat) against control (served the non-personalised
  fallback, exports.recommendations.control), click-through and enrolment rate differences with
  their 95% confidence intervals (macros/lift.sql). Rebuilt whole from mart_online_metrics, a few
  rows per day, so it follows that mart's incremental days for free.
#}
with

groups as (
    select
        served_date,
        sum(case when not is_control then n_with_outcome else 0 end) as n_treatment,
        sum(case when is_control then n_with_outcome else 0 end) as n_control,
        sum(case when not is_control then n_clicked else 0 end) as n_clicked_treatment,
        sum(case when is_control then n_clicked else 0 end) as n_clicked_control,
        sum(case when not is_control then n_enrolled else 0 end) as n_enrolled_treatment,
        sum(case when is_control then n_enrolled else 0 end) as n_enrolled_control
    from {{ ref('mart_online_metrics') }}
    group by served_date
)

select
    served_date,
    cast(n_treatment as {{ dbt.type_bigint() }}) as n_treatment,
    cast(n_control as {{ dbt.type_bigint() }}) as n_control,
    {{ learnrec.two_proportion_lift('click_through', 'n_clicked_treatment', 'n_treatment', 'n_clicked_control', 'n_control') }},
    {{ learnrec.two_proportion_lift('enrollment', 'n_enrolled_treatment', 'n_treatment', 'n_enrolled_control', 'n_control') }}
from groups
