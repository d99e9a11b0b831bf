{# Attributed outcome times lie inside their documented windows after served_at, and stages are consistent. #}
select *
from {{ ref('fct_recommendation_outcomes') }}
where clicked_at < served_at
   or clicked_at >= {{ dbt.dateadd('hour', var('click_window_hours'), 'served_at') }}
   or enrolled_at < served_at
   or enrolled_at >= {{ dbt.dateadd('hour', var('enroll_window_hours'), 'served_at') }}
   or completed_at < served_at
   or completed_at >= {{ dbt.dateadd('hour', var('completion_window_hours'), 'served_at') }}
   or (outcome = 'ignored' and (is_clicked or is_enrolled or is_completed))
   or (outcome = 'completed' and not is_completed)
