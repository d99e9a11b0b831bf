{#
  Online lift of one rate: treatment minus control, with its 95% confidence interval by the
  normal approximation of the difference of two proportions (Wald: z = 1.959964,
  se = sqrt(p_t (1 - p_t) / n_t + p_c (1 - p_c) / n_c)). A group's rate is null while it has no
  impression with a known outcome, and so are the lift and its bounds: nothing to compare.
#}
{% macro two_proportion_lift(name, successes_t, n_t, successes_c, n_c) -%}
    {%- set p_t = 'cast(' ~ successes_t ~ ' as ' ~ learnrec.type_double() ~ ') / nullif(' ~ n_t ~ ', 0)' -%}
    {%- set p_c = 'cast(' ~ successes_c ~ ' as ' ~ learnrec.type_double() ~ ') / nullif(' ~ n_c ~ ', 0)' -%}
    {%- set lift = '(' ~ p_t ~ ') - (' ~ p_c ~ ')' -%}
    {%- set half_width = '1.959964 * sqrt((' ~ p_t ~ ') * (1 - (' ~ p_t ~ ')) / nullif(' ~ n_t ~ ', 0) + (' ~ p_c ~ ') * (1 - (' ~ p_c ~ ')) / nullif(' ~ n_c ~ ', 0))' -%}
    {{ p_t }} as {{ name }}_treatment,
    {{ p_c }} as {{ name }}_control,
    {{ lift }} as {{ name }}_lift,
    {{ lift }} - {{ half_width }} as {{ name }}_lift_lower,
    {{ lift }} + {{ half_width }} as {{ name }}_lift_upper
{%- endmacro %}
