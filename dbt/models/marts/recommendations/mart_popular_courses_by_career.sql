{#
  The cold-start fallback (product: "Cold-start defaults to most popular courses in stated career
  category until 10 behavioural events are recorded"): per career goal, the top courses by how
  many learners with that goal engaged with them (clicked, watched, completed or took a quiz) in
  the trailing `popularity_window_days` up to the run date (var run_date; default the newest event
  date). Every career goal gets `fallback_top_n` courses: ties and goals with little activity are
  filled by popularity among all learners, then by quality_score, then course_id.
  Only the window's days of fct_learner_events are read (bounded cost).
#}
{%- set window_days = var('popularity_window_days') -%}

with

window_end as (
    {% if var('run_date', none) %}
    select cast('{{ var("run_date") }}' as date) as end_date
    {% else %}
    select max(event_date) as end_date from {{ ref('fct_learner_events') }}
    {% endif %}
),

engaged as (
    select distinct events.learner_id, events.course_id
    from {{ ref('fct_learner_events') }} as events
    cross join window_end
    where events.event_date > {{ dbt.dateadd('day', -window_days, 'window_end.end_date') }}
      and events.event_date <= window_end.end_date
      and events.event_type in ('click', 'watch', 'complete', 'quiz_score')
),

engaged_with_goal as (
    select engaged.course_id, learners.career_goal
    from engaged
    inner join {{ ref('dim_learners') }} as learners on engaged.learner_id = learners.learner_id
),

overall as (
    select course_id, count(*) as n_learners_overall
    from engaged
    group by course_id
),

by_goal as (
    select career_goal, course_id, count(*) as n_learners
    from engaged_with_goal
    where career_goal is not null
    group by career_goal, course_id
),

candidates as (
    select
        goals.career_goal,
        goals.domain as career_domain,
        courses.course_id,
        courses.domain as course_domain,
        courses.quality_score,
        coalesce(by_goal.n_learners, 0) as n_learners,
        coalesce(overall.n_learners_overall, 0) as n_learners_overall
    from {{ ref('stg_operational__career_goals') }} as goals
    cross join {{ ref('dim_courses') }} as courses
    left join by_goal on goals.career_goal = by_goal.career_goal and courses.course_id = by_goal.course_id
    left join overall on courses.course_id = overall.course_id
),

ranked as (
    select
        candidates.*,
        row_number() over (
            partition by career_goal
            order by n_learners desc, n_learners_overall desc, quality_score desc, course_id
        ) as popularity_rank
    from candidates
)

select
    ranked.career_goal,
    ranked.course_id,
    cast(ranked.popularity_rank as {{ dbt.type_int() }}) as popularity_rank,
    cast(ranked.n_learners as {{ dbt.type_bigint() }}) as n_learners,
    cast(ranked.n_learners_overall as {{ dbt.type_bigint() }}) as n_learners_overall,
    ranked.quality_score,
    ranked.course_domain,
    ranked.course_domain = ranked.career_domain as is_in_career_domain,
    cast({{ dbt.dateadd('day', -(window_days - 1), 'window_end.end_date') }} as date) as window_start_date,
    window_end.end_date as window_end_date
from ranked
cross join window_end
where ranked.popularity_rank <= {{ var('fallback_top_n') }}
