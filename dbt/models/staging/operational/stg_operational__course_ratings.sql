with source as (
    select * from {{ source('operational', 'course_ratings') }}
)

select
    cast(learner_id as {{ dbt.type_string() }}) as learner_id,
    cast(course_id as {{ dbt.type_string() }}) as course_id,
    cast(rating as {{ dbt.type_int() }}) as rating,
    {{ learnrec.to_utc_timestamp('rated_at') }} as rated_at
from source
