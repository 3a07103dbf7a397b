"""Baseline: what RabbitMQ alone does on this machine, for comparison with Conveyor.

:func:`measure` publishes ``messages`` persistent messages with publisher confirms
(``inflight`` unconfirmed at a time, like many concurrent HTTP pushes) to a fresh quorum
queue, then consumes them with manual acks at ``prefetch``, and deletes the queue. The suite
runs it as ``raw`` (256 in flight, prefetch 100); alone:

    .venv/bin/python -m bench.raw_rabbitmq --messages 20000
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import aio_pika


async def measure(
    url: str, messages: int, inflight: int = 256, prefetch: int = 100
) -> dict[str, float]:
    """``{"publish": msg/s, "consume": msg/s}`` for one publish-then-consume run."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        name = f"bench.raw.{uuid.uuid4().hex[:10]}"
        queue = await channel.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        try:
            return await _publish_consume(connection, channel, name, messages, inflight, prefetch)
        finally:
            await queue.delete(if_unused=False, if_empty=False)


async def _publish_consume(
    connection: aio_pika.abc.AbstractConnection,
    channel: aio_pika.abc.AbstractChannel,
    name: str,
    messages: int,
    inflight: int,
    prefetch: int,
) -> dict[str, float]:
    sem = asyncio.Semaphore(inflight)

    async def publish(n: int) -> None:
        async with sem:
            body = f'{{"id": "{uuid.uuid4()}", "n": {n}}}'.encode()
            message = aio_pika.Message(
                body,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                content_type="application/json",
            )
            await channel.default_exchange.publish(message, name)

    t0 = time.perf_counter()
    await asyncio.gather(*(publish(n) for n in range(messages)))
    published = time.perf_counter() - t0

    consume_channel = await connection.channel()
    await consume_channel.set_qos(prefetch_count=prefetch)
    consume_queue = await consume_channel.get_queue(name)
    done = asyncio.Event()
    seen = 0

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal seen
        await message.ack()
        seen += 1
        if seen == messages:
            done.set()

    t1 = time.perf_counter()
    tag = await consume_queue.consume(on_message)
    await done.wait()
    consumed = time.perf_counter() - t1
    await consume_queue.cancel(tag)
    return {"publish": messages / published, "consume": messages / consumed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--inflight", type=int, default=256)
    parser.add_argument("--prefetch", type=int, default=100)
    args = parser.parse_args()
    rates = asyncio.run(measure(args.url, args.messages, args.inflight, args.prefetch))
    print(f"raw RabbitMQ (aio-pika), quorum queue, {args.messages} persistent messages")
    print(f"  publish+confirm ({args.inflight} in flight): {rates['publish']:8.0f} msg/s")
    print(f"  consume+ack (prefetch {args.prefetch}):     {rates['consume']:8.0f} msg/s")


if __name__ == "__main__":
    main()
