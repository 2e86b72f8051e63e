#!/usr/bin/env bash
# Creates the SNO topics with their partitions, replication and retention, and (re-)applies the topic
# configuration to topics that exist already. Idempotent: safe to run on every deployment.
#
# The input topics are those of docs/events.md (schemas.events.TOPICS); sno.deadletter and sno.alerts are the
# pipeline's outputs. tests/test_deploy.py checks that this list and the contract agree.
#
# Partitions are never changed here on an existing topic: the producer keys events by id, so adding
# partitions moves keys, and the per-partition de-duplication index (24 h, docs/events.md) would then count a
# re-delivered event twice. Choose the counts up front; 12 allows up to 12 worker processes.
#
# Environment: BOOTSTRAP (host:port,...), REPLICATION_FACTOR (3), MIN_INSYNC_REPLICAS (2),
# KAFKA_BIN (/opt/kafka/bin), WAIT_SECONDS (120).
set -euo pipefail

BOOTSTRAP="${BOOTSTRAP:-kafka-1:9092,kafka-2:9092,kafka-3:9092}"
REPLICATION_FACTOR="${REPLICATION_FACTOR:-3}"
MIN_INSYNC_REPLICAS="${MIN_INSYNC_REPLICAS:-2}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
WAIT_SECONDS="${WAIT_SECONDS:-120}"

DAY_MS=86400000

# topic                 partitions  retention (days)  why this retention
TOPICS=(
  "sno.authentications  12          45"  # a whole month can be re-read after a ClickHouse restore
  "sno.transactions     12          45"
  "sno.messages         12          45"
  "sno.notifications    12          45"
  "sno.api-requests     12          45"
  "sno.support          6           45"
  "sno.incidents        3           400" # snapshots: few, and an incident can stay open for months
  "sno.outages          3           400"
  "sno.maintenance      3           400"
  "sno.forecasts        3           400"
  "sno.deadletter       3           30"  # the exact record is in ClickHouse (sno_deadletter)
  "sno.alerts           3           30"  # the history is in ClickHouse (sno_alerts)
)

topics_cmd() {
  "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" "$@"
}

configs_cmd() {
  "$KAFKA_BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" "$@"
}

deadline=$((SECONDS + WAIT_SECONDS))
until topics_cmd --list > /dev/null 2>&1; do
  if ((SECONDS >= deadline)); then
    echo "topics.sh: Kafka at $BOOTSTRAP did not answer within ${WAIT_SECONDS}s" >&2
    exit 1
  fi
  sleep 2
done

for row in "${TOPICS[@]}"; do
  read -r topic partitions days <<< "$row"
  retention_ms=$((days * DAY_MS))
  topics_cmd --create --if-not-exists --topic "$topic" \
    --partitions "$partitions" --replication-factor "$REPLICATION_FACTOR" \
    --config "retention.ms=$retention_ms" \
    --config "min.insync.replicas=$MIN_INSYNC_REPLICAS" \
    --config cleanup.policy=delete
  # For a topic that existed already: bring its configuration in line with this file.
  configs_cmd --entity-type topics --entity-name "$topic" --alter \
    --add-config "retention.ms=$retention_ms,min.insync.replicas=$MIN_INSYNC_REPLICAS,cleanup.policy=delete"
  echo "topics.sh: $topic ready ($partitions partitions, replication $REPLICATION_FACTOR, ${days} days)"
done
