-- Every expectation result (quality_expectation_results) as the data-quality dashboard shows it: layer, severity and
-- result in words, and whether the row is of its suite's latest run.
-- A presentation mart: a Superset dataset of the same name reads it as a physical table (issue 16). A view, as its
-- source is: the quality checks write results between transforms, and the dashboard shows them at once.
{{ config(materialized='view') }}

select
    q.run_id,
    q.suite,
    q.layer,
    case q.layer when 'raw' then 'Dữ liệu thô' when 'staging' then 'Chuẩn hóa' when 'marts' then 'Dữ liệu báo cáo'
        else q.layer
    end as layer_label,
    q.expectation,
    q.severity,
    case q.severity when 'critical' then 'Lỗi (chặn pipeline)' when 'warning' then 'Cảnh báo' else q.severity
    end as severity_label,
    q.success,
    case when q.success then 'Đạt' else 'Không đạt' end as result_label,
    q.unexpected_count,
    q.message_vi,
    q.validated_at,
    q.validated_at = max(q.validated_at) over (partition by q.suite) as is_latest_run
from {{ ref('quality_expectation_results') }} as q
