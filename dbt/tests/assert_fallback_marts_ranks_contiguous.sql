{#
  The fallback marts list ranks 1..n without gaps, and every career goal / interest area that has
  courses gets the full top-n (or all its candidates): the fallbacks never serve an empty list.
#}
{%- set top_n = var('fallback_top_n') -%}
with popular as (
    select career_goal as grp, count(*) as n_rows, max(popularity_rank) as max_rank
    from {{ ref('mart_popular_courses_by_career') }}
    group by career_goal
),

popular_expected as (
    select least({{ top_n }}, (select count(*) from {{ ref('dim_courses') }})) as n_expected
),

top_rated as (
    select interest_area as grp, count(*) as n_rows, max(rating_rank) as max_rank
    from {{ ref('mart_top_rated_by_interest') }}
    group by interest_area
),

domains as (
    select domain as grp, least({{ top_n }}, count(*)) as n_expected
    from {{ ref('dim_courses') }}
    group by domain
)

select 'popular' as mart, goals.career_goal as grp, popular.n_rows, popular.max_rank
from {{ ref('stg_operational__career_goals') }} as goals
cross join popular_expected
left join popular on goals.career_goal = popular.grp
where popular.grp is null or popular.n_rows <> popular.max_rank or popular.n_rows <> popular_expected.n_expected
union all
select 'top_rated' as mart, domains.grp, top_rated.n_rows, top_rated.max_rank
from domains
left join top_rated on domains.grp = top_rated.grp
where top_rated.grp is null or top_rated.n_rows <> top_rated.max_rank or top_rated.n_rows <> domains.n_expected
