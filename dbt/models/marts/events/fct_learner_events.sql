{#
  Every valid learner event, typed and deduplicated: the table analysts and the feature jobs
  query. Incremental by event date: a night rebuilds the dates that received events since the
  newest ingested_at already here (the new day, plus past days that late arrivals touched), and
  replaces them whole, so it always equals a full refresh (tests/dbt/test_incremental.py).
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_date',
        on_schema_change='fail',
    )
}}

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
    batch_id,
    ingested_at,
    is_late_arrival
from {{ ref('stg_ingest__learner_events') }}
{% if is_incremental() %}
where event_date in (
    select distinct event_date
    from ({{ learnrec.events_arrived_since_watermark(source('ingest', 'learner_events'), 'ingested_at') }}) as arrived
)
{% endif %}
