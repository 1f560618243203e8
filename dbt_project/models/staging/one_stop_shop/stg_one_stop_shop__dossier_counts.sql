-- Daily dossier counts: latest version per (day, unit, procedure). A tombstone (the source stopped returning the
-- key) is kept with zero counts so the day is reprocessed; source_seq = newest _seq of any version of the key.
with

versions as (
    select
        *,
        max(_seq) over (partition by ngay, ma_dinh_danh, ma_thu_tuc) as source_seq,
        row_number() over (partition by ngay, ma_dinh_danh, ma_thu_tuc order by _seq desc) as version_rank
    from {{ source('one_stop_shop', 'oss_dossier_daily') }}
)

select
    ngay as report_date,
    ma_dinh_danh as unit_code,
    ma_thu_tuc as procedure_code,
    {{ zero_if_deleted([
        ('tiep_nhan_truc_tuyen', 'received_online'),
        ('tiep_nhan_truc_tiep', 'received_in_person'),
        ('tiep_nhan_buu_chinh', 'received_by_post'),
        ('tiep_nhan_toan_trinh', 'received_full_online'),
        ('da_xu_ly_truoc_han', 'resolved_early'),
        ('da_xu_ly_dung_han', 'resolved_on_time'),
        ('da_xu_ly_qua_han', 'resolved_late'),
        ('dong_bo_dvcqg', 'synced'),
        ('co_ket_qua_dien_tu', 'e_result'),
        ('so_hoa', 'digitized'),
        ('tai_su_dung_du_lieu', 'reused_data'),
        ('luu_kho_ca_nhan', 'personal_storage'),
        ('su_dung_du_lieu_dan_cu', 'population_data'),
        ('co_nghia_vu_tai_chinh', 'fee_due'),
        ('thanh_toan_truc_tuyen', 'paid_online'),
        ('danh_gia_khong_hai_long', 'dissatisfied'),
        ('dang_xu_ly_trong_han', 'in_progress_within'),
        ('dang_xu_ly_qua_han', 'in_progress_overdue'),
    ]) }},
    thoi_diem_cap_nhat as source_updated_at,
    _is_deleted as is_deleted,
    source_seq
from versions
where version_rank = 1
