-- Procedure catalogue: latest version per procedure; tombstoned procedures dropped.
with

versions as (
    select
        *,
        row_number() over (partition by ma_thu_tuc order by _seq desc) as version_rank
    from {{ source('one_stop_shop', 'oss_procedures') }}
)

select
    ma_thu_tuc::text as procedure_code,
    ten_thu_tuc::text as procedure_name,
    linh_vuc::text as field_name,
    cap_thuc_hien::text as procedure_level,
    muc_do_dvc::text as online_service_level,
    coalesce(co_phi_le_phi, false) as is_fee_bearing,
    coalesce(tich_hop_thanh_toan, false) as has_online_payment,
    coalesce(doi_tuong_cong_dan, false) as is_for_citizens,
    coalesce(ket_noi_du_lieu_dan_cu, false) as uses_population_data,
    ngay_hieu_luc_van_ban::date as legal_basis_effective_on,
    ngay_quyet_dinh_cong_bo::date as announced_on,
    ngay_cong_khai::date as published_on,
    coalesce(noi_dung_day_du, false) as is_content_full,
    coalesce(don_vi_thuc_hien, '{}'::text[])::text[] as competent_unit_codes,
    _seq as source_seq
from versions
where version_rank = 1 and not _is_deleted
