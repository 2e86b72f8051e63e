"""Creating the pipeline's topics before anything is published, so producer and worker agree on the
number of partitions (a broker that auto-creates topics would otherwise pick its own default)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from sno.runtime.transport import aiokafka_options


async def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **aiokafka_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name=t, num_partitions=partitions, replication_factor=1) for t in wanted]
                )
        return wanted
    finally:
        await admin.close()


async def cluster_id(bootstrap: str) -> str:
    """The Kafka cluster id: the epoch of the pipeline's ledger (streams/README.md)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **aiokafka_options())
    await admin.start()
    try:
        described = await admin.describe_cluster()
        return str(described.get("cluster_id") or "")
    finally:
        await admin.close()

