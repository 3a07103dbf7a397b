"""Baseline: what RabbitMQ alone does on this machine, for comparison with Conveyor.

Publishes ``--messages`` persistent messages with publisher confirms (``--inflight``
unconfirmed at a time, like many concurrent HTTP pushes) to a fresh quorum queue, then
consumes them with manual acks at ``--prefetch``. Prints both rates. Deletes its queue.

    .venv/bin/python bench/raw_rabbitmq.py --messages 5000
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import aio_pika


async def run(args: argparse.Namespace) -> None:
    connection = await aio_pika.connect(args.url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        name = f"bench.raw.{uuid.uuid4().hex[:8]}"
        queue = await channel.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        sem = asyncio.Semaphore(args.inflight)

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
        await asyncio.gather(*(publish(n) for n in range(args.messages)))
        published = time.perf_counter() - t0

        consume_channel = await connection.channel()
        await consume_channel.set_qos(prefetch_count=args.prefetch)
        consume_queue = await consume_channel.get_queue(name)
        done = asyncio.Event()
        seen = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal seen
            await message.ack()
            seen += 1
            if seen == args.messages:
                done.set()

        t1 = time.perf_counter()
        tag = await consume_queue.consume(on_message)
        await done.wait()
        consumed = time.perf_counter() - t1
        await consume_queue.cancel(tag)
        await queue.delete(if_unused=False, if_empty=False)
    print(f"raw RabbitMQ (aio-pika), quorum queue, {args.messages} persistent messages")
    print(f"  publish+confirm ({args.inflight} in flight): {args.messages / published:8.0f} msg/s")
    print(f"  consume+ack (prefetch {args.prefetch}):      {args.messages / consumed:8.0f} msg/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--inflight", type=int, default=32)
    parser.add_argument("--prefetch", type=int, default=32)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
