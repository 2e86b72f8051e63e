"""The production setup in deploy/: what can be checked without a container engine or a network.

Nothing here starts Kafka, ClickHouse, Grafana or Alertmanager. The files are parsed and cross-checked
against the contract (docs/events.md topics, the worker's settings, the migrations' tables), the Grafana SQL
is run against the embedded ClickHouse with the same migrations, and where the machine has them,
`docker compose config` and `amtool` validate their own formats (skipped with a reason otherwise).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from schemas.events import ALERTS_TOPIC, DEADLETTER_TOPIC, TOPICS
from sno.runtime.store import migration_files, open_store, split_statements, sql_dir
from streams.settings import PipelineSettings

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the compose and provisioning files")

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
TOPICS_SH = DEPLOY / "kafka" / "topics.sh"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"
DOCKERFILE = DEPLOY / "Dockerfile"

#: Values for the secrets compose requires (`${VAR:?…}`), for parsing only.
FAKE_SECRETS = {
    "SNO_KAFKA_CLUSTER_ID": "CDOqndzoTW2Q1Q7SSlZACw",
    "SNO_CH_WRITER_PASSWORD": "writer-secret",
    "SNO_CH_READER_PASSWORD": "reader-secret",
    "GRAFANA_ADMIN_PASSWORD": "grafana-secret",
}

#: An image reference pinned to an exact release and a digest: name:1.2.3[-suffix]@sha256:<64 hex>.
PINNED_IMAGE = re.compile(
    r"^[a-z0-9][a-z0-9._/-]*:v?\d+\.\d+\.\d+(?:\.\d+)?(?:-[a-z0-9.-]+)?@sha256:[0-9a-f]{64}$"
)


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _services() -> dict[str, dict[str, Any]]:
    return _compose()["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _kafka_services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in _services().items() if "KAFKA_NODE_ID" in _env(svc)}


def _worker_services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in _services().items() if "worker" in (svc.get("command") or [])}


# --- every file parses ---------------------------------------------------------------------------------


def _files(*suffixes: str) -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix in suffixes)


def test_every_yaml_json_and_xml_file_under_deploy_parses() -> None:
    parsed = 0
    for path in _files(".yaml", ".yml"):
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        assert documents and all(isinstance(d, dict) for d in documents), path
        parsed += 1
    for path in _files(".json"):
        assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict), path
        parsed += 1
    for path in _files(".xml"):
        assert ET.parse(path).getroot().tag == "clickhouse", path
        parsed += 1
    # compose, datasource, dashboard provider, alertmanager, dashboard, ClickHouse config and users.
    assert parsed >= 7


# --- compose structure ---------------------------------------------------------------------------------


def test_every_image_is_pinned_to_an_exact_version_and_digest_and_none_is_latest() -> None:
    for name, service in _services().items():
        image = service.get("image", "")
        assert "latest" not in image, f"{name}: {image}"
        if "build" in service:
            # Built here: tagged with the project's own version, never a floating tag.
            version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
            assert image.endswith(f":{version}"), f"{name}: {image} should carry the project version"
            continue
        assert PINNED_IMAGE.match(image), f"{name}: {image!r} is not pinned to an exact version and digest"


def test_every_service_has_a_healthcheck_or_states_why_it_has_none() -> None:
    for name, service in _services().items():
        check = service.get("healthcheck")
        assert check is not None, f"{name} has no healthcheck"
        if check.get("disable"):
            reason = service.get("x-healthcheck-reason", "")
            assert len(reason.split()) >= 3, f"{name} disables its healthcheck without a reason"
        else:
            assert check.get("test") and check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_the_kafka_cluster_is_three_kraft_brokers_that_agree_on_their_voters_and_cluster_id() -> None:
    brokers = _kafka_services()
    assert len(brokers) == 3
    envs = [_env(svc) for svc in brokers.values()]
    node_ids = {env["KAFKA_NODE_ID"] for env in envs}
    assert len(node_ids) == 3
    for name, env in zip(brokers, envs, strict=True):
        assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}, name
        voters = dict(v.split("@", 1) for v in env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","))
        assert set(voters) == node_ids, name
        assert {host.split(":")[0] for host in voters.values()} == set(brokers), name
        assert "zookeeper" not in " ".join(env).lower(), name
    assert len({env["CLUSTER_ID"] for env in envs}) == 1
    # The ledger's epoch is the cluster id: it must come from deploy/.env, never be fixed in the file.
    assert envs[0]["CLUSTER_ID"].startswith("${SNO_KAFKA_CLUSTER_ID:?")


def test_the_workers_get_the_broker_and_a_clickhouse_server_and_run_as_replicas() -> None:
    workers = _worker_services()
    assert workers, "no service runs `sno worker`"
    brokers = set(_kafka_services())
    replicas = 0
    for name, service in workers.items():
        env = _env(service)
        hosts = {address.split(":")[0] for address in env["SNO_BROKER"].split(",")}
        assert hosts == brokers, name
        # The embedded store admits one process: replicas must share a ClickHouse server.
        dsn = env["SNO_CLICKHOUSE"]
        assert dsn.startswith("http://") and "chdb" not in dsn, name
        assert re.search(r"@clickhouse:8123/sno$", dsn), dsn
        assert "${SNO_CH_WRITER_PASSWORD:?" in dsn, "the writer password must come from deploy/.env"
        replicas += int((service.get("deploy") or {}).get("replicas", 1))
        depends = service.get("depends_on") or {}
        assert depends.get("kafka-topics", {}).get("condition") == "service_completed_successfully"
        assert depends.get("clickhouse", {}).get("condition") == "service_healthy"
    assert replicas >= 2


def test_the_worker_settings_turn_the_compose_broker_list_into_one_faust_url_per_broker() -> None:
    env = _env(next(iter(_worker_services().values())))
    settings = PipelineSettings(broker=env["SNO_BROKER"], clickhouse=env["SNO_CLICKHOUSE"])
    assert settings.faust_config()["broker"] == ";".join(
        f"kafka://{address}" for address in env["SNO_BROKER"].split(",")
    )
    assert settings.app_id == "sno-pipeline"


def test_every_file_that_compose_mounts_from_deploy_exists() -> None:
    for name, service in _services().items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which does not exist"
        build = service.get("build")
        if build:
            assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_clickhouse_users_read_their_passwords_from_variables_that_compose_passes_in() -> None:
    users = ET.parse(DEPLOY / "clickhouse" / "users.d" / "sno.xml").getroot()
    wanted = {el.get("from_env") for el in users.iter("password")}
    assert wanted == {"SNO_CH_WRITER_PASSWORD", "SNO_CH_READER_PASSWORD"}
    env = _env(_services()["clickhouse"])
    assert wanted <= set(env)
    assert env["CLICKHOUSE_DB"] == "sno"
    # The reader (Grafana) cannot write; the writer (workers) can run the migrations.
    profiles = {p.tag: p for p in users.find("profiles")}
    assert profiles["sno_reader"].findtext("readonly") in ("1", "2")
    assert users.find("users/sno_reader/profile").text == "sno_reader"
    assert users.find("users/sno_writer/default_database").text == "sno"


def test_grafana_installs_a_pinned_plugin_and_gets_the_password_its_datasource_expands() -> None:
    grafana = _env(_services()["grafana"])
    plugins = grafana["GF_PLUGINS_PREINSTALL_SYNC"].split(",")
    assert plugins and all(re.fullmatch(r"[a-z0-9-]+@\d+\.\d+\.\d+", p) for p in plugins), plugins
    assert any(p.startswith("grafana-clickhouse-datasource@") for p in plugins)
    datasource = _datasource()
    variable = datasource["secureJsonData"]["password"].lstrip("$").strip("{}")
    assert variable in grafana
    assert datasource["jsonData"]["username"] == "sno_reader"


@pytest.fixture(scope="module")
def compose_cli() -> list[str]:
    """`docker compose` (v2 plugin) or `docker-compose`, whichever parses files without a daemon."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return command
    pytest.skip(
        "no docker compose CLI on this machine (neither the docker compose plugin nor docker-compose)"
    )


