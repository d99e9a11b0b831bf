{# A timestamp as a UTC timestamp-with-time-zone, whatever the raw column's flavour. #}
{% macro to_utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'learnrec')(expression)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(expression) -%}
    cast({{ expression }} as timestamp with time zone)
{%- endmacro %}

{# TIMESTAMP_TZ keeps the offset it was written with; normalise every value to UTC. #}
{% macro snowflake__to_utc_timestamp(expression) -%}
    convert_timezone('UTC', {{ expression }})::timestamp_tz
{%- endmacro %}

{# Seconds between two timestamps, fractional. #}
{% macro seconds_between(start, end) -%}
    ({{ dbt.datediff(start, end, 'millisecond') }} / 1000.0)
{%- endmacro %}
