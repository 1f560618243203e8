{#- The daily sources a day needs a successful load of, as a relation (source_name as in int_data_days; source
    and entity as the loader writes them in raw.load_audit). Register snapshots (units, procedures) cover no days. -#}
{% macro daily_load_sources(alias='daily_sources') -%}
    (
        values
        ('dossiers', 'one_stop_shop', 'dossier_daily'),
        ('petitions', 'one_stop_shop', 'petition_daily'),
        ('documents', 'edoc', 'documents_daily'),
        ('signatures', 'esign', 'signatures_daily')
    ) as {{ alias }} (source_name, source_system, entity)
{%- endmacro %}
