{# JSON handling: text in DuckDB, VARIANT on Snowflake. #}

{# A JSON value (object or text) as its JSON text. #}
{% macro json_to_text(expression) -%}
    {{ return(adapter.dispatch('json_to_text', 'learnrec')(expression)) }}
{%- endmacro %}
{% macro default__json_to_text(expression) -%}
    cast({{ expression }} as varchar)
{%- endmacro %}
{% macro snowflake__json_to_text(expression) -%}
    to_varchar({{ expression }})
{%- endmacro %}
