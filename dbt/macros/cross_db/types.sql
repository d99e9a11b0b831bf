{# Types dbt has no cross-database macro for. #}

{% macro type_timestamp_utc() -%}
    {{ return(adapter.dispatch('type_timestamp_utc', 'learnrec')()) }}
{%- endmacro %}
{% macro default__type_timestamp_utc() -%} timestamp with time zone {%- endmacro %}
{% macro snowflake__type_timestamp_utc() -%} timestamp_tz {%- endmacro %}

{% macro type_string_array() -%}
    {{ return(adapter.dispatch('type_string_array', 'learnrec')()) }}
{%- endmacro %}
{% macro default__type_string_array() -%} varchar[] {%- endmacro %}
{% macro snowflake__type_string_array() -%} array {%- endmacro %}

{% macro type_double_array() -%}
    {{ return(adapter.dispatch('type_double_array', 'learnrec')()) }}
{%- endmacro %}
{% macro default__type_double_array() -%} double[] {%- endmacro %}
{% macro snowflake__type_double_array() -%} array {%- endmacro %}

{# 64-bit floating point (dbt.type_float() is 32-bit FLOAT on DuckDB; Snowflake's FLOAT is 64-bit). #}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'learnrec')()) }}
{%- endmacro %}
{% macro default__type_double() -%} double {%- endmacro %}
{% macro snowflake__type_double() -%} float {%- endmacro %}
