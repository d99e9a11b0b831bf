with source as (
    select * from {{ source('operational', 'courses') }}
)

select
    cast(course_id as {{ dbt.type_string() }}) as course_id,
    cast(title as {{ dbt.type_string() }}) as title,
    cast(description as {{ dbt.type_string() }}) as description,
    cast(syllabus as {{ dbt.type_string() }}) as syllabus_json,
    lower(cast(format as {{ dbt.type_string() }})) as format,
    cast(duration_hours as {{ learnrec.type_double() }}) as duration_hours,
    lower(cast(level as {{ dbt.type_string() }})) as level,
    instructor_prerequisites,
    cast(domain as {{ dbt.type_string() }}) as domain,
    {{ learnrec.to_utc_timestamp('published_at') }} as published_at,
    {{ learnrec.to_utc_timestamp('updated_at') }} as updated_at
from source
