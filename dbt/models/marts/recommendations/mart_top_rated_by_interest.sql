{#
  The no-results fallback (product: "surface top-rated courses in learner's declared interest
  area"): per interest area (= catalogue domain) the `fallback_top_n` courses with the highest
  quality_score (dim_courses: ratings and completion, prior-shrunk), ties broken by n_ratings then
  course_id.
#}
with ranked as (
    select
        domain as interest_area,
        course_id,
        title,
        quality_score,
        avg_rating,
        n_ratings,
        completion_rate,
        row_number() over (
            partition by domain
            order by quality_score desc, n_ratings desc, course_id
        ) as rating_rank
    from {{ ref('dim_courses') }}
)

select
    interest_area,
    course_id,
    cast(rating_rank as {{ dbt.type_int() }}) as rating_rank,
    title,
    quality_score,
    avg_rating,
    n_ratings,
    completion_rate
from ranked
where rating_rank <= {{ var('fallback_top_n') }}
