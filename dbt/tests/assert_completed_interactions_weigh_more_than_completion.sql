{#
  The weight formula's main promise: a completed course (not an explicit negative) weighs at least
  the completion weight minus the skip penalty, i.e. more than any interaction that only searched
  and clicked.
#}
{%- set w = var('interaction_weights') -%}
select learner_id, course_id, weight
from {{ ref('fct_learner_course_interactions') }}
where completed
  and not is_explicit_negative
  and weight < {{ w.completion }} - {{ w.skip_after_watching }}
