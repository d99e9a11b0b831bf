{#
  Skill tags, difficulty and prerequisites per course as learnrec.course_metadata resolves them,
  the one resolution Spark's features and the agents use too (documented in README.md): the AI
  Metadata Agent's inference for the course's current content (matched by content hash), else
  what the instructor uploaded (syllabus skills, declared level, instructor prerequisites).
#}
select
    course_id,
    skill_tags,
    difficulty_score,
    prerequisites,
    metadata_source,
    metadata_inferred_at
from {{ ref('stg_catalog__course_metadata_resolved') }}
