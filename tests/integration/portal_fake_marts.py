"""A plausible marts.rpt_portal_reconciliation over the fake marts (test_superset_fake_marts.py), for the dashboard
"Đối chiếu với Cổng DVC quốc gia": the portal side is our own figure of today's units, disturbed by a deterministic
hash so that every reason occurs — a point of rounding, other counts, a temporary denominator on dossier sync, the
CLGQ group by another formula — plus a portal unit the register does not know. Columns as the mart's contract."""

from __future__ import annotations

PORTAL_DDL = """
DROP TABLE IF EXISTS marts.rpt_portal_reconciliation CASCADE;
CREATE TABLE marts.rpt_portal_reconciliation (indicator_code text, row_kind text, group_code text, unit_code text,
    unit_valid_from date, unit_name text, scope text, period_type text, period_start date, period_end date,
    portal_department_id text, portal_department_code text, portal_department_name text, unit_match text,
    numerator numeric, denominator numeric, points numeric, max_points numeric, portal_numerator integer,
    portal_denominator integer, portal_points numeric, portal_max_points numeric, points_diff numeric,
    portal_quality_status text, reason text);
"""

PORTAL_DERIVED = """
INSERT INTO marts.rpt_portal_reconciliation
WITH today AS (
    SELECT unit_code, unit_valid_from, unit_name, unit_type,
           CASE WHEN unit_type = 'UBND_TINH' THEN 'area' ELSE 'unit' END AS scope
    FROM marts.dim_units WHERE is_current
),
ours AS (
    SELECT f.indicator_code, 'indicator' AS row_kind, f.group_code, f.unit_code, f.unit_valid_from, f.scope,
           f.period_type, f.period_start, f.period_end, f.numerator, f.denominator, f.points, f.max_points
    FROM marts.fct_indicator_values f
    WHERE f.basis = 'current' AND f.framework = 'QD766' AND f.group_code <> 'CLGQ'
      AND f.period_type IN ('month', 'quarter', 'year')
    UNION ALL
    SELECT 'QD766.' || g.code, 'group', g.code, s.unit_code, s.unit_valid_from, s.scope, s.period_type,
           s.period_start, s.period_end, NULL, NULL, g.points, g.max_points
    FROM marts.rpt_qd766_scores s
    CROSS JOIN LATERAL (VALUES ('CKMB', s.ckmb, 18), ('TDGQ', s.tdgq, 20), ('CLGQ', s.clgq, 12),
                               ('MDSH', s.mdsh, 22), ('TTTT', s.tttt, 10), ('MDHL', s.mdhl, 18))
        AS g (code, points, max_points)
    WHERE s.basis = 'current' AND s.period_type IN ('month', 'quarter', 'year')
),
disturbed AS (
    SELECT o.*, t.unit_name, x.h,
           CASE
               WHEN o.indicator_code = 'QD766.CLGQ' THEN 'rule_differs'
               WHEN o.indicator_code = 'QD766.CKMB.DOSSIER_SYNC' AND h % 9 = 0 THEN 'portal_provisional'
               WHEN o.row_kind = 'indicator' AND h % 23 = 1 THEN 'counts_differ'
               WHEN o.row_kind = 'indicator' AND h % 17 = 2 THEN 'rounding'
               ELSE 'same'
           END AS reason
    FROM ours o
    JOIN today t ON t.unit_code = o.unit_code AND t.unit_valid_from = o.unit_valid_from AND t.scope = o.scope
    CROSS JOIN LATERAL (SELECT abs(hashtext(o.indicator_code || o.unit_code || o.period_start::text)) AS h) x
),
published AS (
    SELECT d.*,
           d.numerator AS p_num,
           CASE d.reason WHEN 'counts_differ' THEN d.denominator + 7
                         WHEN 'portal_provisional' THEN d.numerator ELSE d.denominator END AS p_den,
           CASE d.reason
               WHEN 'rule_differs' THEN round(d.points * (0.3 + 0.1 * (d.h % 8)), 2)  -- moves some ranks
               WHEN 'rounding' THEN d.points - 0.01
               WHEN 'counts_differ' THEN greatest(d.points - 0.35, 0)
               WHEN 'portal_provisional' THEN d.max_points
               ELSE d.points
           END AS p_points
    FROM disturbed d
)
SELECT indicator_code, row_kind, group_code, unit_code, unit_valid_from, unit_name, scope, period_type, period_start,
       period_end, 'dept-' || unit_code, unit_code, unit_name, CASE WHEN scope = 'area' THEN 'root' ELSE 'code' END,
       numerator, denominator, points, max_points, p_num::integer, p_den::integer, p_points, max_points,
       points - p_points,
       CASE WHEN reason = 'portal_provisional' THEN 'TEMP_NATIONAL_REPORT_DENOMINATOR' END, reason
FROM published;

-- a unit on the portal that the register does not know, in every month
INSERT INTO marts.rpt_portal_reconciliation (indicator_code, row_kind, group_code, period_type, period_start,
    period_end, portal_department_id, portal_department_code, portal_department_name, portal_numerator,
    portal_denominator, portal_points, portal_max_points, reason)
SELECT 'QD766.TDGQ.ON_TIME', 'indicator', 'TDGQ', period_type, period_start, period_end, 'dept-unknown', 'H99.999',
       'UBND xã Không Có Trong Danh Mục', 40, 50, 16, 20, 'unit_not_matched'
FROM marts.dim_periods WHERE period_type = 'month';
"""
