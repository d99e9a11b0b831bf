{#- Empty until the vector index has embedded courses into features.course_embeddings. -#}
{%- set embeddings = learnrec.optional_source('features', 'course_embeddings') -%}
{%- if embeddings is not none %}
select
    cast(course_id as {{ dbt.type_string() }}) as course_id,
    cast(embedding_vector as {{ learnrec.type_double_array() }}) as embedding_vector,
    {{ learnrec.to_utc_timestamp('indexed_at') }} as indexed_at
from {{ embeddings }}
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as course_id,
    cast(null as {{ learnrec.type_double_array() }}) as embedding_vector,
    cast(null as {{ learnrec.type_timestamp_utc() }}) as indexed_at
where 1 = 0
{%- endif %}
