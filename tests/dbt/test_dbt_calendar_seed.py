"""The committed holiday seed must equal what the generator produces from the installed `holidays` package."""

from chiso import calendar_seed


def test_committed_seed_matches_generator():
    committed = calendar_seed.SEED_PATH.read_text(encoding="utf-8")
    assert committed == calendar_seed.render(calendar_seed.build_rows())


def test_seed_knows_tet_and_make_up_days():
    rows = {(d, kind) for d, kind, _ in calendar_seed.build_rows()}
    assert ("2024-02-10", "holiday") in rows  # Tết Giáp Thìn
    assert ("2024-04-29", "holiday") in rows  # bridge day off before 30/4
    assert ("2024-05-04", "make_up_working_day") in rows  # worked Saturday in exchange
    assert all(calendar_seed.FIRST_YEAR <= int(d[:4]) <= calendar_seed.LAST_YEAR for d, _ in rows)
