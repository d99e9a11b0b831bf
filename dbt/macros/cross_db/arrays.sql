{#
  Arrays (lists): DuckDB LIST and Snowflake ARRAY. dbt ships array_construct/array_concat; this
  adds what it lacks.
#}

{# Number of elements (0 for an empty array, null for null). #}
{% macro array_length(expression) -%}
    {{ return(adapter.dispatch('array_length', 'learnrec')(expression)) }}
{%- endmacro %}
{% macro default__array_length(expression) -%} len({{ expression }}) {%- endmacro %}
{% macro snowflake__array_length(expression) -%} array_size({{ expression }}) {%- endmacro %}

{# Does the array hold the string `value`? #}
{% macro array_contains_string(expression, value) -%}
    {{ return(adapter.dispatch('array_contains_string', 'learnrec')(expression, value)) }}
{%- endmacro %}
{% macro default__array_contains_string(expression, value) -%} list_contains({{ expression }}, '{{ value }}') {%- endmacro %}
{% macro snowflake__array_contains_string(expression, value) -%} array_contains('{{ value }}'::variant, {{ expression }}) {%- endmacro %}
