{#
  raw.served_recommendations and raw.notification_events are written by the apps and the nudge
  sender, possibly long after this project is first deployed. Creating them empty (if absent)
  keeps `dbt build` working on a fresh warehouse; the column lists are the contracts the writers
  must follow (documented in models/staging/feedback/_feedback__sources.yml).
#}
{% macro feedback_table_columns() -%}
    {{ return({
        'served_recommendations': [
            ('log_id', dbt.type_string()),
            ('learner_id', dbt.type_string()),
            ('course_id', dbt.type_string()),
            ('model_version', dbt.type_string()),
            ('signals_used', learnrec.type_string_array()),
            ('rank_at_serve', dbt.type_int()),
            ('served_at', learnrec.type_timestamp_utc()),
            ('outcome', dbt.type_string()),
            ('outcome_recorded_at', learnrec.type_timestamp_utc()),
            ('received_at', learnrec.type_timestamp_utc()),
            ('is_control', dbt.type_boolean()),
        ],
        'notification_events': [
            ('notification_id', dbt.type_string()),
            ('learner_id', dbt.type_string()),
            ('channel', dbt.type_string()),
            ('nudge_type', dbt.type_string()),
            ('course_id', dbt.type_string()),
            ('status', dbt.type_string()),
            ('provider', dbt.type_string()),
            ('provider_message_id', dbt.type_string()),
            ('event_at', learnrec.type_timestamp_utc()),
            ('recorded_at', learnrec.type_timestamp_utc()),
        ],
    }) }}
{%- endmacro %}

{# The hook statements (one per on-run-start entry, so every adapter runs them as single statements). #}
{% macro create_feedback_schema() -%}
    create schema if not exists {{ source('feedback', 'served_recommendations').include(identifier=false) }}
{%- endmacro %}

{% macro create_feedback_table(table) -%}
    {%- set columns = learnrec.feedback_table_columns()[table] -%}
    create table if not exists {{ source('feedback', table) }} (
    {%- for name, type in columns %}
        {{ name }} {{ type }}{{ "," if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}

{# A column added to a feedback contract after the table was first created (is_control, from the A/B
   control group): older tables get it, null, which reads as the column's default. #}
{% macro add_feedback_column(table, column) -%}
    {%- set type = (learnrec.feedback_table_columns()[table] | selectattr(0, 'equalto', column) | first)[1] -%}
    alter table {{ source('feedback', table) }} add column if not exists {{ column }} {{ type }}
{%- endmacro %}
