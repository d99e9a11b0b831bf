{#
  One row per course, shaped after the product's Course Metadata (contracts.product.CourseMetadata).

  quality_score in [0, 1] blends ratings and completion (weights in dbt_project.yml vars):
    quality_score = s * (bayesian_rating - 1) / 4 + (1 - s) * (n_completers + 1) / (n_starters + 2)
  with s = quality_rating_share, bayesian_rating the prior-shrunk average rating
  (int_course_ratings_aggregated) and the completion term Laplace-smoothed, so a course nobody
  has rated or started scores from the priors instead of 0 or 1.
#}
{%- set share = var('quality_rating_share') -%}

with

courses as (
    select * from {{ ref('stg_operational__courses') }}
),

embeddings as (
    select *
    from (
        select
            embeddings.*,
            row_number() over (partition by course_id order by indexed_at desc) as recency_rank
        from {{ ref('stg_features__course_embeddings') }} as embeddings
    ) as ranked
    where recency_rank = 1
)

select
    courses.course_id,
    courses.title,
    courses.description,
    courses.format,
    courses.duration_hours,
    courses.domain,
    courses.level,
    metadata.skill_tags,
    metadata.difficulty_score,
    metadata.prerequisites,
    metadata.metadata_source,
    metadata.metadata_inferred_at,
    ratings.avg_rating,
    cast(ratings.n_ratings as {{ dbt.type_bigint() }}) as n_ratings,
    cast(coalesce(completion.n_learners, 0) as {{ dbt.type_bigint() }}) as n_learners,
    completion.completion_rate,
    cast(
        {{ share }} * (ratings.bayesian_rating - 1.0) / 4.0
        + (1.0 - {{ share }}) * (coalesce(completion.n_completers, 0) + 1.0)
            / (coalesce(completion.n_starters, 0) + 2.0)
        as {{ learnrec.type_double() }}
    ) as quality_score,
    embeddings.embedding_vector,
    embeddings.course_id is not null as rag_indexed,
    embeddings.indexed_at as rag_indexed_at,
    courses.published_at
from courses
inner join {{ ref('int_course_metadata_resolved') }} as metadata on courses.course_id = metadata.course_id
inner join {{ ref('int_course_ratings_aggregated') }} as ratings on courses.course_id = ratings.course_id
left join {{ ref('int_course_completion_rates') }} as completion on courses.course_id = completion.course_id
left join embeddings on courses.course_id = embeddings.course_id
