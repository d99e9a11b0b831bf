{#- Empty until the Spark learner-features job has written features.learner_features. -#}
{%- set features = learnrec.optional_source('features', 'learner_features') -%}
{%- if features is not none %}
select
    cast(learner_id as {{ dbt.type_string() }}) as learner_id,
    cast(feature_date as date) as feature_date,
    cast(skill_vector as {{ learnrec.type_double_array() }}) as skill_vector,
    cast(engagement_score as {{ learnrec.type_double() }}) as engagement_score,
    lower(cast(preferred_format as {{ dbt.type_string() }})) as preferred_format,
    cast(affinity_score as {{ learnrec.type_double() }}) as affinity_score,
    {{ learnrec.to_utc_timestamp('style_updated_at') }} as learning_style_updated_at
from {{ features }}
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as learner_id,
    cast(null as date) as feature_date,
    cast(null as {{ learnrec.type_double_array() }}) as skill_vector,
    cast(null as {{ learnrec.type_double() }}) as engagement_score,
    cast(null as {{ dbt.type_string() }}) as preferred_format,
    cast(null as {{ learnrec.type_double() }}) as affinity_score,
    cast(null as {{ learnrec.type_timestamp_utc() }}) as learning_style_updated_at
where 1 = 0
{%- endif %}
