"""marts.rpt_unit_improvement and rpt_unit_improvement_plan over the fake marts (test_superset_fake_marts.py), for the
dashboard "Cần làm gì để tăng điểm". Derived in SQL from the fake fct_indicator_values, rpt_qd766_scores,
rpt_unit_rankings and rpt_dossier_report by the readings of the dbt models (dbt_project/models/marts/
rpt_unit_improvement*.sql, macros/improvement.sql): the count that brings an indicator to full published points on
the same base, what an item is worth, the next QD766 band, the points to the unit ranked just above, and the greedy
plan to the next band (cheapest items per point first, the last step only as far as the band needs). Columns as
the marts' contract (_marts__improvement.yml)."""

from __future__ import annotations

import psycopg

IMPROVEMENT_DDL = """
DROP TABLE IF EXISTS marts.rpt_unit_improvement, marts.rpt_unit_improvement_plan CASCADE;
CREATE TABLE marts.rpt_unit_improvement (basis text, unit_code text, unit_valid_from date, scope text,
    period_type text, period_start date, indicator_code text, period_end date, evaluated_to date, unit_name text,
    unit_type text, framework text, group_code text, indicator_name_vi text, numerator numeric, denominator numeric,
    value numeric, points numeric, max_points numeric, cap numeric, direction text, is_applicable boolean,
    zero_denominator_rule text, is_composite boolean, dossiers_handled integer, is_province_duty boolean,
    points_lost numeric, count_needed_for_full integer, count_is_minimum boolean, item_action text, item_vi text,
    points_per_item numeric, items_per_point numeric, cds_points_lost numeric, note_vi text, total_points numeric,
    band text, band_code text, next_band text, next_band_code text, next_band_lower_bound numeric,
    points_to_next_band numeric, unit_group text, rank integer, units_ranked integer, rank_above integer,
    points_to_next_rank numeric, cds_score numeric, cds_rank integer, cds_units_ranked integer,
    cds_rank_above integer, cds_points_to_next_rank numeric, _lookup_fingerprint text, _refreshed_at timestamptz);
CREATE INDEX ON marts.rpt_unit_improvement (period_type, period_start);
CREATE INDEX ON marts.rpt_unit_improvement (unit_code);
CREATE TABLE marts.rpt_unit_improvement_plan (basis text, unit_code text, unit_valid_from date, scope text,
    period_type text, period_start date, step integer, period_end date, unit_name text, indicator_code text,
    indicator_name_vi text, item_action text, item_vi text, items integer, points_gained numeric,
    cumulative_points numeric, total_points numeric, total_after numeric, band text, next_band text,
    next_band_lower_bound numeric, points_to_next_band numeric, reaches_band boolean, is_partial boolean,
    items_per_point numeric, count_needed_for_full integer, points_lost numeric, _refreshed_at timestamptz);
CREATE INDEX ON marts.rpt_unit_improvement_plan (period_type, period_start);
CREATE INDEX ON marts.rpt_unit_improvement_plan (unit_code);
"""

# macros/improvement.sql as functions: published points after `items` more (fewer) items, and the fewest items
# whose published points reach `target`
FUNCTIONS = """
CREATE OR REPLACE FUNCTION pg_temp.improvement_points(items numeric, num numeric, den numeric, val numeric,
    cap numeric, mx numeric, direction text, composite boolean, handled numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT round(CASE
        WHEN composite THEN mx * least(1, greatest(0, val + items / handled) / cap)
        WHEN direction = 'lower_is_better' THEN mx * (1 - least(1, greatest(0, (num - items) / den)))
        ELSE mx * least(1, least(1, greatest(0, (num + items) / den)) / cap)
    END, 2)
$$;
CREATE OR REPLACE FUNCTION pg_temp.improvement_items(target numeric, num numeric, den numeric, val numeric,
    cap numeric, mx numeric, direction text, composite boolean, handled numeric) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT greatest(0, CASE
        WHEN composite THEN ceil(handled * (cap * (target - 0.005) / mx - val) - 0.000000001)
        WHEN direction = 'lower_is_better' THEN ceil((mx * num - den * (mx - target + 0.005)) / mx)
        ELSE ceil((cap * den * (target - 0.005) - mx * num) / mx)
    END)::integer
$$;
"""

