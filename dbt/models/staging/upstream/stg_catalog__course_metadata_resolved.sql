select
    cast(course_id as {{ dbt.type_string() }}) as course_id,
    cast(skill_tags as {{ learnrec.type_string_array() }}) as skill_tags,
    cast(difficulty_score as {{ learnrec.type_double() }}) as difficulty_score,
    cast(prerequisites as {{ learnrec.type_string_array() }}) as prerequisites,
    lower(cast(metadata_source as {{ dbt.type_string() }})) as metadata_source,
    {{ learnrec.to_utc_timestamp('metadata_inferred_at') }} as metadata_inferred_at
from {{ source('catalog', 'course_metadata_resolved') }}
