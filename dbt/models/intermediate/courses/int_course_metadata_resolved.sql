{#
  Skill tags, difficulty and prerequisites per course: the AI Metadata Agent's latest inference
  where it exists, otherwise derived from what the instructor uploaded (documented in README.md):
    skill_tags       taxonomy skills named by the syllabus module titles, in order of appearance
    difficulty_score the declared level: beginner 1.5, intermediate 3.0, advanced 4.5
    prerequisites    instructor-flagged, followed by the agent's additions when present (each
                     course once, first mention wins; merged row-wise rather than with array
                     functions, which run the same on DuckDB and Snowflake)
#}
with

courses as (
    select * from {{ ref('stg_operational__courses') }}
),

skills as (
    select * from {{ ref('stg_operational__skills') }}
),

syllabus_skills as (
    select
        modules.course_id,
        skills.skill_id,
        min(modules.module_position) as first_position
    from {{ ref('int_course_modules') }} as modules
    inner join skills on modules.module_skill_name = skills.skill_name
    group by modules.course_id, skills.skill_id
),

syllabus_tags as (
    select
        course_id,
        {{ learnrec.array_agg_ordered('skill_id', 'first_position, skill_id') }} as skill_tags
    from syllabus_skills
    group by course_id
),

latest_inference as (
    select *
    from (
        select
            inferred.*,
            row_number() over (partition by course_id order by inferred_at desc) as recency_rank
        from {{ ref('stg_agents__course_metadata_inferred') }} as inferred
    ) as ranked
    where recency_rank = 1
),

prerequisite_mentions as (
    select course_id, 1 as source_rank, prerequisite_position as mention_position, prerequisite_value as prerequisite_id
    from {{ learnrec.array_elements(ref('stg_operational__courses'), 'instructor_prerequisites', 'prerequisite') }} as instructor
    union all
    select course_id, 2 as source_rank, prerequisite_position as mention_position, prerequisite_value as prerequisite_id
    from {{ learnrec.array_elements('latest_inference', 'prerequisites', 'prerequisite') }} as inferred
),

first_mentions as (
    select course_id, prerequisite_id, min(source_rank * 1000000 + mention_position) as first_mention
    from prerequisite_mentions
    group by course_id, prerequisite_id
),

merged_prerequisites as (
    select
        course_id,
        {{ learnrec.array_agg_ordered('prerequisite_id', 'first_mention, prerequisite_id') }} as prerequisites
    from first_mentions
    group by course_id
)

select
    courses.course_id,
    coalesce(latest_inference.skill_tags, syllabus_tags.skill_tags, {{ learnrec.empty_string_array() }}) as skill_tags,
    cast(coalesce(
        latest_inference.difficulty_score,
        case courses.level
            when 'beginner' then 1.5
            when 'intermediate' then 3.0
            when 'advanced' then 4.5
        end
    ) as {{ learnrec.type_double() }}) as difficulty_score,
    coalesce(merged_prerequisites.prerequisites, {{ learnrec.empty_string_array() }}) as prerequisites,
    coalesce(latest_inference.provenance, 'instructor') as metadata_source,
    latest_inference.inferred_at as metadata_inferred_at
from courses
left join syllabus_tags on courses.course_id = syllabus_tags.course_id
left join latest_inference on courses.course_id = latest_inference.course_id
left join merged_prerequisites on courses.course_id = merged_prerequisites.course_id
