{#-
  The Vietnamese words the dashboards show for the marts' codes, in one place (the presentation marts and
  dim_unit_labels used to repeat these CASE blocks). label_case('basis', 'f.basis') is
  `case f.basis when 'current' then 'Theo đơn vị hiện nay' ... else f.basis end`; `otherwise` replaces the code
  itself for a code the list does not know (a SQL expression).
-#}

{% macro label_case(kind, column, otherwise=none) -%}
    {%- set labels = {
        'basis': [
            ('current', 'Theo đơn vị hiện nay'),
            ('historical', 'Theo đơn vị tại thời điểm'),
        ],
        'scope': [
            ('unit', 'Đơn vị (tự thực hiện)'),
            ('area', 'Địa bàn (gồm cấp dưới)'),
        ],
        'indicator_group': [
            ('CKMB', '1. Công khai, minh bạch'),
            ('TDGQ', '2. Tiến độ giải quyết'),
            ('CLGQ', '3. Dịch vụ công trực tuyến'),
            ('MDSH', '4. Mức độ số hóa hồ sơ'),
            ('TTTT', '5. Thanh toán trực tuyến'),
            ('MDHL', '6. Mức độ hài lòng'),
            ('EDOC', 'Văn bản điện tử'),
            ('ESIGN', 'Chữ ký số'),
        ],
        'ranking': [
            ('CDS', 'Chuyển đổi số (1000 điểm)'),
            ('QD766', 'Phục vụ người dân, doanh nghiệp – QĐ 766 (100 điểm)'),
        ],
        'ranking_group': [
            ('SO_NGANH', 'Sở, ban, ngành'),
            ('HUYEN', 'Huyện, thị xã, thành phố'),
            ('XA', 'Xã, phường, thị trấn'),
        ],
        'unit_type': [
            ('UBND_TINH', 'UBND tỉnh (toàn tỉnh)'),
            ('SO_NGANH', 'Sở, ban, ngành'),
            ('UBND_HUYEN', 'Huyện, thị xã, thành phố'),
            ('UBND_XA', 'Xã, phường, thị trấn'),
        ],
        'portal_unit_type': [
            ('UBND_TINH', 'Toàn tỉnh'),
            ('SO_NGANH', 'Sở, ban, ngành'),
            ('UBND_HUYEN', 'Huyện, thị xã, thành phố'),
            ('UBND_XA', 'Xã, phường, thị trấn'),
        ],
    } -%}
    case {{ column }}
    {%- for code, label in labels[kind] %} when '{{ code }}' then '{{ label }}'{% endfor %}
    else {{ column if otherwise is none else otherwise }} end
{%- endmacro %}
