"""The model behind `make bench`'s throttled burst (benchmarks/throttled.py): SageMaker's rate limits as token buckets
on a virtual clock, the SDK's retries, Lambda's reserved containers and asynchronous retries. Its figures are only as
good as the model, so the model is checked here (nothing is timed)."""

from __future__ import annotations

import threading

from benchmarks import throttled
from sandbox.cloud import Sandbox
from sandbox.replay import read_policy, sample_policies


def test_a_bucket_serves_its_rate_then_refuses_until_time_refills_it() -> None:
    clock = throttled.VirtualClock()
    bucket = throttled.Throttle(clock)
    rate = bucket.rate("CreateModelPackage")
    key = ("222222222222", "us-east-1", "CreateModelPackage")

    admitted = [bucket.take(key, rate) for _ in range(3)]
    clock.now = 1.0  # one second later: one more token at 1/s
    later = [bucket.take(key, rate), bucket.take(key, rate)]

    assert rate == 1.0
    assert admitted == [True, False, False]
    assert later == [True, False]
    assert bucket.least_seconds() == 1.0  # two accepted requests at 1/s, the first from the full bucket


def test_the_clock_runs_one_thread_at_a_time_and_jumps_to_the_earliest_wake_up() -> None:
    clock = throttled.VirtualClock()
    woke: list[tuple[str, float]] = []

    def member(name: str, naps: list[float]) -> None:
        clock.join()
        try:
            for nap in naps:
                clock.sleep(nap)
                woke.append((name, clock.now))
        finally:
            clock.leave()

    threads = [
        threading.Thread(target=member, args=("a", [5.0, 5.0])),
        threading.Thread(target=member, args=("b", [3.0, 1.0])),
    ]
    for thread in threads:
        thread.start()
    clock.start(2)
    for thread in threads:
        thread.join()

    assert woke == [("b", 3.0), ("b", 4.0), ("a", 5.0), ("a", 10.0)]


def test_a_throttled_sweep_loses_nothing_and_registers_exactly_the_jobs_that_pass() -> None:
    with Sandbox() as sandbox:
        for path in sample_policies():
            sandbox.publish_policy(read_policy(path))
        settings = throttled.LambdaSettings(containers=3, retries=2, max_event_age_seconds=3600)

        found = throttled.measure(sandbox, jobs=20, settings=settings)

    assert found.registered == 2  # jobs 0 and 10 pass the gate; their duplicates register nothing more
    assert (found.lost, found.dead_lettered) == (0, 0)
    assert found.throttled  # the rates were reached: the SDK's retries carried the burst through
    assert found.drain_seconds >= found.least_seconds > 0


def test_an_event_older_than_its_maximum_age_is_sent_to_the_on_failure_destination() -> None:
    with Sandbox() as sandbox:
        for path in sample_policies():
            sandbox.publish_policy(read_policy(path))
        # one container and ten-second event age: the queue behind the first few events outlives it
        settings = throttled.LambdaSettings(containers=1, retries=2, max_event_age_seconds=10)

        found = throttled.measure(sandbox, jobs=60, settings=settings)

    assert found.dead_lettered > 0
    assert found.lost == 0
