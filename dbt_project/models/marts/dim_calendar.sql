-- Every date of the warehouse's range with its working-day flag and its period of every type.
select * from {{ ref('int_calendar_days') }}
