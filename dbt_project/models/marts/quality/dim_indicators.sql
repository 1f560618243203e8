select * from {{ ref('indicator_catalogue') }}
