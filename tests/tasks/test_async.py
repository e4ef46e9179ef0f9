"""Coroutine functions as tasks: the awaited call is the job, concurrent calls stay apart,
and generator functions are refused when decorated."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import roar
from roar.errors import UsageError
from roar.project import Project


@roar.task
async def scale(values: list[float], factor: float) -> list[float]:
    await asyncio.sleep(0)
    return [v * factor for v in values]


@roar.task
async def total(values: list[float]) -> float:
    await asyncio.sleep(0)
    return sum(values)


def test_an_awaited_call_is_a_job_and_its_result_carries_lineage(proj: Path) -> None:
    async def pipeline() -> float:
        scaled = await scale([1.0, 2.0, 3.0], 2.0)  # stored results come back as artifacts
        return float((await total(scaled)).load())

    assert asyncio.run(pipeline()) == 12.0
    scaled_meta, total_meta = roar.get_meta(1), roar.get_meta(2)
    assert (scaled_meta["name"], scaled_meta["status"]) == ("scale", "ok")
    assert (total_meta["name"], total_meta["status"]) == ("total", "ok")
    assert roar.inp(1)["factor"] == 2.0
    with Project(proj).open_store() as store:
        made = {ref.artifact.hash for ref in store.job_outputs(1)}
        used = {ref.artifact.hash for ref in store.job_inputs(2)}
    assert made
    assert used == made  # total read what scale returned


def test_concurrent_calls_are_separate_jobs_with_separate_logs(proj: Path) -> None:
    @roar.task
    async def chatty(word: str, rounds: int) -> str:
        for i in range(rounds):
            print(f"{word} {i}")
            await asyncio.sleep(0.01)  # the other call runs here
        return word

    async def both() -> list[str]:
        results = await asyncio.gather(chatty("left", 5), chatty("right", 5))
        return [result.load() for result in results]

    assert asyncio.run(both()) == ["left", "right"]
    logs = {roar.get_meta(run_id)["params"]["word"]: roar.get_log(run_id) for run_id in (1, 2)}
    assert [roar.get_meta(run_id)["status"] for run_id in (1, 2)] == ["ok", "ok"]
    for word, other in (("left", "right"), ("right", "left")):
        assert [f"{word} {i}" for i in range(5)] == logs[word].splitlines()
        assert other not in logs[word]


def test_a_failing_or_cancelled_call_is_recorded_and_raised(proj: Path) -> None:
    @roar.task
    async def broken() -> None:
        await asyncio.sleep(0)
        raise ValueError("bad batch")

    @roar.task
    async def slow() -> None:
        await asyncio.sleep(30)

    with pytest.raises(ValueError, match="bad batch"):
        asyncio.run(broken())
    assert roar.get_meta(1)["status"] == "failed"
    assert "ValueError: bad batch" in roar.get_log(1)

    async def cancel_it() -> None:
        running = asyncio.ensure_future(slow())
        await asyncio.sleep(0.2)
        running.cancel()
        await running

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cancel_it())
    assert roar.get_meta(2)["status"] == "failed"
    assert "CancelledError" in roar.get_log(2)


def test_generator_functions_are_refused_when_decorated() -> None:
    def numbers() -> object:
        yield 1

    async def stream() -> object:
        yield 1

    for function in (numbers, stream):
        with pytest.raises(UsageError, match="generator function"):
            roar.task(function)  # type: ignore[arg-type]
