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

{#
  One row per element of a JSON array column: a FROM clause exposing `<alias>_position` (1-based)
  and `<alias>_value` (the element as JSON) beside the columns of `relation`.
#}
{% macro json_array_elements(relation, column, alias) -%}
    {{ return(adapter.dispatch('json_array_elements', 'learnrec')(relation, column, alias)) }}
{%- endmacro %}
{% macro default__json_array_elements(relation, column, alias) -%}
    (
        select
            source_rows.*,
            unnest(range(1, len(json_extract(source_rows.{{ column }}, '$[*]')) + 1)) as {{ alias }}_position,
            unnest(json_extract(source_rows.{{ column }}, '$[*]')) as {{ alias }}_value
        from {{ relation }} as source_rows
    )
{%- endmacro %}
{% macro snowflake__json_array_elements(relation, column, alias) -%}
    (
        select
            source_rows.*,
            elements.index + 1 as {{ alias }}_position,
            elements.value as {{ alias }}_value
        from {{ relation }} as source_rows,
            lateral flatten(input => parse_json(source_rows.{{ column }})) as elements
    )
{%- endmacro %}

{# A scalar field of a JSON element produced by json_array_elements, as text. #}
{% macro json_field_text(json_value, field) -%}
    {{ return(adapter.dispatch('json_field_text', 'learnrec')(json_value, field)) }}
{%- endmacro %}
{% macro default__json_field_text(json_value, field) -%}
    json_extract_string({{ json_value }}, '$.{{ field }}')
{%- endmacro %}
{% macro snowflake__json_field_text(json_value, field) -%}
    {{ json_value }}:{{ field }}::varchar
{%- endmacro %}
