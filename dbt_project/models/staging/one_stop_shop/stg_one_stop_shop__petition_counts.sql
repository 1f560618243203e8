-- Daily petition (PAKN) counts: latest version per (day, unit); tombstones kept with zero counts.
with

versions as (
    select
        *,
        max(_seq) over (partition by ngay, ma_dinh_danh) as source_seq,
        row_number() over (partition by ngay, ma_dinh_danh order by _seq desc) as version_rank
    from {{ source('one_stop_shop', 'oss_petition_daily') }}
)

select
    ngay as report_date,
    ma_dinh_danh as unit_code,
    {{ zero_if_deleted([
        ('tiep_nhan', 'received'),
        ('da_xu_ly_dung_han', 'handled_on_time'),
        ('da_xu_ly_qua_han', 'handled_late'),
        ('khong_hai_long', 'dissatisfied'),
        ('dang_xu_ly_trong_han', 'in_progress_within'),
        ('dang_xu_ly_qua_han', 'in_progress_overdue'),
    ]) }},
    thoi_diem_cap_nhat as source_updated_at,
    _is_deleted as is_deleted,
    source_seq
from versions
where version_rank = 1
