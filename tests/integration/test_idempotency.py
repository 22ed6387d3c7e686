"""Semantic idempotency on the lifecycle table: once per state change, typed errors when the store cannot say."""

from __future__ import annotations

import threading

import pytest
from lifecycle.config import get_settings
from lifecycle.errors import AwsCallFailed, DuplicateInProgress
from lifecycle.store.idempotency import SemanticKey, once
from support.cloud import Cloud
from support.training import Context

KEY = SemanticKey.of("test", "arn:aws:sagemaker:us-east-1:222222222222:training-job/a", "Completed", "2026-11-27")


def test_the_same_key_acts_once_and_returns_the_first_result(cloud: Cloud) -> None:
    calls: list[int] = []

    def act() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    assert once(KEY, get_settings(), act, context=Context()) == {"n": 1}
    assert once(KEY, get_settings(), act, context=Context()) == {"n": 1}
    other = SemanticKey.of("test", KEY.resource_arn, "Failed", KEY.changed_at)
    assert once(other, get_settings(), act, context=Context()) == {"n": 2}
    assert len(calls) == 2


def test_a_failed_action_keeps_no_record_so_the_retry_acts(cloud: Cloud) -> None:
    def fail() -> dict[str, str]:
        raise AwsCallFailed("boom")

    with pytest.raises(AwsCallFailed):
        once(KEY, get_settings(), fail, context=Context())

    assert once(KEY, get_settings(), lambda: {"ok": "yes"}, context=Context()) == {"ok": "yes"}


def test_a_concurrent_duplicate_is_a_typed_retryable_error(cloud: Cloud) -> None:
    started, release = threading.Event(), threading.Event()

    def slow() -> dict[str, str]:
        started.set()
        release.wait(10)
        return {"done": "first"}

    first = threading.Thread(target=once, args=(KEY, get_settings(), slow), kwargs={"context": Context()})
    first.start()
    started.wait(10)
    try:
        with pytest.raises(DuplicateInProgress, match="being handled by another invocation"):
            once(KEY, get_settings(), lambda: {"done": "second"}, context=Context())
    finally:
        release.set()
        first.join()


def test_an_unreachable_store_is_a_typed_retryable_error(cloud: Cloud) -> None:
    cloud.client("dynamodb").delete_table(TableName=get_settings().table_name)

    with pytest.raises(AwsCallFailed, match="idempotency record in"):
        once(KEY, get_settings(), lambda: {"x": "y"}, context=Context())
