"""Scale-out under faults, with every role a real OS process on PostgreSQL and RabbitMQ:
three cores and two adapter processes behind one gateway, 1,000 messages over 50
conversations. Whatever happens to a core, each conversation's messages are recorded in the
order they were sent and answered in that order, each exactly once.

Slow by nature (processes, 1,000 round trips): about a minute each on a 2-core machine."""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.support.cluster import (
    Cluster,
    Conversations,
    cluster_config,
    count_messages,
    diagnose,
    inbound_orders,
    recording_story,
    replies,
)
from tests.support.pipeline import CallbackReceiver, eventually

CONVERSATIONS, LENGTH = 50, 20  # 1,000 messages
pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]


async def test_a_core_killed_mid_stream_loses_and_reorders_nothing(
    postgres_url: str, amqp_url: str, tmp_path: Path
) -> None:
    sent = Conversations(CONVERSATIONS, LENGTH, mark=300)
    async with CallbackReceiver() as receiver, AsyncExitStack() as stack:
        config = cluster_config(tmp_path, postgres_url, amqp_url, receiver.url)
        cluster = Cluster(config, stack, amqp_url)
        gateway = await cluster.start("gateway", "gateway", migrate=True)
        await asyncio.gather(
            *(cluster.start(f"core-{n}", "core") for n in range(3)),
            *(cluster.start(f"adapters-{n}", "adapters") for n in range(2)),
        )
        sending = asyncio.create_task(sent.send(gateway.url, run="kill"))
        await asyncio.wait_for(sent.passed_mark.wait(), 120)
        await cluster.kill("core-0")  # mid-stream, a batch in its hands
        await cluster.start("core-3", "core")
        await sending
        await _settled(postgres_url, receiver, sent, cluster)
    await _check(postgres_url, replies(receiver, sent), sent, "kill", cluster)


async def test_a_backlog_drained_by_three_cores_started_together_keeps_order(
    postgres_url: str, amqp_url: str, tmp_path: Path
) -> None:
    sent = Conversations(CONVERSATIONS, LENGTH)
    async with CallbackReceiver() as receiver, AsyncExitStack() as stack:
        config = cluster_config(tmp_path, postgres_url, amqp_url, receiver.url)
        cluster = Cluster(config, stack, amqp_url)
        gateway = await cluster.start("gateway", "gateway", migrate=True)
        await cluster.start("adapters-0", "adapters")
        # The shard queues exist once a core has run; then the backlog waits in them.
        await cluster.start("core-0", "core")
        await cluster.stop("core-0")
        await sent.send(gateway.url, run="backlog")
        await asyncio.gather(
            *(cluster.start(f"core-{n}", "core") for n in range(1, 4)),
            cluster.start("adapters-1", "adapters"),
        )
        await _settled(postgres_url, receiver, sent, cluster)
    await _check(postgres_url, replies(receiver, sent), sent, "backlog", cluster)


async def _settled(
    database_url: str, receiver: CallbackReceiver, sent: Conversations, cluster: Cluster
) -> None:
    """Every message answered, and every answer recorded as sent (in and out: two rows)."""
    total = sent.count * sent.length

    async def done() -> bool:
        return len(receiver.requests) >= total and await count_messages(database_url) >= 2 * total

    try:
        await eventually(done, timeout=180)
    except AssertionError:
        rows = await count_messages(database_url)
        heard = "\n".join(cluster.complaints[-30:])
        state = await diagnose(database_url, cluster.bus_url)
        raise AssertionError(
            f"{len(receiver.requests)} replies, {rows} rows; {state}\n{heard}"
        ) from None
    await asyncio.sleep(1.0)  # anything sent twice would arrive by now


async def _check(
    database_url: str,
    answered: dict[str, list[int]],
    sent: Conversations,
    run: str,
    cluster: Cluster,
) -> None:
    _write_log(cluster)
    inbound = await inbound_orders(database_url)
    expected = list(range(sent.length))
    assert len(inbound) == sent.count
    for k in range(sent.count):
        channel = sent.channel(k)
        if inbound[channel] != [f"{run}-{channel}-{n:04d}" for n in expected]:
            story = await recording_story(database_url, channel)
            raise AssertionError(f"{channel} recorded out of order or not once:\n{story}")
    wrong = {channel: got for channel, got in answered.items() if got != expected}
    if wrong:
        ids = {i for i, (channel, _) in sent.event_ids.items() if channel in wrong}
        story = [line for line in cluster.lines if any(i in line for i in ids)]
        story += [line for line in cluster.lines if "shard" in line][-40:]
        joined = "\n".join(story[-80:])
        raise AssertionError(f"answered out of order or not once: {wrong}\n{joined}")
    assert len(answered) == sent.count


def _write_log(cluster: Cluster) -> None:
    if dump := os.environ.get("BOTGATE_CLUSTER_LOG"):  # every process's log, for a post-mortem
        Path(dump).write_text("\n".join(cluster.lines))
