-- Each source entity's freshness (quality_source_freshness) as the data-quality dashboard shows it: source and status
-- in words.
-- A presentation mart: a Superset dataset of the same name reads it as a physical table (issue 16). A view, as its
-- source is: the quality checks write freshness between transforms, and the dashboard shows it at once.
{{ config(materialized='view') }}

select
    f.source,
    case f.source when 'one_stop_shop' then 'Một cửa điện tử (TTHC)' when 'edoc' then 'Quản lý văn bản, điều hành'
        when 'esign' then 'Chữ ký số chuyên dùng' else f.source
    end as source_label,
    f.entity,
    f.last_success_at,
    f.newest_data_date,
    f.lag_hours,
    f.status,
    case f.status when 'ok' then '✔ Kịp thời' when 'late' then '⚠ Chậm' when 'failing' then '✖ Lỗi'
        when 'never_loaded' then '— Chưa tải' else f.status
    end as status_label
from {{ ref('quality_source_freshness') }} as f
