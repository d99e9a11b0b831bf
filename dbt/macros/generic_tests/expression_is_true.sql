{# Every row satisfies `expression` (an invariant between columns of one row). #}
{% test expression_is_true(model, expression, where_clause=none) %}
select *
from {{ model }}
where not ({{ expression }})
{%- if where_clause %} and ({{ where_clause }}){% endif %}
{% endtest %}
