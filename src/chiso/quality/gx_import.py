"""Import Great Expectations without the modules its import pulls in for checks chiso never runs, and without
the configuration rebuilds its kwarg lookups do.

`import great_expectations` registers every expectation class, and a few of them (KL divergence, the KS tests)
import scipy.stats and altair at module level, though they only use them inside their methods: a third of
the import's CPU for nothing, paid by every quality task. Those modules are put in `sys.modules` as
placeholders that import the real module on first attribute access, so an expectation that does use
them still works, it just pays the import then.

GX's `Expectation._get_domain_kwargs` / `_get_success_kwargs` / `_get_success_kwarg` read
`self.configuration.kwargs` once per key, and `configuration` is a property that rebuilds the whole
ExpectationConfiguration (a pydantic `.dict()`) every time: about 100 rebuilds per expectation per validation,
a quarter of the validation's CPU. The same methods, reading the configuration once per call, replace them.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

# Imported at module level by GX, used only inside the methods of expectations no suite of ours uses.
DEFERRED = ("scipy.stats", "altair")


class _Deferred(types.ModuleType):
    """Stands for a module until one of its attributes is read; then imports it and forwards to it."""

    def __getattr__(self, attr: str) -> Any:  # called only for attributes the placeholder lacks
        real = self.__dict__.get("_deferred_module")
        if real is None:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
            self.__dict__["_deferred_module"] = real
        return getattr(real, attr)


def defer(name: str) -> bool:
    """Put a placeholder for module `name` in sys.modules; False when it is imported already or not installed."""
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)  # imports the parent package (scipy's own __init__ is light)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    module = _Deferred(name)
    module.__spec__ = spec  # the import system reads it (`_initializing`) without it counting as a use
    module.__loader__ = spec.loader
    module.__file__ = spec.origin
    sys.modules[name] = module
    return True


def is_deferred(name: str) -> bool:
    """Whether `name` is still a placeholder nobody has used."""
    m = sys.modules.get(name)
    return isinstance(m, _Deferred) and "_deferred_module" not in m.__dict__


def _get_domain_kwargs(self) -> dict[str, Any]:
    kwargs = self.configuration.kwargs
    # GX then checks for missing domain keys; a dict built from every domain key has none.
    return {key: kwargs.get(key, self._get_default_value(key)) for key in self.domain_keys}


def _get_success_kwargs(self) -> dict[str, Any]:
    domain_kwargs = self._get_domain_kwargs()
    kwargs = self.configuration.kwargs
    success_kwargs = {key: kwargs.get(key, self._get_default_value(key)) for key in self.success_keys}
    success_kwargs.update(domain_kwargs)
    return success_kwargs


def _get_success_kwarg(self, key: str, default: Any = None) -> Any:
    kwargs = self.configuration.kwargs
    if key in kwargs:
        return kwargs[key]
    field = self.__fields__.get(key)
    if field is not None:
        return field.default if not field.required else default
    return GX_METHODS["_get_success_kwarg"](self, key, default)  # GX's own path: it warns about the unknown key


REPLACEMENTS = {
    "_get_domain_kwargs": _get_domain_kwargs,
    "_get_success_kwargs": _get_success_kwargs,
    "_get_success_kwarg": _get_success_kwarg,
}
GX_METHODS: dict[str, Any] = {}  # GX's originals (the tests compare with them)


def _read_configuration_once() -> None:
    from great_expectations.expectations.expectation import Expectation

    for name, method in REPLACEMENTS.items():
        if getattr(Expectation, name) is not method:
            GX_METHODS[name] = getattr(Expectation, name)
            setattr(Expectation, name, method)


def import_gx():
    """`import great_expectations`, with DEFERRED put off until something uses them and the kwarg lookups
    reading an expectation's configuration once per call."""
    if "great_expectations" not in sys.modules:
        for name in DEFERRED:
            defer(name)
    import great_expectations

    _read_configuration_once()
    return great_expectations
