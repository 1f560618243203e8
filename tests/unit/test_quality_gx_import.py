"""GX is imported without scipy.stats and altair, which it only uses inside expectations chiso does not run; a
check that does use them still gets the real modules. Each case runs in a fresh interpreter (GX not imported)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {SRC!r})\n{code}"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "GX_ANALYTICS_ENABLED": "False"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip()


def test_gx_import_leaves_scipy_stats_and_altair_unloaded():
    out = _run(
        "from chiso.quality.gx_import import import_gx, is_deferred\n"
        "gx = import_gx()\n"
        "assert gx.ExpectationSuite and gx.expectations.ExpectColumnValuesToNotBeNull\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('scipy.stats.', 'altair.')))\n"
        "print(is_deferred('scipy.stats'), is_deferred('altair'), loaded)"
    )
    assert out == "True True []"


def test_an_expectation_using_them_gets_the_real_modules():
    out = _run(
        "from chiso.quality.gx_import import import_gx, is_deferred\n"
        "import_gx()\n"
        "from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl\n"
        "import scipy.stats\n"
        "print(round(kl.stats.entropy([0.5, 0.5], [0.9, 0.1]), 4), kl.stats.entropy is scipy.stats.entropy,\n"
        "      kl.alt.Chart.__module__.startswith('altair'), is_deferred('scipy.stats'), is_deferred('altair'))"
    )
    assert out == "0.5108 True True False False"


def test_kwarg_lookups_read_the_configuration_once_and_agree_with_gx():
    """Every expectation of every suite: the replaced lookups return what GX's own return, for every key GX asks
    (domain, success and runtime keys), while building the configuration once per call instead of once per key."""
    out = _run(
        "from datetime import date\n"
        "from chiso.quality import list_suites, load_suite\n"
        "from chiso.quality.gx_import import GX_METHODS, import_gx\n"
        "from chiso.quality.runner import _build_expectation\n"
        "import_gx()\n"
        "from great_expectations.expectations.expectation import Expectation\n"
        "prop = Expectation.configuration\n"
        "builds = [0]\n"
        "def counted(self):\n"
        "    builds[0] += 1\n"
        "    return prop.fget(self)\n"
        "Expectation.configuration = property(counted)\n"
        "n, fast, slow = 0, 0, 0\n"
        "for name in list_suites():\n"
        "    for spec in load_suite(name).expectations:\n"
        "        e = _build_expectation(spec, (date(2024, 1, 1), date(2024, 12, 31)))\n"
        "        keys = (*e.domain_keys, *e.success_keys, *e.runtime_keys)\n"
        "        builds[0] = 0\n"
        "        new = (e._get_domain_kwargs(), e._get_success_kwargs())\n"
        "        fast += builds[0]; builds[0] = 0\n"
        "        old = (GX_METHODS['_get_domain_kwargs'](e), GX_METHODS['_get_success_kwargs'](e))\n"
        "        slow += builds[0]\n"
        "        assert new == old, (name, spec.name, new, old)\n"
        "        for k in keys:\n"
        "            assert e._get_success_kwarg(k) == GX_METHODS['_get_success_kwarg'](e, k), (name, spec.name, k)\n"
        "        n += 1\n"
        "print(n, fast, slow)"
    )
    n, fast, slow = map(int, out.split())
    assert n > 100 and fast == 3 * n, out  # one build for the domain kwargs, one more for the success kwargs
    assert slow > 2 * fast, out  # GX: one build per domain key, per success key, and per domain key again
