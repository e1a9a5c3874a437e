"""The benchmark harness: what its command line means."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench import common, harness


def test_a_configuration_is_served_from_this_checkout_unless_a_directory_is_given():
    here = harness.parse_config("daphne/pubsub")
    there = harness.parse_config("daphne/core@/tmp/base")

    assert (here.kind, here.layer, here.code_dir) == ("daphne", "pubsub", common.BASE_DIR)
    assert (there.name, there.kind, there.layer) == ("daphne/core@/tmp/base", "daphne", "core")
    assert there.code_dir == Path("/tmp/base").resolve()


def test_the_bare_ceiling_and_a_kind_alone_take_the_pubsub_layer():
    assert harness.parse_config("bare").layer == "pubsub"
    assert harness.parse_config("uvicorn").layer == "pubsub"


@pytest.mark.parametrize("text", ["daphne/redis", "gunicorn/pubsub", "bare/core"])
def test_an_unknown_configuration_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        harness.parse_config(text)


def test_the_command_line_gives_configurations_in_order():
    args = harness.parser("latency", None, "bare").parse_args(
        ["--configs", "daphne/pubsub@/tmp/base,daphne/pubsub", "--rounds", "3"]
    )

    assert [c.name for c in args.configs] == ["daphne/pubsub@/tmp/base", "daphne/pubsub"]
    assert args.rounds == 3


def test_odd_rounds_run_the_configurations_in_reverse():
    args = harness.parser("latency", None, "daphne/pubsub@/tmp/base,daphne/pubsub").parse_args(
        ["--rounds", "2"]
    )
    plan = harness.Harness(args, "test").plan(cases=[(100,)])

    assert [(r, c.name, rate) for r, c, rate in plan] == [
        (0, "daphne/pubsub@/tmp/base", 100),
        (0, "daphne/pubsub", 100),
        (1, "daphne/pubsub", 100),
        (1, "daphne/pubsub@/tmp/base", 100),
    ]


def test_medians_are_taken_per_configuration_and_case_and_totals_summed():
    rows = [
        {"config": "a", "procs": 1, "p50": 1.0, "lost": 0, "keeps up": "yes"},
        {"config": "a", "procs": 1, "p50": 3.0, "lost": 2, "keeps up": "no"},
        {"config": "a", "procs": 2, "p50": 9.0, "lost": 0, "keeps up": "yes"},
        {"config": "a", "procs": 1, "p50": 2.0, "lost": 1, "keeps up": "yes"},
    ]

    one, two = harness.medians(rows, key=("config", "procs"), sums=("lost",))

    assert one == {"config": "a", "procs": 1, "p50": 2.0, "lost": 3, "keeps up": "no", "rounds": 3}
    assert two == {"config": "a", "procs": 2, "p50": 9.0, "lost": 0, "keeps up": "yes", "rounds": 1}
