{#- Empty until the dropout model has scored learners into features.dropout_scores. -#}
{%- set scores = learnrec.optional_source('features', 'dropout_scores') -%}
{%- if scores is not none %}
select
    cast(learner_id as {{ dbt.type_string() }}) as learner_id,
    cast(score_date as date) as score_date,
    cast(dropout_probability as {{ learnrec.type_double() }}) as dropout_probability,
    cast(model_version as {{ dbt.type_string() }}) as model_version
from {{ scores }}
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as learner_id,
    cast(null as date) as score_date,
    cast(null as {{ learnrec.type_double() }}) as dropout_probability,
    cast(null as {{ dbt.type_string() }}) as model_version
where 1 = 0
{%- endif %}
