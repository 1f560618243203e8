"""The marts of warehouse.md's contract as plain tables, for tests of consumers (exports, quality checks)
that must not depend on a dbt build."""

MARTS_DDL = """
CREATE TABLE marts.dim_units (unit_code text, internal_id text, unit_name text, unit_type text,
    parent_unit_code text, admin_area_code text, staff_count int, valid_from date, valid_to date);
CREATE TABLE marts.fct_indicator_values (indicator_code text, unit_code text, scope text, period_type text,
    period_start date, period_end date, framework text, group_code text, numerator numeric, denominator numeric,
    value numeric, points numeric, max_points numeric, is_applicable boolean);
CREATE TABLE marts.rpt_qd766_scores (unit_code text, scope text, period_type text, period_start date,
    period_end date, ckmb numeric, tdgq numeric, clgq numeric, mdsh numeric, tttt numeric, mdhl numeric,
    total_points numeric, band text);
CREATE TABLE marts.rpt_unit_rankings (ranking_code text, period_type text, period_start date, unit_group text,
    unit_code text, period_end date, unit_name text, score numeric, rank int, units_ranked int,
    previous_rank int, rank_change int);
CREATE TABLE marts.rpt_dossier_report (unit_code text, scope text, period_type text, period_start date,
    period_end date, received_total bigint, received_online bigint, received_offline bigint, carried_over bigint,
    resolved_total bigint, resolved_early bigint, resolved_on_time bigint, resolved_late bigint,
    in_progress_total bigint, in_progress_within bigint, in_progress_overdue bigint);
"""
