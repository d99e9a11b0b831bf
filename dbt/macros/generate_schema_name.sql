{#
  Custom schemas are used verbatim (staging, intermediate, marts), not prefixed with the target
  schema: the layout is part of the platform's contract (notes/INTERFACES.md), and every
  environment is a separate warehouse (DuckDB file / Snowflake database).
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
