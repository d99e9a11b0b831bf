"""Source tables that land in the warehouse's ``raw`` schema beside the events.

They are what the product's operational systems export (learner accounts, the course catalogue
as instructors upload it, ratings). The synthetic world writes exactly these schemas; the loader
and dbt's sources read them. Column docs live here once and are quoted by dbt's YAML.
"""

from __future__ import annotations

import pyarrow as pa

#: Learner accounts with the onboarding answers and consents (raw.learners).
LEARNERS = pa.schema(
    [
        pa.field("learner_id", pa.string(), nullable=False),
        pa.field("first_name", pa.string(), nullable=False),
        pa.field("email", pa.string()),  # null: no email on file
        pa.field("push_token", pa.string()),  # null: app not installed / push not granted
        pa.field("career_goal", pa.string()),  # null: learner skipped onboarding
        pa.field("current_role", pa.string()),
        pa.field("interest_area", pa.string()),  # declared domain of interest; null: skipped onboarding
        pa.field(
            "preferred_format", pa.string()
        ),  # declared at onboarding: video | text | mixed; null: skipped
        pa.field("data_tier", pa.string(), nullable=False),  # default | opted_in
        pa.field("email_opt_in", pa.bool_(), nullable=False),
        pa.field("push_opt_in", pa.bool_(), nullable=False),
        pa.field("timezone", pa.string(), nullable=False),  # IANA name
        pa.field("signed_up_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("retention_expiry", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

#: The course catalogue as uploaded by instructors (raw.courses). skill_tags, difficulty_score
#: and AI-inferred prerequisites are *not* here: the AI Metadata Agent derives them.
COURSES = pa.schema(
    [
        pa.field("course_id", pa.string(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("description", pa.string(), nullable=False),
        pa.field("syllabus", pa.string(), nullable=False),  # JSON array of {module_id, title, minutes}
        pa.field("format", pa.string(), nullable=False),  # video | text | live | mixed
        pa.field("duration_hours", pa.float64(), nullable=False),
        pa.field(
            "level", pa.string(), nullable=False
        ),  # instructor-declared: beginner | intermediate | advanced
        pa.field("instructor_prerequisites", pa.list_(pa.string()), nullable=False),  # course ids
        pa.field("domain", pa.string(), nullable=False),  # catalogue section
        pa.field("published_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

#: Star ratings learners gave courses (raw.course_ratings).
COURSE_RATINGS = pa.schema(
    [
        pa.field("learner_id", pa.string(), nullable=False),
        pa.field("course_id", pa.string(), nullable=False),
        pa.field("rating", pa.int8(), nullable=False),  # 1..5
        pa.field("rated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

#: The skill taxonomy shipped with the catalogue (raw.skills).
SKILLS = pa.schema(
    [
        pa.field("skill_id", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        pa.field("level", pa.int8(), nullable=False),  # 1 (foundation) .. 5 (expert)
        pa.field("prerequisite_skill_ids", pa.list_(pa.string()), nullable=False),
    ]
)

#: Career goals offered at onboarding and the skills each needs (raw.career_goals).
CAREER_GOALS = pa.schema(
    [
        pa.field("career_goal", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        pa.field("target_skill_ids", pa.list_(pa.string()), nullable=False),
    ]
)

SOURCE_TABLES: dict[str, pa.Schema] = {
    "learners": LEARNERS,
    "courses": COURSES,
    "course_ratings": COURSE_RATINGS,
    "skills": SKILLS,
    "career_goals": CAREER_GOALS,
}

DATA_TIERS = ("default", "opted_in")
LEARNER_FORMATS = ("video", "text", "mixed")
COURSE_FORMATS = ("video", "text", "live", "mixed")
COURSE_LEVELS = ("beginner", "intermediate", "advanced")
