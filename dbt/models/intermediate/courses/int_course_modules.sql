{# One row per syllabus module of each course, in module order. #}
with

modules as (
    select
        course_id,
        module_position,
        {{ learnrec.json_field_text('module_value', 'module_id') }} as module_id,
        {{ learnrec.json_field_text('module_value', 'title') }} as module_title,
        cast({{ learnrec.json_field_text('module_value', 'minutes') }} as {{ dbt.type_int() }}) as module_minutes
    from {{ learnrec.json_array_elements(ref('stg_operational__courses'), 'syllabus_json', 'module') }} as courses
)

select
    course_id,
    cast(module_position as {{ dbt.type_int() }}) as module_position,
    module_id,
    module_title,
    module_minutes,
    -- module titles read "<skill name>: <topic>"; the prefix names the skill the module teaches
    trim({{ dbt.split_part('module_title', "': '", 1) }}) as module_skill_name
from modules
