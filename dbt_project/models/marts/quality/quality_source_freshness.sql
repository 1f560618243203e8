select * from {{ ref('stg_quality__source_freshness') }}
