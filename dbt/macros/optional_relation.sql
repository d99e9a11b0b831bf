{#
  Inputs written by other stages (Spark features, the metadata agent, the vector index) are used
  when they exist and replaced by typed nulls when they do not, so the project builds on a fresh
  warehouse and picks them up on the next run once they land. Resolved at run time (`execute`),
  never at parse time, so the manifest stays independent of the warehouse's state.
#}
{% macro optional_source(source_name, table_name) -%}
    {%- set declared = source(source_name, table_name) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(declared.database, declared.schema, declared.identifier)) }}
{%- endmacro %}

{% macro optional_relation(schema_dot_table) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set schema, identifier = schema_dot_table.split('.') -%}
    {{ return(adapter.get_relation(target.database, schema, identifier)) }}
{%- endmacro %}
