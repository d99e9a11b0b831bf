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

{# Does the array of strings hold `value` (a plain word)? On Snowflake by its JSON text, which
   quotes every element: fakesnow cannot bind array_contains or array_to_string on a stored ARRAY
   column (dbt/README.md, Snowflake and fakesnow). #}
{% macro array_contains_string(expression, value) -%}
    {{ return(adapter.dispatch('array_contains_string', 'learnrec')(expression, value)) }}
{%- endmacro %}
{% macro default__array_contains_string(expression, value) -%} list_contains({{ expression }}, '{{ value }}') {%- endmacro %}
{% macro snowflake__array_contains_string(expression, value) -%}
    to_varchar({{ expression }}) like '%"{{ value }}"%'
{%- endmacro %}
