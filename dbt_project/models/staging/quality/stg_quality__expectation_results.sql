select
    run_id,
    suite,
    layer,
    asset,
    expectation_name as expectation,
    expectation_type,
    severity,
    success,
    unexpected_count,
    unexpected_percent,
    description_vi,
    message_vi,
    validated_at
from {{ source('quality', 'expectation_results') }}
