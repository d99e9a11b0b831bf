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

{% macro create_feedback_tables() -%}
    {%- if execute -%}
        {%- set raw_schema = source('feedback', 'served_recommendations').schema -%}
        {%- do adapter.create_schema(api.Relation.create(database=target.database, schema=raw_schema)) -%}
        {%- for table, columns in learnrec.feedback_table_columns().items() -%}
            {%- set relation = source('feedback', table) -%}
            {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
                {%- call statement('create_' ~ table) -%}
                    create table if not exists {{ relation }} (
                    {%- for name, type in columns %}
                        {{ name }} {{ type }}{{ "," if not loop.last }}
                    {%- endfor %}
                    )
                {%- endcall -%}
                {{ log("created empty " ~ relation ~ " (no feedback reported yet)", info=true) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
