-- The register's donViKeThua as a bridge between unit identities, transitively closed to today's units: one row
-- per (unit, successor) with the day the successor took over and whether every hop is a primary successor.
select
    unit_code,
    unit_valid_from,
    successor_unit_code,
    successor_valid_from,
    effective_date,
    is_primary,
    is_direct,
    hops
from {{ ref('int_unit_succession') }}