IMPROVEMENT_DERIVED = """
INSERT INTO marts.rpt_unit_improvement
WITH units AS (
    SELECT DISTINCT ON (unit_code, unit_valid_from) unit_code, unit_valid_from, unit_name, unit_type
    FROM marts.dim_units ORDER BY unit_code, unit_valid_from, valid_from DESC
),
-- what one item is where the catalogue's numerator is a formula (the dbt model's item_texts)
item_texts (indicator_code, item_vi) AS (VALUES
    ('QD766.MDHL.DOSSIER_SATISFACTION', 'Hồ sơ trễ hạn, quá hạn hoặc bị đánh giá không hài lòng'),
    ('QD766.TDGQ.ON_TIME',
     'Hồ sơ giải quyết trước hạn, đúng hạn hoặc đang trong hạn (thay cho hồ sơ trễ hạn, quá hạn)'),
    ('QD766.MDHL.PETITION_ON_TIME', 'PAKN xử lý đúng hạn hoặc đang trong hạn (thay cho PAKN quá hạn)'),
    ('QD766.MDHL.PETITION_SATISFACTION', 'PAKN đã xử lý được hài lòng (thay cho PAKN không hài lòng)'),
    ('EDOC.ELECTRONIC_EXCHANGE', 'Văn bản đến, văn bản đi trao đổi dưới dạng điện tử (thay cho văn bản giấy)')
),
indicators AS (
    SELECT f.basis, f.unit_code, f.unit_valid_from, f.scope, f.period_type, f.period_start, f.indicator_code,
           f.period_end, p.evaluated_to, u.unit_name, u.unit_type, f.framework, f.group_code,
           c.name_vi AS indicator_name_vi, f.numerator, f.denominator, f.value, f.points, f.max_points,
           CASE WHEN c.cap_by_unit_type THEN coalesce(t.target, c.cap) ELSE c.cap END AS cap, c.direction,
           f.is_applicable, c.zero_denominator_rule,
           f.indicator_code = 'QD766.MDHL.DOSSIER_SATISFACTION' AS is_composite,
           CASE WHEN f.indicator_code = 'QD766.MDHL.DOSSIER_SATISFACTION'
               THEN (d.resolved_total + d.in_progress_total)::integer END AS dossiers_handled,
           coalesce(c.procedure_scope = 'province', false) AS is_province_duty,
           coalesce(it.item_vi, c.numerator_vi) AS item_vi,
           c.denominator_vi, coalesce(w.multiplier, 0) AS cds_multiplier
    FROM marts.fct_indicator_values f
    JOIN marts.dim_periods p ON p.period_type = f.period_type AND p.period_start = f.period_start
    JOIN improvement_catalogue c ON c.indicator_code = f.indicator_code
    LEFT JOIN item_texts it ON it.indicator_code = f.indicator_code
    JOIN units u ON u.unit_code = f.unit_code AND u.unit_valid_from = f.unit_valid_from
    LEFT JOIN marts.dim_work_file_targets t ON t.unit_type = u.unit_type
    LEFT JOIN weights w ON w.ranking_code = 'CDS' AND w.framework = f.framework
    LEFT JOIN marts.rpt_dossier_report d ON d.basis = f.basis AND d.unit_code = f.unit_code
        AND d.unit_valid_from = f.unit_valid_from AND d.scope = f.scope AND d.period_type = f.period_type
        AND d.period_start = f.period_start
),
gaps AS (
    SELECT i.*, i.max_points - i.points AS points_lost,
           CASE WHEN i.max_points = 0 THEN NULL
                WHEN i.points >= i.max_points THEN 0
                WHEN NOT i.is_applicable THEN NULL
                WHEN i.is_composite AND NOT coalesce(i.dossiers_handled > 0, false) THEN NULL
                ELSE pg_temp.improvement_items(i.max_points, i.numerator, i.denominator, i.value, i.cap, i.max_points,
                                               i.direction, i.is_composite, i.dossiers_handled)
           END AS count_needed_for_full,
           i.is_composite AND i.is_applicable AND i.points < i.max_points AND i.value = 0 AS count_is_minimum,
           CASE WHEN i.direction = 'lower_is_better' OR i.is_composite THEN 'remove' ELSE 'add' END AS item_action,
           CASE WHEN i.max_points = 0 OR NOT i.is_applicable THEN NULL
                WHEN i.is_composite THEN i.max_points / nullif(i.cap * i.dossiers_handled, 0)
                WHEN i.direction = 'lower_is_better' THEN i.max_points / i.denominator
                ELSE i.max_points / (i.cap * i.denominator)
           END AS points_per_item,
           CASE WHEN i.max_points = 0 THEN 'Chỉ tiêu theo dõi, không tính điểm'
                WHEN NOT i.is_applicable AND i.zero_denominator_rule = 'full'
                    THEN 'Không phát sinh (mẫu số bằng 0): được tính đủ điểm theo quy tắc của chỉ số'
                WHEN NOT i.is_applicable
                    THEN 'Không phát sinh (mẫu số bằng 0): tính 0 điểm theo quy tắc của chỉ số; thêm tử số không đủ,'
                         || ' cần phát sinh: ' || i.denominator_vi
                WHEN i.is_province_duty
                    THEN 'Chỉ số do tỉnh thực hiện (công bố, công khai TTHC): cùng một giá trị cho mọi đơn vị'
           END AS note_vi
    FROM indicators i
),
scores AS (
    SELECT s.basis, s.unit_code, s.unit_valid_from, s.scope, s.period_type, s.period_start, s.total_points, s.band,
           (SELECT b.band_code FROM improvement_bands b WHERE b.name_vi = s.band) AS band_code,
           nb.name_vi AS next_band, nb.band_code AS next_band_code, nb.lower_bound AS next_band_lower_bound,
           nb.lower_bound - s.total_points AS points_to_next_band
    FROM marts.rpt_qd766_scores s
    LEFT JOIN LATERAL (SELECT b.name_vi, b.band_code, b.lower_bound FROM improvement_bands b
                       WHERE b.lower_bound > s.total_points ORDER BY b.lower_bound LIMIT 1) nb ON true
),
ranked AS (
    SELECT r.*, g.scope FROM marts.rpt_unit_rankings r JOIN (SELECT DISTINCT unit_group, scope FROM groups) g
        ON g.unit_group = r.unit_group
),
steps AS (
    SELECT basis, ranking_code, period_type, period_start, unit_group, score,
           lead(score) OVER w AS score_above, lead(rank) OVER w AS rank_above
    FROM (SELECT basis, ranking_code, period_type, period_start, unit_group, score, min(rank) AS rank
          FROM ranked GROUP BY 1, 2, 3, 4, 5, 6) d
    WINDOW w AS (PARTITION BY basis, ranking_code, period_type, period_start, unit_group ORDER BY score)
),
ranks AS (
    SELECT r.basis, r.unit_code, r.unit_valid_from, r.scope, r.period_type, r.period_start,
           min(r.unit_group) AS unit_group,
           min(r.rank) FILTER (WHERE r.ranking_code = 'QD766') AS rank,
           min(r.units_ranked) FILTER (WHERE r.ranking_code = 'QD766') AS units_ranked,
           min(st.rank_above) FILTER (WHERE r.ranking_code = 'QD766') AS rank_above,
           min(st.score_above - r.score) FILTER (WHERE r.ranking_code = 'QD766') AS points_to_next_rank,
           min(r.score) FILTER (WHERE r.ranking_code = 'CDS') AS cds_score,
           min(r.rank) FILTER (WHERE r.ranking_code = 'CDS') AS cds_rank,
           min(r.units_ranked) FILTER (WHERE r.ranking_code = 'CDS') AS cds_units_ranked,
           min(st.rank_above) FILTER (WHERE r.ranking_code = 'CDS') AS cds_rank_above,
           min(st.score_above - r.score) FILTER (WHERE r.ranking_code = 'CDS') AS cds_points_to_next_rank
    FROM ranked r
    JOIN steps st ON st.basis = r.basis AND st.ranking_code = r.ranking_code AND st.period_type = r.period_type
        AND st.period_start = r.period_start AND st.unit_group = r.unit_group AND st.score = r.score
    GROUP BY 1, 2, 3, 4, 5, 6
)
SELECT g.basis, g.unit_code, g.unit_valid_from, g.scope, g.period_type, g.period_start, g.indicator_code,
       g.period_end, g.evaluated_to, g.unit_name, g.unit_type, g.framework, g.group_code, g.indicator_name_vi,
       g.numerator, g.denominator, g.value, g.points, g.max_points, g.cap, g.direction, g.is_applicable,
       g.zero_denominator_rule, g.is_composite, g.dossiers_handled, g.is_province_duty, g.points_lost,
       g.count_needed_for_full, g.count_is_minimum, g.item_action, g.item_vi, g.points_per_item,
       CASE WHEN g.points_lost > 0 THEN g.count_needed_for_full / g.points_lost END,
       g.cds_multiplier * g.points_lost, g.note_vi, s.total_points, s.band, s.band_code, s.next_band,
       s.next_band_code, s.next_band_lower_bound, s.points_to_next_band, r.unit_group, r.rank, r.units_ranked,
       r.rank_above, r.points_to_next_rank, r.cds_score, r.cds_rank, r.cds_units_ranked, r.cds_rank_above,
       r.cds_points_to_next_rank, 'fake', now()
FROM gaps g
LEFT JOIN scores s ON s.basis = g.basis AND s.unit_code = g.unit_code AND s.unit_valid_from = g.unit_valid_from
    AND s.scope = g.scope AND s.period_type = g.period_type AND s.period_start = g.period_start
LEFT JOIN ranks r ON r.basis = g.basis AND r.unit_code = g.unit_code AND r.unit_valid_from = g.unit_valid_from
    AND r.scope = g.scope AND r.period_type = g.period_type AND r.period_start = g.period_start;

INSERT INTO marts.rpt_unit_improvement_plan
WITH candidates AS (
    SELECT i.*, row_number() OVER o AS step, sum(i.points_lost) OVER o - i.points_lost AS points_before
    FROM marts.rpt_unit_improvement i
    WHERE i.framework = 'QD766' AND i.next_band IS NOT NULL AND i.points_lost > 0 AND i.count_needed_for_full > 0
      AND (NOT i.is_province_duty OR i.unit_type = 'UBND_TINH')
    WINDOW o AS (PARTITION BY i.basis, i.unit_code, i.unit_valid_from, i.scope, i.period_type, i.period_start
                 ORDER BY i.items_per_point, i.indicator_code ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
sized AS (
    SELECT c.*,
           CASE WHEN c.points_lost > c.points_to_next_band - c.points_before
               THEN pg_temp.improvement_items(c.points + c.points_to_next_band - c.points_before, c.numerator,
                                              c.denominator, c.value, c.cap, c.max_points, c.direction,
                                              c.is_composite, c.dossiers_handled)
               ELSE c.count_needed_for_full END AS items
    FROM candidates c
    WHERE c.points_before < c.points_to_next_band
),
gained AS (
    SELECT z.*,
           CASE WHEN z.items < z.count_needed_for_full
               THEN pg_temp.improvement_points(z.items, z.numerator, z.denominator, z.value, z.cap, z.max_points,
                                               z.direction, z.is_composite, z.dossiers_handled) - z.points
               ELSE z.points_lost END AS points_gained
    FROM sized z
)
SELECT g.basis, g.unit_code, g.unit_valid_from, g.scope, g.period_type, g.period_start, g.step, g.period_end,
       g.unit_name, g.indicator_code, g.indicator_name_vi, g.item_action, g.item_vi, g.items, g.points_gained,
       sum(g.points_gained) OVER u, g.total_points, g.total_points + sum(g.points_gained) OVER u, g.band,
       g.next_band, g.next_band_lower_bound, g.points_to_next_band,
       g.total_points + sum(g.points_gained) OVER u >= g.next_band_lower_bound, g.items < g.count_needed_for_full,
       g.items_per_point, g.count_needed_for_full, g.points_lost, now()
FROM gained g
WINDOW u AS (PARTITION BY g.basis, g.unit_code, g.unit_valid_from, g.scope, g.period_type, g.period_start
             ORDER BY g.step ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);
"""


