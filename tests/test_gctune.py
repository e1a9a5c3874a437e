"""numeneon.gctune: GC_THRESHOLD parsing, and what the server does to the collector once the
application is built."""

from __future__ import annotations

import gc

import pytest
from django.core.exceptions import ImproperlyConfigured

from numeneon.gctune import parse_threshold, tune_after_startup


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", None), ("  ", None), ("5000,10,100", (5000, 10, 100)), ("700", (700,))],
)
def test_thresholds_are_parsed(raw, expected):
    assert parse_threshold(raw) == expected


@pytest.mark.parametrize("raw", ["a,b", "1,2,3,4", "-1", "5000,,10", "1.5"])
def test_a_bad_threshold_is_a_configuration_error(raw):
    with pytest.raises(ImproperlyConfigured, match="GC_THRESHOLD"):
        parse_threshold(raw)


@pytest.fixture
def collector_state():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_start_up_objects_are_frozen_and_the_threshold_set(settings, collector_state):
    settings.GC_THRESHOLD = (5000, 10, 100)
    settings.GC_FREEZE_AFTER_STARTUP = True
    gc.unfreeze()
    from_start_up = ["a container the collector tracks"]
    tune_after_startup()
    made_later = ["another"]
    assert gc.get_threshold() == (5000, 10, 100)
    assert gc.get_freeze_count() > 10_000
    # A full collection walks only what came after (get_objects lists what it would walk).
    walked = gc.get_objects()
    assert not any(obj is from_start_up for obj in walked)
    assert any(obj is made_later for obj in walked)


def test_both_can_be_turned_off(settings, collector_state):
    settings.GC_THRESHOLD = None
    settings.GC_FREEZE_AFTER_STARTUP = False
    gc.unfreeze()
    before = gc.get_threshold()
    tune_after_startup()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
