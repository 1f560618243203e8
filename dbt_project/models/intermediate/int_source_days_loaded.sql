-- Days each daily source has a successful load for: every day of a succeeded batch's window (inclusive). A failed
-- or unfinished batch covers nothing, so a day it alone touched stays missing until a later run loads it. Whether
-- a period is complete is decided from these days (dim_periods), never from the days that happen to hold data.
select distinct
    b.source_name,
    b.window_start + g.day_offset as report_date
from {{ ref('stg_loads__batches') }} as b
cross join lateral generate_series(0, b.window_end - b.window_start) as g (day_offset)
where b.status = 'succeeded'
