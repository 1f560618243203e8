-- Daily certificates and signatures: the highest file version of a day wins, then the newest arrival.
-- Remote signatures are part of organisation + personal signatures (sources.md), not in addition.
with

versions as (
    select
        *,
        max(_seq) over (partition by report_date, ma_dinh_danh) as source_seq,
        row_number() over (
            partition by report_date, ma_dinh_danh order by file_version desc, _seq desc
        ) as version_rank
    from {{ source('esign', 'esign_signatures_daily') }}
)

select
    report_date,
    ma_dinh_danh as unit_code,
    {{ zero_if_deleted([
        ('org_certs_active', 'org_certs_active'),
        ('personal_certs_active', 'personal_certs_active'),
        ('org_certs_issued', 'org_certs_issued'),
        ('personal_certs_issued', 'personal_certs_issued'),
        ('certs_revoked', 'certs_revoked'),
        ('org_signatures', 'org_signatures'),
        ('personal_signatures', 'personal_signatures'),
        ('remote_signatures', 'remote_signatures'),
    ]) }},
    source_file,
    file_version,
    _is_deleted as is_deleted,
    source_seq
from versions
where version_rank = 1
