{# The dimensions cover the operational snapshots one to one (no learner or course lost by a join). #}
select 'learner' as kind, count(*) as n_missing
from {{ ref('stg_operational__learners') }} as learners
left join {{ ref('dim_learners') }} as dim on learners.learner_id = dim.learner_id
where dim.learner_id is null
having count(*) > 0
union all
select 'course' as kind, count(*) as n_missing
from {{ ref('stg_operational__courses') }} as courses
left join {{ ref('dim_courses') }} as dim on courses.course_id = dim.course_id
where dim.course_id is null
having count(*) > 0
