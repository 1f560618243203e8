-- Days each source holds data for (any row, tombstones included). Drives which periods exist and each
-- source's last loaded day.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source_name', 'report_date'],
    )
}}

{%- set sources = [
    ('dossiers', 'int_dossier_daily'),
    ('petitions', 'int_petition_daily'),
    ('documents', 'int_document_daily'),
    ('signatures', 'int_signature_daily'),
] %}

{% for source_name, model in sources %}
    select distinct
        '{{ source_name }}'::text as source_name,
        report_date,
        {{ run_stamp() }} as _refreshed_at
    from {{ ref(model) }}
    {%- if is_incremental() %}
        where _refreshed_at > {{ refresh_watermark() }}
    {%- endif %}
    {%- if not loop.last %}
        union all
    {%- endif %}
{% endfor %}
