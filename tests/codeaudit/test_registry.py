"""The library models' tables merge into one table each, and a name has one model only."""

from __future__ import annotations

import pytest

from zerotls.codeaudit._analysis import registry


def test_every_model_is_merged() -> None:
    for model in registry.MODELS:
        assert set(model.calls) <= set(registry.CALLS)
        assert set(model.methods) <= set(registry.METHODS)
        assert set(model.object_methods) <= set(registry.OBJECT_METHODS)
        assert set(model.finishers) <= set(registry.FINISHERS)
        assert model.known <= registry.KNOWN_QUALS


def test_a_name_claimed_twice_is_refused() -> None:
    with pytest.raises(RuntimeError, match="two library models claim the call 'ssl.x'"):
        registry._merge("call", [{"ssl.x": 1}, {"ssl.x": 2}])