def _run_compose_config(cli: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )


def test_docker_compose_accepts_the_compose_file(compose_cli: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in FAKE_SECRETS} | FAKE_SECRETS
    result = _run_compose_config(compose_cli, env)
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_to_start_without_the_secrets(compose_cli: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in FAKE_SECRETS}
    result = _run_compose_config(compose_cli, env)
    assert result.returncode != 0
    assert "deploy/.env" in result.stderr


# --- topics --------------------------------------------------------------------------------------------


def _topic_table() -> dict[str, tuple[int, int]]:
    """topic -> (partitions, retention days), as listed in the TOPICS array of topics.sh."""
    rows = re.findall(r'^\s*"(sno\.[a-z.-]+)\s+(\d+)\s+(\d+)"', TOPICS_SH.read_text(), re.MULTILINE)
    table = {topic: (int(p), int(d)) for topic, p, d in rows}
    assert len(table) == len(rows), "a topic is listed twice"
    return table


def test_the_topics_script_names_exactly_the_contract_topics_and_the_two_outputs() -> None:
    assert set(_topic_table()) == set(TOPICS.values()) | {DEADLETTER_TOPIC, ALERTS_TOPIC}


def test_every_input_topic_has_enough_partitions_for_the_worker_replicas() -> None:
    replicas = sum(int((s.get("deploy") or {}).get("replicas", 1)) for s in _worker_services().values())
    for topic in TOPICS.values():
        partitions, days = _topic_table()[topic]
        assert partitions >= replicas, topic
        # A month must be re-readable from Kafka after restoring ClickHouse from a backup.
        assert days >= 31, topic


