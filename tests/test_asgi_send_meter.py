"""The ASGI adapter's native ``send`` (``_native.SendMeter``): what it notes, and that awaiting
it is awaiting the server's ``send``, whatever that does: finish at once, suspend on the event
loop, answer a value, raise, or be cancelled."""

from __future__ import annotations

import asyncio
from collections import UserDict
from typing import Any

import pytest

from burnguard._native import SendMeter

START = {"type": "http.response.start", "status": 201, "headers": []}


def test_it_notes_the_status_and_the_body_bytes() -> None:
    seen: list[Any] = []

    async def send(message: Any) -> None:
        seen.append(message)

    meter = SendMeter(send)
    assert meter.figures()[:3] == (500, 0, False), "500 until a start message is sent"

    async def app() -> None:
        await meter(START)
        await meter({"type": "http.response.body", "body": b"abc", "more_body": True})
        await meter(UserDict({"type": "http.response.body", "body": bytearray(4)}))
        await meter({"type": "http.response.body"})  # no body: nothing sent
        await meter({"type": "http.response.trailers", "headers": []})

    asyncio.run(app())
    status, sent, failed, seconds = meter.figures()
    assert (status, sent, failed) == (201, 7, False)
    assert seconds >= 0 and meter.elapsed() >= seconds
    assert len(seen) == 5 and seen[0] is START, "every message handed on as it was"


def test_a_send_that_suspends_on_the_loop_and_answers_a_value() -> None:
    async def send(message: Any) -> str:
        await asyncio.sleep(0)
        await asyncio.sleep(0.001)
        return "answered"

    meter = SendMeter(send)

    async def app() -> Any:
        return await meter(START)

    assert asyncio.run(app()) == "answered"
    assert meter.figures()[:3] == (201, 0, False)


def test_a_send_returning_a_future_rather_than_a_coroutine() -> None:
    async def app() -> Any:
        loop = asyncio.get_running_loop()

        def send(message: Any) -> asyncio.Future[Any]:
            future = loop.create_future()
            loop.call_soon(future.set_result, None)
            return future

        meter = SendMeter(send)
        await meter(START)
        return meter.figures()[:3]

    assert asyncio.run(app()) == (201, 0, False)


def test_a_failing_send_raises_to_the_app_and_is_noted() -> None:
    async def send(message: Any) -> None:
        await asyncio.sleep(0)
        raise OSError("client went away")

    meter = SendMeter(send)

    async def app() -> None:
        await meter(START)

    with pytest.raises(OSError, match="client went away"):
        asyncio.run(app())
    assert meter.figures()[2] is True

    def refuses(message: Any) -> None:
        raise RuntimeError("closed")

    meter = SendMeter(refuses)
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(app_of(meter))
    assert meter.figures()[2] is True


async def app_of(meter: SendMeter) -> None:
    await meter(START)


def test_a_send_cancelled_while_suspended_is_noted_and_cancels() -> None:
    started = asyncio.Event()

    async def send(message: Any) -> None:
        started.set()
        await asyncio.sleep(60)

    meter = SendMeter(send)

    async def main() -> None:
        task = asyncio.create_task(app_of(meter))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert meter.figures()[2] is True


def test_disconnect_marks_the_request() -> None:
    async def send(message: Any) -> None:
        return None

    meter = SendMeter(send)
    meter.disconnect()
    assert meter.figures()[2] is True
