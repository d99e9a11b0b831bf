with source as (
    select * from {{ source('feedback', 'notification_events') }}
)

select
    cast(notification_id as {{ dbt.type_string() }}) as notification_id,
    cast(learner_id as {{ dbt.type_string() }}) as learner_id,
    lower(cast(channel as {{ dbt.type_string() }})) as channel,
    cast(nudge_type as {{ dbt.type_string() }}) as nudge_type,
    cast(course_id as {{ dbt.type_string() }}) as course_id,
    lower(cast(status as {{ dbt.type_string() }})) as status,
    cast(provider as {{ dbt.type_string() }}) as provider,
    cast(provider_message_id as {{ dbt.type_string() }}) as provider_message_id,
    {{ learnrec.to_utc_timestamp('event_at') }} as event_at,
    {{ learnrec.to_utc_timestamp('recorded_at') }} as recorded_at
from source
