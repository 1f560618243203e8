-- Unit register: latest version per (unit, validity start); tombstoned versions dropped. `successor_unit_codes` is
-- the register's donViKeThua (primary successor first; empty when the unit has none or has not ended).
with

versions as (
    select
        ma_dinh_danh,
        ma_don_vi,
        ten_don_vi,
        loai_don_vi,
        ma_dinh_danh_cha,
        ma_dvhc,
        so_can_bo,
        co_chung_thuc_dien_tu,
        hieu_luc_tu,
        hieu_luc_den,
        don_vi_ke_thua,
        _is_deleted,
        _seq,
        row_number() over (partition by ma_dinh_danh, hieu_luc_tu order by _seq desc) as version_rank
    from {{ source('one_stop_shop', 'oss_units') }}
)

select
    ma_dinh_danh::text as unit_code,
    ma_don_vi::text as internal_id,
    ten_don_vi::text as unit_name,
    loai_don_vi::text as unit_type,
    nullif(ma_dinh_danh_cha, '')::text as parent_unit_code,
    ma_dvhc::text as admin_area_code,
    coalesce(so_can_bo, 0)::integer as staff_count,
    coalesce(co_chung_thuc_dien_tu, false) as offers_e_certified_copy,
    hieu_luc_tu::date as valid_from,
    hieu_luc_den::date as valid_to,
    coalesce(don_vi_ke_thua, '{}')::text[] as successor_unit_codes,
    _seq as source_seq
from versions
where version_rank = 1 and not _is_deleted
