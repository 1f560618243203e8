"""Checks of the dashboard "Cần làm gì để tăng điểm" (issue 14) in a real Superset over the fake marts
(test_superset_fake_marts.py, improvement_fake_marts.py); run by test_superset_dashboards.py.

Expectations are computed here from the counts, not read back from the improvement mart: a count is the fewest
whole items after which the published points (ratio clamped and capped, rounded half-up to 2 decimals) equal the
maximum, found by trying 0, 1, 2, ...; the previous period's points come from fct_indicator_values."""

from __future__ import annotations

import csv
import time
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest
import test_superset_fake_marts as fake
from browser_wait import settle

from chiso.settings import REPO_ROOT

SLUG = "can-lam-gi-de-tang-diem"
TITLE = "Cần làm gì để tăng điểm"
SUMMARY = "Điểm hiện nay và khoảng cách lên xếp loại, lên hạng"
GAPS = "Chỉ số 766 còn mất điểm: cần thêm hoặc bớt bao nhiêu"
CDS_GAPS = "Văn bản điện tử, chữ ký số còn mất điểm: cần thêm hoặc bớt bao nhiêu"
PLAN = "Lộ trình lên xếp loại kế tiếp"
MOVES = "Điểm từng chỉ số so với kỳ trước"
AUGUST, JULY = date(2025, 8, 1), date(2025, 7, 1)


def _published(mx: Decimal, cap: Decimal, lower_is_better: bool, num: Decimal, den: Decimal) -> Decimal:
    ratio = min(Decimal(1), max(Decimal(0), num / den))
    raw = mx * (1 - ratio) if lower_is_better else mx * min(Decimal(1), ratio / cap)
    return raw.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def fewest_for_full(mx: Decimal, cap: Decimal, lower_is_better: bool, num: Decimal, den: Decimal) -> int:
    """Items more (fewer, lower is better) of the numerator's kind, same denominator, to reach full points."""
    n = 0
    while _published(mx, cap, lower_is_better, num - n if lower_is_better else num + n, den) < mx:
        n += 1
    return n


def _vn(x: Decimal) -> str:
    return f"{x:.2f}".replace(".", ",")


def check_improvement_dashboard(client, conn: psycopg.Connection, dashboard_view) -> None:
    """Opened as a reader: the latest complete month and the first commune; its gaps with the counts computed from
    its numerators, cheapest first per item; the plan adding up to the next band; points against July."""
    view = dashboard_view(client, SLUG)
    assert view.values["Kỳ"] == ["2025 – Tháng 08"]  # September, evaluated to 20/9, is not complete
    communes = [u for u in fake.build_units() if u.unit_type == "UBND_XA" and u.valid_on(fake.LAST_DAY)]
    unit = min(communes, key=lambda u: u.name)  # the unit filter lists names in order, the first is the default
    assert view.values["Đơn vị"] == [unit.name]
    catalogue = {r["indicator_code"]: r for r in csv.DictReader(
        (REPO_ROOT / "seeds" / "indicator_catalogue.csv").open(encoding="utf-8"))}
    targets = {r["unit_type"]: Decimal(r["target"]) for r in csv.DictReader(
        (REPO_ROOT / "seeds" / "work_file_targets.csv").open(encoding="utf-8"))}
    key = {"u": unit.code, "vf": unit.valid_from}
    facts = {(r[0], r[1]): r[2:] for r in conn.execute(
        "SELECT period_start, indicator_code, numerator, denominator, points, max_points, is_applicable"
        " FROM marts.fct_indicator_values WHERE basis = 'current' AND unit_code = %(u)s AND unit_valid_from = %(vf)s"
        " AND scope = 'unit' AND period_type = 'month' AND period_start IN ('2025-07-01', '2025-08-01')", key)}
    [(total,)] = conn.execute(
        "SELECT total_points FROM marts.rpt_qd766_scores WHERE basis = 'current' AND unit_code = %(u)s"
        " AND unit_valid_from = %(vf)s AND scope = 'unit' AND period_type = 'month' AND period_start = '2025-08-01'",
        key).fetchall()
    names = {r["name_vi"]: code for code, r in catalogue.items()}

    # the gap tables: every scored indicator below its maximum, once; what to do from the counts
    for chart, frameworks in ((GAPS, {"QD766"}), (CDS_GAPS, {"EDOC", "ESIGN"})):
        rows = view.rows[chart]
        expected = {c for (p, c), f in facts.items() if p == AUGUST and catalogue[c]["framework"] in frameworks
                    and f[3] > 0 and f[2] < f[3]}
        assert sorted(names[r["indicator_name"]] for r in rows) == sorted(expected), chart
        per_item = [r["points_per_item"] for r in rows]
        assert per_item == sorted(per_item, reverse=True), chart
        for r in rows:
            code = names[r["indicator_name"]]
            num, den, points, mx, applicable = facts[AUGUST, code]
            ind = catalogue[code]
            assert r["points"] == pytest.approx(float(points)) and r["max_points"] == pytest.approx(float(mx))
            assert r["points_lost"] == pytest.approx(float(mx - points))
            if not applicable or code == "QD766.MDHL.DOSSIER_SATISFACTION":
                continue  # no count to add (rule zero), or a composite of rates
            lower = ind["direction"] == "lower_is_better"
            cap = targets[unit.unit_type] if ind["cap_by_unit_type"] == "true" else Decimal(ind["cap"])
            n = fewest_for_full(mx, cap, lower, num, den)
            assert r["todo_vi"].startswith(f"{'Giảm bớt' if lower else 'Tăng thêm'} {n}: "), (code, r["todo_vi"])
            assert r["points_per_item"] == pytest.approx(float(mx / den if lower else mx / (cap * den)))

    # the plan: steps in order, cumulative points, the band it reaches
    plan = view.rows[PLAN]
    assert [r["step_label"] for r in plan] == [str(i) for i in range(1, len(plan) + 1)] and plan
    assert {r["indicator_name"] for r in plan} <= {r["indicator_name"] for r in view.rows[GAPS]}
    bands = sorted((Decimal(b["lower_bound"]), b["name_vi"]) for b in fake._seed("score_bands.csv")
                   if b["framework"] == "QD766")
    lower_bound, next_band = next(b for b in bands if b[0] > total)
    running = Decimal(0)
    for r in plan:
        running += Decimal(str(r["points_gained"]))
        assert r["cumulative_points"] == pytest.approx(float(running))
        assert r["total_after"] == pytest.approx(float(total + running))
        reached = total + running >= lower_bound
        assert r["reaches_band_label"] == f"{'Đạt' if reached else 'Chưa đạt'} {next_band}"
        assert not reached or r is plan[-1]  # no step after the band is reached

    # a commune at the top band: no step, the reason instead
    top = [name for (name,) in conn.execute(
        "SELECT u.unit_name FROM marts.rpt_qd766_scores s JOIN marts.dim_units u ON u.unit_code = s.unit_code"
        " AND u.unit_valid_from = s.unit_valid_from AND u.is_current WHERE s.basis = 'current' AND s.scope = 'unit'"
        " AND u.unit_type = 'UBND_XA' AND s.period_type = 'month' AND s.period_start = '2025-08-01'"
        " AND s.total_points >= %s", (bands[-1][0],))]
    assert top, "the fake marts have a commune at the top band in August"
    [none] = dashboard_view(client, SLUG, {"Đơn vị": top[:1]}).rows[PLAN]
    assert (none["step_label"], none["todo_vi"]) == ("—", "Đơn vị đã ở mức xếp loại cao nhất")
    assert none["reaches_band_label"] == f"Giữ mức {bands[-1][1]}"

    # the summary: today's total, the points to the next band
    [summary] = view.rows[SUMMARY]
    assert summary["total_points"] == pytest.approx(float(total))
    assert summary["next_band_text"] == f"{next_band} (từ {lower_bound} điểm): cần thêm {_vn(lower_bound - total)} điểm"

    # against the previous month: July's published points of the same indicator
    moves = view.rows[MOVES]
    assert moves and all(r["previous_period_label"] == "2025 – Tháng 07" for r in moves)
    for r in moves:
        code = names[r["indicator_name"]]
        assert r["previous_points"] == pytest.approx(float(facts[JULY, code][2]))
        assert r["points_change"] == pytest.approx(float(facts[AUGUST, code][2] - facts[JULY, code][2]))


