{#
  Incremental processing of the event tables (DESIGN principle 4: a night's cost grows with the
  new day, not with history).

  Every incremental model keeps, per row, the newest `ingested_at` of the events it was built
  from. A run picks the raw events ingested after the newest such value in the model (the
  watermark) and rebuilds whatever they touch: whole event dates (so late arrivals, which carry
  their original event_date, are folded into the right past day) or whole (learner, course)
  pairs. The rebuilt slices replace the old ones (delete+insert on the slice key), so the
  result equals a full refresh by construction; tests/dbt/test_incremental.py checks it.
#}

{# The model's watermark: newest ingested_at already folded in (far past when empty). #}
{% macro ingest_watermark(column) -%}
    (
        select coalesce(
            max({{ column }}),
            {{ dbt.cast("'1970-01-01 00:00:00+00:00'", learnrec.type_timestamp_utc()) }}
        )
        from {{ this }}
    )
{%- endmacro %}

{# Raw events (the source table, not the deduplicating staging view: a cheap filter on ingested_at) that
   arrived after the model's watermark; only their keys are used, so duplicates among them are harmless. #}
{% macro events_arrived_since_watermark(events_relation, watermark_column) -%}
    select *
    from {{ events_relation }}
    where ingested_at > {{ learnrec.ingest_watermark(watermark_column) }}
{%- endmacro %}

{#
  Sum of quiz scores in ten-thousandths as an exact integer. Quiz scores carry at most four
  decimals (contracts.events.identity_string), so this sum, unlike a floating-point sum or avg,
  does not depend on the order rows are added in: an incremental build and a full refresh,
  which scan rows in different orders, give bit-identical averages derived from it.
#}
{% macro quiz_score_sum_e4(condition) -%}
    cast(coalesce(sum(case when {{ condition }} then round(quiz_score * 10000) end), 0) as {{ dbt.type_bigint() }})
{%- endmacro %}

{# Mean quiz score in percent from an exact sum in ten-thousandths and a count (null when 0). #}
{% macro quiz_score_mean(sum_e4, count) -%}
    ({{ sum_e4 }} / 10000.0 / nullif({{ count }}, 0))
{%- endmacro %}

{# First click (click window), watch (enrolment window) and completion (completion window) after
   served_at among the `events` rows joined to `served`, as aggregates over a group by served row. #}
{% macro first_outcome_times(events, served) -%}
    min(case when {{ events }}.event_type = 'click'
              and {{ events }}.event_at < {{ dbt.dateadd('hour', var('click_window_hours'), served ~ '.served_at') }}
        then {{ events }}.event_at end) as clicked_at,
    min(case when {{ events }}.event_type = 'watch'
              and {{ events }}.event_at < {{ dbt.dateadd('hour', var('enroll_window_hours'), served ~ '.served_at') }}
        then {{ events }}.event_at end) as enrolled_at,
    min(case when {{ events }}.event_type = 'complete' then {{ events }}.event_at end) as completed_at
{%- endmacro %}

{# The earlier of two timestamps, either of which may be null (Snowflake's least is null then). #}
{% macro earlier(a, b) -%}
    case when {{ b }} is null or {{ a }} <= {{ b }} then coalesce({{ a }}, {{ b }}) else {{ b }} end
{%- endmacro %}

{# The later of two timestamps, either of which may be null. #}
{% macro later(a, b) -%}
    case when {{ b }} is null or {{ a }} >= {{ b }} then coalesce({{ a }}, {{ b }}) else {{ b }} end
{%- endmacro %}

{# Serving days of fct_recommendation_outcomes holding a row rebuilt since this daily mart's newest
   as_of (`as_of`: the expression of a row's newest input arrival): the days a run recomputes. #}
{% macro outcome_days_to_rebuild(as_of) -%}
    select distinct served_date
    from {{ ref('fct_recommendation_outcomes') }}
    where {{ as_of }} > (select max(as_of) from {{ this }}) or (select max(as_of) from {{ this }}) is null
{%- endmacro %}
