with source as (
    select * from {{ source('operational', 'learners') }}
)

select
    cast(learner_id as {{ dbt.type_string() }}) as learner_id,
    cast(first_name as {{ dbt.type_string() }}) as first_name,
    cast(email as {{ dbt.type_string() }}) as email,
    cast(push_token as {{ dbt.type_string() }}) as push_token,
    cast(career_goal as {{ dbt.type_string() }}) as career_goal,
    cast(current_role as {{ dbt.type_string() }}) as current_role,
    cast(interest_area as {{ dbt.type_string() }}) as interest_area,
    lower(cast(preferred_format as {{ dbt.type_string() }})) as declared_format,
    lower(cast(data_tier as {{ dbt.type_string() }})) as data_tier,
    cast(email_opt_in as {{ dbt.type_boolean() }}) as email_opt_in,
    cast(push_opt_in as {{ dbt.type_boolean() }}) as push_opt_in,
    cast(timezone as {{ dbt.type_string() }}) as timezone,
    {{ learnrec.to_utc_timestamp('signed_up_at') }} as signed_up_at,
    {{ learnrec.to_utc_timestamp('retention_expiry') }} as retention_expiry,
    {{ learnrec.to_utc_timestamp('updated_at') }} as updated_at,
    career_goal is not null as has_onboarding
from source
