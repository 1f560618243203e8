select * from {{ ref('stg_quality__expectation_results') }}