@pytest.fixture
def fake_kafka_bin(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Stand-ins for Kafka's CLI tools that record their arguments, one call per line."""
    log = tmp_path / "calls.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kafka-topics.sh", "kafka-configs.sh"):
        script = bin_dir / tool
        script.write_text(f'#!/usr/bin/env bash\necho "{tool} $*" >> "{log}"\n')
        script.chmod(0o755)
    yield bin_dir, log


def test_the_topics_script_creates_each_topic_replicated_with_retention_and_is_idempotent(
    fake_kafka_bin: tuple[Path, Path],
) -> None:
    bin_dir, log = fake_kafka_bin
    env = {
        "PATH": os.environ["PATH"],
        "KAFKA_BIN": str(bin_dir),
        "BOOTSTRAP": "k1:9092,k2:9092",
        "REPLICATION_FACTOR": "3",
        "MIN_INSYNC_REPLICAS": "2",
        "WAIT_SECONDS": "5",
    }
    result = subprocess.run(["bash", str(TOPICS_SH)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    creates = [c for c in calls if " --create " in c]
    table = _topic_table()
    assert len(creates) == len(table)
    for topic, (partitions, days) in table.items():
        (create,) = [c for c in creates if f"--topic {topic} " in c]
        assert "--bootstrap-server k1:9092,k2:9092" in create
        assert "--if-not-exists" in create
        assert f"--partitions {partitions} " in create and "--replication-factor 3 " in create
        assert f"retention.ms={days * 24 * 3600 * 1000}" in create
        assert "min.insync.replicas=2" in create
        (alter,) = [c for c in calls if "kafka-configs.sh" in c and f"--entity-name {topic} " in c]
        assert f"retention.ms={days * 24 * 3600 * 1000}" in alter
    # Nothing in the script may change the partition count of an existing topic (keys would move).
    assert not any("--alter" in c and "--partitions" in c for c in calls)


def test_the_topics_script_fails_when_kafka_never_answers(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kafka-topics.sh", "kafka-configs.sh"):
        (bin_dir / tool).write_text("#!/usr/bin/env bash\nexit 1\n")
        (bin_dir / tool).chmod(0o755)
    env = {"PATH": os.environ["PATH"], "KAFKA_BIN": str(bin_dir), "WAIT_SECONDS": "0"}
    result = subprocess.run(["bash", str(TOPICS_SH)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "did not answer" in result.stderr


# --- Grafana: the dashboards read only what the migrations create ---------------------------------------


def migration_tables() -> dict[str, set[str]]:
    """table -> columns, from the CREATE TABLE statements of sql/migrations/*.sql."""
    tables: dict[str, set[str]] = {}
    for path in migration_files():
        for statement in split_statements(path.read_text(encoding="utf-8")):
            match = re.match(r"CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*?)\)\s*ENGINE", statement, re.S)
            if not match:
                continue
            columns = {line.split()[0] for line in match.group(2).splitlines() if line.strip()}
            tables[match.group(1)] = {c.strip(",") for c in columns}
    return tables


CLICKHOUSE_DATASOURCE = "grafana-clickhouse-datasource"
PROMETHEUS_DATASOURCE = "prometheus"


def _datasources() -> list[dict[str, Any]]:
    paths = sorted(DATASOURCES.glob("*.yaml"))
    return [d for path in paths for d in yaml.safe_load(path.read_text())["datasources"]]


def _datasource(kind: str = CLICKHOUSE_DATASOURCE) -> dict[str, Any]:
    (datasource,) = [d for d in _datasources() if d["type"] == kind]
    return datasource


def _all_panels() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            if panel["type"] != "row":
                found.append((f"{path.name}: {panel['title']}", panel))
    return found


def _panels(kind: str = CLICKHOUSE_DATASOURCE) -> list[tuple[str, dict[str, Any]]]:
    """The panels of the dashboards that read the given data source type (SQL or PromQL)."""
    return [(title, panel) for title, panel in _all_panels() if panel["datasource"]["type"] == kind]


def _queries() -> list[tuple[str, str]]:
    return [(title, target["rawSql"]) for title, panel in _panels() for target in panel["targets"]]


def referenced_names(sql: str) -> tuple[set[str], set[str]]:
    """(tables, columns) a dashboard query names.

    Keywords are written in upper case and functions are followed by `(`, so the lower-case words that
    are left, less the tables and the `AS` aliases, are column names.
    """
    text = re.sub(r"'(?:[^'\\]|\\.)*'", "''", sql)
    text = re.sub(r"\$\{\w+(?::\w+)?\}|\$__\w+", " ", text)
    tables = set(re.findall(r"\b(?:FROM|JOIN)\s+([a-z_][a-z0-9_]*)", text))
    aliases = set(re.findall(r"\bAS\s+([a-z_][a-z0-9_]*)", text))
    words = set(re.findall(r"(?<![\w.$])([a-z_][a-z0-9_]*)\b(?!\s*\()", text))
    return tables, words - tables - aliases


def test_the_migrations_are_parsed_into_their_tables() -> None:
    tables = migration_tables()
    assert {"sno_ledger", "sno_auth_minute", "sno_kpi_monthly"} <= set(tables)
    assert {"service", "environment", "minute", "count", "within", "duration_ms"} <= tables["sno_auth_minute"]
    assert "ENGINE" not in " ".join(tables["sno_ledger"])


def test_the_dashboards_read_the_monthly_kpis_and_the_rollup_tables() -> None:
    named = set().union(*(referenced_names(sql)[0] for _, sql in _queries()))
    assert "sno_kpi_monthly" in named
    assert {
        "sno_auth_minute",
        "sno_message_second",
        "sno_api_minute",
        "sno_support_day",
        "sno_alerts",
    } <= named


def test_every_dashboard_query_names_only_tables_and_columns_that_the_migrations_create() -> None:
    tables = migration_tables()
    for title, sql in _queries():
        named_tables, named_columns = referenced_names(sql)
        assert named_tables, f"{title}: no table"
        unknown_tables = named_tables - set(tables)
        assert not unknown_tables, f"{title}: tables {unknown_tables} are not created by sql/migrations"
        known_columns = set().union(*(tables[t] for t in named_tables))
        unknown_columns = named_columns - known_columns
        assert not unknown_columns, f"{title}: columns {unknown_columns} are not in {named_tables}"


def test_the_name_check_would_catch_a_misspelt_column() -> None:
    tables, columns = referenced_names("SELECT sum(within) AS w, duraton_ms FROM sno_auth_minute")
    assert tables == {"sno_auth_minute"}
    assert columns - migration_tables()["sno_auth_minute"] == {"duraton_ms"}


def test_every_panel_queries_a_provisioned_datasource_in_its_language() -> None:
    provisioned = {d["uid"]: d["type"] for d in _datasources()}
    assert sorted(provisioned.values()) == [CLICKHOUSE_DATASOURCE, PROMETHEUS_DATASOURCE]
    kinds = set()
    for title, panel in _all_panels():
        assert panel["targets"], title
        for target in panel["targets"]:
            assert provisioned.get(target["datasource"]["uid"]) == target["datasource"]["type"], title
            assert target["datasource"] == panel["datasource"], title
            kinds.add(target["datasource"]["type"])
            if target["datasource"]["type"] == CLICKHOUSE_DATASOURCE:
                assert target["editorType"] == "sql" and target["rawSql"].strip(), title
            else:
                assert target["expr"].strip(), title
    assert kinds == {CLICKHOUSE_DATASOURCE, PROMETHEUS_DATASOURCE}


#: The ClickHouse plugin's macros as it expands them, for a time range of April 2026 (Amsterdam time).
FROM_TS, TO_TS = 1775000000, 1777593600


def expand_grafana(sql: str) -> str:
    """The SQL that Grafana would send for service digid / production and a one-hour interval."""
    text = re.sub(
        r"\$__timeFilter\((\w+)\)", rf"(\1 >= toDateTime({FROM_TS}) AND \1 <= toDateTime({TO_TS}))", sql
    )
    text = re.sub(
        r"\$__timeInterval\((\w+)\)", r"toStartOfInterval(toDateTime(\1), INTERVAL 3600 second)", text
    )
    text = text.replace("$__fromTime", f"toDateTime({FROM_TS})").replace("$__toTime", f"toDateTime({TO_TS})")
    text = text.replace("${service}", "digid").replace("${environment}", "production")
    assert "$" not in text, f"a Grafana macro or variable is not expanded here: {text}"
    return text


def test_every_dashboard_query_runs_on_clickhouse_with_the_migrations_applied(tmp_path: Path) -> None:
    """The same migrations the workers apply, in the embedded engine: ClickHouse itself resolves every
    name, type and function of the dashboards' SQL."""
    with open_store(store=tmp_path / "store") as store:
        for title, sql in _queries():
            try:
                store.query(expand_grafana(sql))
            except Exception as exc:  # the engine's message names the offending identifier
                pytest.fail(f"{title}: {str(exc).splitlines()[0]}")


# --- Alertmanager ----------------------------------------------------------------------------------------


def _amtool() -> str:
    path = shutil.which("amtool")
    if path is None:
        pytest.skip(
            "amtool is absent (Debian package prometheus-alertmanager: apt-get install -y "
            "prometheus-alertmanager)"
        )
    return path


def test_amtool_accepts_the_alertmanager_config() -> None:
    result = subprocess.run(
        [_amtool(), "check-config", str(ALERTMANAGER)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(("severity", "receiver"), [("page", "sno-page"), ("ticket", "sno-ticket")])
def test_alerts_are_routed_by_their_severity(severity: str, receiver: str) -> None:
    result = subprocess.run(
        [
            _amtool(),
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER}",
            "alertname=capacity_exceeded",
            f"severity={severity}",
            "service=digid",
            "environment=production",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [receiver]


def test_alertmanager_groups_and_inhibits_only_on_labels_the_alerts_carry() -> None:
    # docs/interfaces.md, "Alerts": alertname is the rule; the other labels are keys of the alert.
    labels = {"alertname", "severity", "service", "environment", "subject", "afnemer_id"}
    config = yaml.safe_load(ALERTMANAGER.read_text())
    assert set(config["route"]["group_by"]) <= labels
    for rule in config["inhibit_rules"]:
        assert set(rule["equal"]) <= labels


# --- the worker image ------------------------------------------------------------------------------------


def test_the_dockerfile_pins_its_python_base_and_installs_the_project() -> None:
    text = DOCKERFILE.read_text()
    (base,) = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert PINNED_IMAGE.match(base), base
    assert base.startswith("python:3.11.") and "-slim" in base
    # The locked versions with their hashes first, then the project without resolving anything.
    assert re.search(r"^RUN pip install --require-hashes --no-deps -r requirements.lock$", text, re.MULTILINE)
    assert re.search(r"^RUN pip install --no-deps --no-build-isolation \.(\s|$)", text, re.MULTILINE)
    # Every package that pyproject installs is copied into the build.
    includes = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    for pattern in includes["include"]:
        package = pattern.rstrip("*")
        assert re.search(rf"^COPY {package} ", text, re.MULTILINE), package
    # The migrations are the repository's, read through SNO_SQL_DIR (no copy of the SQL in deploy/).
    assert re.search(r"^COPY sql /opt/sno/sql$", text, re.MULTILINE)
    assert "SNO_SQL_DIR=/opt/sno/sql" in text
    assert not list(DEPLOY.rglob("*.sql"))


def test_the_image_has_the_libraries_weasyprint_loads_for_the_pdf_report() -> None:
    """WeasyPrint raises OSError at import without Pango (python:3.11-slim has none): the image installs
    the packages the PDF renderer's one-line error names (sno.report.pdf), nothing more."""
    from sno.report.pdf import PANGO_PACKAGES

    text = DOCKERFILE.read_text()
    install = re.search(r"apt-get install -y --no-install-recommends\s+([^&]+)&&", text)
    assert install is not None, "no apt-get install in the Dockerfile"
    assert set(install[1].replace("\\", " ").split()) == set(PANGO_PACKAGES)
    assert "rm -rf /var/lib/apt/lists/*" in text


def test_the_store_reads_its_sql_from_the_folder_the_image_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SNO_SQL_DIR", str(tmp_path))
    assert sql_dir() == tmp_path
    monkeypatch.delenv("SNO_SQL_DIR")
    assert sql_dir() == ROOT / "sql"


def test_the_build_context_keeps_what_pip_install_needs() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert {"pyproject.toml", "requirements.lock", "README.md", "sno", "schemas", "streams", "sql"} <= kept


def _glob_match(path: str, pattern: str) -> bool:
    """setuptools' package-data globs: `*` stays within one folder."""
    parts, globs = path.split("/"), pattern.split("/")
    return len(parts) == len(globs) and all(fnmatchcase(p, g) for p, g in zip(parts, globs, strict=True))


def test_every_data_file_of_the_packages_is_declared_as_package_data() -> None:
    """`pip install .` (not editable) installs only declared data files: an undeclared template or
    norms file would be missing in the image although every test passes in the editable install."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = config.get("package-data", {})
    missing = []
    for top in ("sno", "schemas", "streams"):
        for path in (ROOT / top).rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc", ".md") or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(ROOT)
            covered = False
            for package, patterns in declared.items():
                package_dir = Path(*package.split("."))
                if package_dir in relative.parents:
                    inner = relative.relative_to(package_dir).as_posix()
                    covered = covered or any(_glob_match(inner, pattern) for pattern in patterns)
            if not covered:
                missing.append(str(relative))
    assert not missing, f"not in [tool.setuptools.package-data] of pyproject.toml: {missing}"


def _query(title: str) -> str:
    (sql,) = [sql for name, sql in _queries() if name.endswith(f": {title}")]
    return expand_grafana(sql)


def test_the_dashboard_sums_afnemers_before_it_takes_the_busiest_minute_r15(tmp_path: Path) -> None:
    """R15 counts one minute of the whole service: 3 + 1 in one minute beats 2 in another."""
    columns = ("service", "environment", "afnemer_id", "minute", "count", "within", "duration_ms")
    at = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)
    rows = [
        ("digid", "production", "A", at, 3, 2, 6000),
        ("digid", "production", "B", at, 1, 1, 1000),
        ("digid", "production", "A", at + timedelta(minutes=1), 2, 2, 2000),
        ("digid", "preproduction", "A", at, 50, 0, 500_000),  # another environment: not counted
    ]
    with open_store(store=tmp_path / "store") as store:
        store.insert("sno_auth_minute", rows, columns)
        ((_, busiest),) = store.query(_query("Busiest minute (capacity, R15/R16)"))
        ((_, within_pct, mean_seconds),) = store.query(_query("Processed within the limit (R14)"))
    assert busiest == 4
    # 5 of 6 within the limit; 9 s over 6 authentications.
    assert within_pct == pytest.approx(100 * 5 / 6)
    assert mean_seconds == pytest.approx(1.5)


def test_the_dashboard_counts_only_the_newest_judgement_of_each_kpi(tmp_path: Path) -> None:
    """sno_kpi_monthly keeps every refresh until a merge; the panels read it with FINAL."""
    columns = ("service", "environment", "month", "kpi", "value", "norm", "unit", "status", "computed_at")
    first = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)
    rows = [
        ("digid", "production", date(2026, 4, 1), "availability", 99.1, 99.5, "%", "breached", first),
        (
            "digid",
            "production",
            date(2026, 4, 1),
            "availability",
            99.7,
            99.5,
            "%",
            "met",
            first + timedelta(minutes=5),
        ),
        ("digid", "production", date(2026, 4, 1), "processing_time", 99.0, 99.5, "%", "breached", first),
    ]
    with open_store(store=tmp_path / "store") as store:
        store.insert("sno_kpi_monthly", rows[:1], columns)
        store.insert("sno_kpi_monthly", rows[1:], columns)
        ((breached, met, no_data),) = store.query(_query("KPIs by status in the selected months"))
        ((_, availability, norm),) = store.query(_query("Availability per month against its norm"))
    assert (breached, met, no_data) == (1, 1, 0)
    assert (availability, norm) == (99.7, 99.5)


# --- Prometheus and the pipeline dashboard -------------------------------------------------------------

PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
PROMETHEUS_RULES = DEPLOY / "prometheus" / "rules.yml"


def test_prometheus_scrapes_every_worker_replica_on_the_port_the_workers_serve() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "sno-worker"]
    (sd,) = job["dns_sd_configs"]
    workers = _worker_services()
    assert set(sd["names"]) == set(workers)  # compose's DNS name of a service resolves to every replica
    for name, service in workers.items():
        env = _env(service)
        assert sd["port"] == int(env["SNO_METRICS_PORT"]), name
        assert env["SNO_LOG_FORMAT"] == "json", name
        assert env["SNO_ALERTMANAGER"] == "http://alertmanager:9093", name
        check = " ".join(service["healthcheck"]["test"])
        assert f"127.0.0.1:{env['SNO_METRICS_PORT']}/healthz" in check, name
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    mounts = " ".join(_services()["prometheus"]["volumes"])
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml" in mounts
    assert "./prometheus/rules.yml:/etc/prometheus/rules.yml" in mounts


def test_grafana_reads_the_prometheus_of_the_stack() -> None:
    datasource = _datasource(PROMETHEUS_DATASOURCE)
    assert datasource["url"] == "http://prometheus:9090"
    assert "prometheus" in _services()["grafana"]["depends_on"]


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is absent (Debian package prometheus: apt-get install -y prometheus)")
    return path


def test_promtool_accepts_the_prometheus_config_and_its_rules() -> None:
    result = subprocess.run([_promtool(), "check", "config", str(PROMETHEUS_CONFIG)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 rules found" in result.stdout


def test_the_pipeline_alert_rules_use_only_metrics_the_worker_exports() -> None:
    from sno.runtime.metrics import PipelineMetrics

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "info": ("_info",)}
    exported = {"up"}
    for family in PipelineMetrics().registry.collect():
        exported |= {family.name + suffix for suffix in suffixes.get(family.type, ("",))}
    rules = yaml.safe_load(PROMETHEUS_RULES.read_text())["groups"][0]["rules"]
    for rule in rules:
        names = set(re.findall(r"\b(sno_[a-z_]+|up)\b", rule["expr"]))
        assert names and names <= exported, (rule["alert"], names - exported)
        assert rule["labels"]["severity"] in ("page", "ticket")


def test_every_pipeline_panel_is_on_prometheus_and_the_kpi_panels_on_clickhouse() -> None:
    for title, panel in _all_panels():
        kind = panel["datasource"]["type"]
        expected = PROMETHEUS_DATASOURCE if title.startswith("sno-pipeline.json") else CLICKHOUSE_DATASOURCE
        assert kind == expected, title
