select * from {{ ref('work_file_targets') }}
