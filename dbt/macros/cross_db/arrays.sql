{#
  Arrays (lists): DuckDB LIST and Snowflake ARRAY. dbt ships array_construct/array_concat; these
  add what it lacks.
#}

{# Aggregate values into an array ordered by `order_by`, nulls skipped. #}
{% macro array_agg_ordered(expression, order_by) -%}
    {{ return(adapter.dispatch('array_agg_ordered', 'learnrec')(expression, order_by)) }}
{%- endmacro %}
{% macro default__array_agg_ordered(expression, order_by) -%}
    list({{ expression }} order by {{ order_by }}) filter (where {{ expression }} is not null)
{%- endmacro %}
{% macro snowflake__array_agg_ordered(expression, order_by) -%}
    array_agg({{ expression }}) within group (order by {{ order_by }})
{%- endmacro %}

{# An empty array typed like `type_string_array()`. #}
{% macro empty_string_array() -%}
    {{ return(adapter.dispatch('empty_string_array', 'learnrec')()) }}
{%- endmacro %}
{% macro default__empty_string_array() -%} cast([] as varchar[]) {%- endmacro %}
{% macro snowflake__empty_string_array() -%} array_construct() {%- endmacro %}

{#
  One row per element of an array column: a FROM clause exposing `<alias>_position` (1-based) and
  `<alias>_value` (the element as text) beside the columns of `relation` (a relation or a CTE
  name). Rows whose array is empty or null yield nothing.
#}
{% macro array_elements(relation, column, alias) -%}
    {{ return(adapter.dispatch('array_elements', 'learnrec')(relation, column, alias)) }}
{%- endmacro %}
{% macro default__array_elements(relation, column, alias) -%}
    (
        select
            source_rows.*,
            unnest(range(1, len(source_rows.{{ column }}) + 1)) as {{ alias }}_position,
            unnest(source_rows.{{ column }}) as {{ alias }}_value
        from {{ relation }} as source_rows
    )
{%- endmacro %}
{% macro snowflake__array_elements(relation, column, alias) -%}
    (
        select
            source_rows.*,
            elements.index + 1 as {{ alias }}_position,
            elements.value::varchar as {{ alias }}_value
        from {{ relation }} as source_rows,
            lateral flatten(input => source_rows.{{ column }}) as elements
    )
{%- endmacro %}

{# Number of elements (0 for an empty array, null for null). #}
{% macro array_length(expression) -%}
    {{ return(adapter.dispatch('array_length', 'learnrec')(expression)) }}
{%- endmacro %}
{% macro default__array_length(expression) -%} len({{ expression }}) {%- endmacro %}
{% macro snowflake__array_length(expression) -%} array_size({{ expression }}) {%- endmacro %}