def load_improvement(cur: psycopg.Cursor, catalogue: list[dict], bands: list[dict]) -> None:
    """Derive both marts; needs the fake marts and load()'s temporary `weights` and `groups` tables."""
    cur.execute(FUNCTIONS)
    cur.execute(
        "CREATE TEMP TABLE improvement_catalogue (indicator_code text, name_vi text, numerator_vi text,"
        " denominator_vi text, cap numeric, cap_by_unit_type boolean, direction text, zero_denominator_rule text,"
        " procedure_scope text) ON COMMIT DROP"
    )
    cur.executemany(
        "INSERT INTO improvement_catalogue VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [(r["indicator_code"], r["name_vi"], r["numerator_vi"], r["denominator_vi"], r["cap"],
          r["cap_by_unit_type"] == "true", r["direction"], r["zero_denominator_rule"], r["procedure_scope"] or None)
         for r in catalogue],
    )
    cur.execute(
        "CREATE TEMP TABLE improvement_bands (band_code text, name_vi text, lower_bound numeric) ON COMMIT DROP"
    )
    cur.executemany("INSERT INTO improvement_bands VALUES (%s, %s, %s)",
                    [(b["band_code"], b["name_vi"], b["lower_bound"]) for b in bands if b["framework"] == "QD766"])
    cur.execute(IMPROVEMENT_DERIVED)
