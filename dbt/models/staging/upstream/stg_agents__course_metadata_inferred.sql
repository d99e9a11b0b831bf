{#- Empty until the AI Metadata Agent has written raw.course_metadata_inferred. -#}
{%- set inferred = learnrec.optional_source('agents', 'course_metadata_inferred') -%}
{%- if inferred is not none %}
select
    cast(course_id as {{ dbt.type_string() }}) as course_id,
    cast(skill_tags as {{ learnrec.type_string_array() }}) as skill_tags,
    cast(difficulty_score as {{ learnrec.type_double() }}) as difficulty_score,
    cast(prerequisites as {{ learnrec.type_string_array() }}) as prerequisites,
    lower(cast(provenance as {{ dbt.type_string() }})) as provenance,
    cast(model as {{ dbt.type_string() }}) as model,
    cast(prompt_version as {{ dbt.type_string() }}) as prompt_version,
    {{ learnrec.to_utc_timestamp('inferred_at') }} as inferred_at
from {{ inferred }}
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as course_id,
    cast(null as {{ learnrec.type_string_array() }}) as skill_tags,
    cast(null as {{ learnrec.type_double() }}) as difficulty_score,
    cast(null as {{ learnrec.type_string_array() }}) as prerequisites,
    cast(null as {{ dbt.type_string() }}) as provenance,
    cast(null as {{ dbt.type_string() }}) as model,
    cast(null as {{ dbt.type_string() }}) as prompt_version,
    cast(null as {{ learnrec.type_timestamp_utc() }}) as inferred_at
where 1 = 0
{%- endif %}
