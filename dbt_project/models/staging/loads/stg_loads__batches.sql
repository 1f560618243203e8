-- Batches of the daily sources (raw.load_audit): the days each covered and how it ended.
select
    a.batch_id,
    s.source_name,
    a.source as source_system,
    a.entity,
    a.window_start,
    a.window_end,
    a.status,
    a.run_id,
    a.started_at,
    a.finished_at
from {{ source('loads', 'load_audit') }} as a
inner join {{ daily_load_sources('s') }} on a.source = s.source_system and a.entity = s.entity
