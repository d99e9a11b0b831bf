{#
  Ratings per course, with a Bayesian average that shrinks courses with few ratings toward a
  prior (var quality_rating_prior_mean, weighted as var quality_rating_prior_weight ratings):
  bayesian_rating = (sum of ratings + prior_weight * prior_mean) / (n_ratings + prior_weight).
  The latest rating of each learner counts (learners may re-rate).
#}
{%- set prior_mean = var('quality_rating_prior_mean') -%}
{%- set prior_weight = var('quality_rating_prior_weight') -%}

with latest_ratings as (
    select *
    from (
        select
            ratings.*,
            row_number() over (partition by learner_id, course_id order by rated_at desc) as recency_rank
        from {{ ref('stg_operational__course_ratings') }} as ratings
    ) as ranked
    where recency_rank = 1
),

courses as (
    select course_id from {{ ref('stg_operational__courses') }}
)

select
    courses.course_id,
    count(latest_ratings.rating) as n_ratings,
    avg(cast(latest_ratings.rating as {{ learnrec.type_double() }})) as avg_rating,
    (coalesce(sum(latest_ratings.rating), 0) + {{ prior_weight }} * {{ prior_mean }})
        / (count(latest_ratings.rating) + {{ prior_weight }}) as bayesian_rating
from courses
left join latest_ratings on courses.course_id = latest_ratings.course_id
group by courses.course_id
