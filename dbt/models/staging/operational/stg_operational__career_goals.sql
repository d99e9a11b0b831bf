with source as (
    select * from {{ source('operational', 'career_goals') }}
)

select
    cast(career_goal as {{ dbt.type_string() }}) as career_goal,
    cast(domain as {{ dbt.type_string() }}) as domain,
    target_skill_ids
from source
