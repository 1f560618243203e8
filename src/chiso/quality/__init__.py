"""Data quality with GX Core: suites in expectations/*.yml, results in the quality schema.

Entry points for DAG tasks (GX is imported lazily, inside `validate`):

    outcome = validate("raw_oss_dossier_daily", warehouse_uri=..., run_id=..., window=(start, end))
    raise_on_critical(outcome)          # fails the task when a critical expectation failed
    freshness(warehouse_uri)            # rows of quality.source_freshness
"""

from chiso.quality.config import QualityConfigError, list_suites, load_suite
from chiso.quality.freshness import freshness
from chiso.quality.outcome import ExpectationOutcome, QualityGateError, QualityOutcome, raise_on_critical
from chiso.quality.runner import validate, validate_many

__all__ = [
    "ExpectationOutcome",
    "QualityConfigError",
    "QualityGateError",
    "QualityOutcome",
    "freshness",
    "list_suites",
    "load_suite",
    "raise_on_critical",
    "validate",
    "validate_many",
]