def check_remembers_last_unit(target, login, chromium_args: list[str], shots: Path, admin_user: str) -> None:
    """The viewer chooses a unit in the filter bar; opened again from its plain address (a new tab, as from the
    dashboard list) the dashboard shows that unit, the period back on its default; another user gets the default."""
    from playwright.sync_api import sync_playwright

    def unit_and_period(page) -> tuple[str, str]:
        page.get_by_text(TITLE).first.wait_for(timeout=120_000)
        settle(page)
        unit = page.locator('[data-test="NATIVE_FILTER-improve-unit"] .ant-select-selection-item')
        unit.first.wait_for(timeout=60_000)
        period = page.locator('[data-test="NATIVE_FILTER-improve-period"] .ant-select-selection-item')
        return unit.first.inner_text(), period.first.inner_text()

    url = f"{target.url}/superset/dashboard/{SLUG}/"
    default = min(u.name for u in fake.build_units() if u.unit_type == "UBND_XA" and u.valid_on(fake.LAST_DAY))
    chosen = max(u.name for u in fake.build_units() if u.unit_type == "UBND_XA" and u.valid_on(fake.LAST_DAY))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=chromium_args)
        try:
            context = browser.new_context(viewport={"width": 1600, "height": 1200}, locale="vi-VN")
            page = context.new_page()
            login(page, target)
            page.goto(url)
            assert unit_and_period(page) == (default, "2025 – Tháng 08")
            page.locator('[data-test="NATIVE_FILTER-improve-unit"] .ant-select-selector').click()
            page.keyboard.type(chosen)
            page.locator(".ant-select-dropdown:visible .ant-select-item-option", has_text=chosen).first.click()
            page.locator('[data-test="filter-bar__apply-button"]').click()
            settle(page)
            for _ in range(60):  # the choice is saved as the page's filter state once applied
                if "native_filters_key=" in page.url and unit_and_period(page)[0] == chosen:
                    break
                time.sleep(1)
            time.sleep(2)
            again = context.new_page()
            again.goto(url)
            assert unit_and_period(again) == (chosen, "2025 – Tháng 08"), again.url
            again.wait_for_function(  # the charts have drawn its rows (the plan is empty at the top band)
                """() => !document.querySelector('[data-test="chart-grid-component"] [aria-label="Loading"],'
                    + ' [data-test="chart-grid-component"] .loading')
                    && document.querySelectorAll('[data-test="chart-grid-component"] table tbody tr').length >= 3""",
                timeout=120_000)
            settle(again)
            again.screenshot(path=str(shots / f"superset-{SLUG}-don-vi-chon-lan-cuoi.png"), full_page=True)
            other = browser.new_context(viewport={"width": 1600, "height": 1200}, locale="vi-VN").new_page()
            login(other, type(target)(target.url, target.admin, admin_user, target.creds["superset_admin"]))
            other.goto(url)
            assert unit_and_period(other)[0] == default  # remembered per user
        finally:
            browser.close()
