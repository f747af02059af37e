"""The capacity model's arithmetic (bench/capacity.py), on made-up costs: the relations it
must keep, not figures."""

import math

from bench.capacity import Assumptions, Costs, Streams, hearing, plan, workers_needed

COSTS = Costs(worker=1000, listener=20, listener_idle=5000, quiet=1000, read=300,
              stream_open=400, database=800, redis=200, commands=30, notices=3)
STREAMS = Streams(frame=10, kb=20, per_worker=10_000)
DELIVERY = 0.2


def test_workers_cover_their_work_and_every_notice():
    cpu_us, hear_us, budget = 3e6, 0.1e6, 0.6
    workers = workers_needed(cpu_us, hear_us, budget)
    assert math.isclose(workers * budget, cpu_us / 1e6 + (workers - 1) * hear_us / 1e6)
    assert workers > workers_needed(cpu_us, 0, budget)


def test_no_number_of_workers_suffices_once_hearing_fills_one():
    assert workers_needed(1e6, 0.6e6, 0.6) == math.inf
    row = plan(50_000, 100_000, COSTS, None, STREAMS, DELIVERY, Assumptions(utilisation=0.5))
    assert row["workers"] == math.inf
    assert "hearing notices, per worker" in row["out"]


def test_one_redis_until_it_is_full_then_a_cluster():
    a = Assumptions()
    budget = a.utilisation * min(1e6 / COSTS.redis,  # updates a second its commands take
                                 a.commands_per_primary / COSTS.commands)
    below = plan(budget * 0.5, 0, COSTS, None, STREAMS, DELIVERY, a)
    above = plan(budget * 1.1, 0, COSTS, None, STREAMS, DELIVERY, a)
    assert below["redis"] == "single" and below["primaries"] == 1
    assert above["redis"] == "cluster" and above["primaries"] >= 3
    assert "one Redis" in above["out"] and "one Redis" not in below["out"]


def test_the_first_to_run_out_has_the_largest_share():
    row = plan(10_000, 1_000_000, COSTS, COSTS, STREAMS, DELIVERY, Assumptions())
    assert row["limits"][row["first"]] == max(row["limits"].values())
    assert set(row["out"]) == {k for k, share in row["limits"].items() if share >= 1}


def test_viewers_need_workers_for_their_connections():
    row = plan(1_000, 1_000_000, COSTS, None, STREAMS, DELIVERY, Assumptions())
    assert row["workers"] >= 1_000_000 / STREAMS.per_worker
    assert row["instances"] * Assumptions().cores_per_instance >= row["workers"]


def test_hearing_keeps_apart_what_does_not_grow_with_the_updates():
    fixed, per_update = 30_000.0, 20.0  # made up: µs a second, µs an update
    load = {"updates_per_second": 300, "cpu_per_second": (fixed + per_update * 300) / 1e6}
    assert math.isclose(hearing(load, per_update), fixed)
    assert hearing(load, per_update * 1000) == 0  # never below nothing
