-- Certificates and signatures per unit: every period type, flows summed and stocks at the period's last day (period_rollup macro).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['period_type', 'period_start'],
        indexes=[{'columns': ['period_type', 'period_start']}, {'columns': ['_refreshed_at']}],
    )
}}

{{ period_rollup(
    daily=ref('int_signature_daily'),
    keys=['unit_code', 'unit_valid_from', 'unit_valid_to'],
    flows=['org_certs_issued', 'personal_certs_issued', 'certs_revoked', 'org_signatures', 'personal_signatures', 'remote_signatures'],
    valid_to='unit_valid_to',
    stocks=['org_certs_active', 'personal_certs_active'],
) }}
