with source as (
    select * from {{ source('feedback', 'served_recommendations') }}
),

typed as (
    select
        cast(log_id as {{ dbt.type_string() }}) as log_id,
        cast(learner_id as {{ dbt.type_string() }}) as learner_id,
        cast(course_id as {{ dbt.type_string() }}) as course_id,
        cast(model_version as {{ dbt.type_string() }}) as model_version,
        signals_used,
        cast(rank_at_serve as {{ dbt.type_int() }}) as rank_at_serve,
        {{ learnrec.to_utc_timestamp('served_at') }} as served_at,
        lower(cast(outcome as {{ dbt.type_string() }})) as reported_outcome,
        {{ learnrec.to_utc_timestamp('outcome_recorded_at') }} as reported_outcome_at,
        {{ learnrec.to_utc_timestamp('received_at') }} as received_at,
        -- publication logs the flag; the apps' outcome rows leave it null, so any row of the
        -- log_id that says so counts (and a log of before the control group reads false)
        max(case when is_control then 1 else 0 end) over (partition by log_id) = 1 as is_control
    from source
),

-- one row per impression: the log row written at publication carries no outcome, apps report it
-- later under the same log_id (and retry uploads): the latest reported outcome wins, else the
-- first row received
ranked as (
    select
        typed.*,
        row_number() over (
            partition by log_id
            order by
                case when reported_outcome is null then 1 else 0 end,
                reported_outcome_at desc,
                received_at
        ) as receipt_rank
    from typed
)

select
    log_id,
    learner_id,
    course_id,
    model_version,
    signals_used,
    rank_at_serve,
    -- the precompute's route (exports.recommendations.precompute): the fallbacks name themselves
    -- in model_version; the default privacy tier's content scorer records its declared-profile
    -- signals (ml.ranking.privacy.POLICIES)
    case
        when model_version = 'fallback:popular_by_career' then 'cold_start'
        when model_version like 'fallback:top_rated_by_interest%' then 'no_results'
        when {{ learnrec.array_contains_string('signals_used', 'completed_levels') }} then 'default_tier'
        else 'model'
    end as route,
    is_control,
    served_at,
    cast(served_at as date) as served_date,
    reported_outcome,
    reported_outcome_at,
    received_at
from ranked
where receipt_rank = 1
