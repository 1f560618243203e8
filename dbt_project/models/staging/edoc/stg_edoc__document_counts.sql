-- Daily e-document counts: latest version per (day, unit); tombstones kept with zero counts.
with

versions as (
    select
        *,
        max(_seq) over (partition by report_date, org_code) as source_seq,
        row_number() over (partition by report_date, org_code order by _seq desc) as version_rank
    from {{ source('edoc', 'edoc_documents_daily') }}
)

select
    report_date,
    org_code as unit_code,
    {{ zero_if_deleted([
        ('incoming_total', 'incoming_total'),
        ('incoming_electronic', 'incoming_electronic'),
        ('outgoing_total', 'outgoing_total'),
        ('outgoing_electronic', 'outgoing_electronic'),
        ('outgoing_signed', 'outgoing_signed'),
        ('outgoing_via_axis', 'outgoing_via_axis'),
        ('paper_parallel', 'paper_parallel'),
        ('work_files_total', 'work_files_total'),
        ('work_files_online', 'work_files_online'),
    ]) }},
    updated_at as source_updated_at,
    _is_deleted as is_deleted,
    source_seq
from versions
where version_rank = 1
