{#
  One row per learner, shaped after the product's Learner Profile (contracts.product.LearnerProfile).
  Spark's features and the dropout model's scores join in when those tables exist (their staging
  models are empty otherwise), always the newest row per learner. Until a learned learning style
  exists, preferred_format is the one declared at onboarding (learning_style_source says which).
  Contact details stay in staging: only whether they exist is exposed.
#}
with

learners as (
    select * from {{ ref('stg_operational__learners') }}
),

activity as (
    select
        learner_id,
        sum(n_events) as n_behavioural_events,
        max(last_event_at) as last_event_at
    from {{ ref('int_learner_daily_activity') }}
    group by learner_id
),

latest_features as (
    select *
    from (
        select
            features.*,
            row_number() over (partition by learner_id order by feature_date desc) as recency_rank
        from {{ ref('stg_features__learner_features') }} as features
    ) as ranked
    where recency_rank = 1
),

latest_dropout as (
    select *
    from (
        select
            scores.*,
            row_number() over (partition by learner_id order by score_date desc) as recency_rank
        from {{ ref('stg_features__dropout_scores') }} as scores
    ) as ranked
    where recency_rank = 1
)

select
    learners.learner_id,
    learners.first_name,
    learners.career_goal,
    learners.current_role,
    learners.interest_area,
    learners.data_tier,
    learners.retention_expiry,
    learners.timezone,
    learners.email_opt_in,
    learners.push_opt_in,
    learners.email is not null as has_email,
    learners.push_token is not null as has_push_token,
    not learners.has_onboarding as onboarding_skipped,
    learners.signed_up_at,
    cast(coalesce(activity.n_behavioural_events, 0) as {{ dbt.type_bigint() }}) as n_behavioural_events,
    coalesce(activity.n_behavioural_events, 0) < {{ var('cold_start_event_threshold') }} as is_cold_start,
    activity.last_event_at,
    latest_features.skill_vector,
    latest_features.engagement_score,
    latest_dropout.dropout_probability,
    latest_dropout.model_version as dropout_model_version,
    coalesce(latest_features.preferred_format, learners.declared_format) as preferred_format,
    latest_features.affinity_score,
    latest_features.learning_style_updated_at as style_updated_at,
    case
        when latest_features.preferred_format is not null then 'learned'
        when learners.declared_format is not null then 'declared'
    end as learning_style_source,
    latest_features.feature_date
from learners
left join activity on learners.learner_id = activity.learner_id
left join latest_features on learners.learner_id = latest_features.learner_id
left join latest_dropout on learners.learner_id = latest_dropout.learner_id
