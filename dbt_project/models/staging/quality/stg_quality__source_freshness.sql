select
    source,
    entity,
    last_success_at,
    newest_data_date,
    load_lag_hours as lag_hours,
    data_lag_days,
    status,
    status_vi,
    last_attempt_status,
    last_error
from {{ source('quality', 'source_freshness') }}
