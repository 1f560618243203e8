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
