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

{# Elements of `first` followed by those of `second` not already present (order kept). #}
{% macro array_union(first, second) -%}
    {{ return(adapter.dispatch('array_union', 'learnrec')(first, second)) }}
{%- endmacro %}
{% macro default__array_union(first, second) -%}
    list_concat({{ first }}, list_filter({{ second }}, lambda x: not list_contains({{ first }}, x)))
{%- endmacro %}
{% macro snowflake__array_union(first, second) -%}
    array_cat({{ first }}, array_except({{ second }}, {{ first }}))
{%- endmacro %}

{# Number of elements (0 for an empty array, null for null). #}
{% macro array_length(expression) -%}
    {{ return(adapter.dispatch('array_length', 'learnrec')(expression)) }}
{%- endmacro %}
{% macro default__array_length(expression) -%} len({{ expression }}) {%- endmacro %}
{% macro snowflake__array_length(expression) -%} array_size({{ expression }}) {%- endmacro %}
