{#
  Typed learner events, one row per event_id.

  Ingest already deduplicates within and across its batches; this is the second line of defence
  (a replayed batch, a manual backfill): the first arrival wins. The window partitions by
  learner_id, course_id and event_date as well as event_id: all of them are functions of the
  event's content (event_id hashes them), so this is the same dedup, and the incremental models'
  filters on event_date or on (learner_id, course_id) are pushed below the window instead of
  deduplicating all history every night.
#}
with

source as (
    select * from {{ source('ingest', 'learner_events') }}
),

typed as (
    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(learner_id as {{ dbt.type_string() }}) as learner_id,
        lower(cast(event_type as {{ dbt.type_string() }})) as event_type,
        cast(course_id as {{ dbt.type_string() }}) as course_id,
        {{ learnrec.to_utc_timestamp('event_at') }} as event_at,
        cast(event_date as date) as event_date,
        cast(watch_duration_seconds as {{ dbt.type_int() }}) as watch_duration_seconds,
        cast(quiz_score as {{ learnrec.type_double() }}) as quiz_score,
        cast(module_id as {{ dbt.type_string() }}) as module_id,
        {{ learnrec.json_to_text('metadata') }} as metadata_json,
        cast(source as {{ dbt.type_string() }}) as source_system,
        cast(source_uri as {{ dbt.type_string() }}) as source_uri,
        cast(source_partition as {{ dbt.type_int() }}) as source_partition,
        cast(source_offset as {{ dbt.type_bigint() }}) as source_offset,
        cast(batch_id as {{ dbt.type_string() }}) as batch_id,
        {{ learnrec.to_utc_timestamp('ingested_at') }} as ingested_at
    from source
),

ranked as (
    select
        typed.*,
        row_number() over (
            partition by learner_id, course_id, event_date, event_id
            order by ingested_at, batch_id, source_uri, source_offset
        ) as arrival_rank
    from typed
)

select
    event_id,
    learner_id,
    event_type,
    course_id,
    event_at,
    event_date,
    watch_duration_seconds,
    quiz_score,
    module_id,
    metadata_json,
    source_system,
    source_uri,
    source_partition,
    source_offset,
    batch_id,
    ingested_at,
    -- arrived after its UTC day had closed: a nightly build of that day may have missed it
    cast(ingested_at as date) > event_date as is_late_arrival
from ranked
where arrival_rank = 1
