with source as (
    select * from {{ source('operational', 'skills') }}
)

select
    cast(skill_id as {{ dbt.type_string() }}) as skill_id,
    cast(name as {{ dbt.type_string() }}) as skill_name,
    cast(domain as {{ dbt.type_string() }}) as domain,
    cast(level as {{ dbt.type_int() }}) as skill_level,
    prerequisite_skill_ids
from source
