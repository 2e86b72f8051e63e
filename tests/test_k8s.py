"""deploy/k8s: the manifests validated offline against the Kubernetes API schemas (kubernetes-validate
ships them), and cross-checked against the worker: probes on its endpoints, settings it reads, secrets
as files, the autoscaler capped at the topics' partitions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML reads the manifests")
kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate")

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
#: the oldest Kubernetes release still supported upstream when this was written, and the newest schema
#: the package ships
VERSIONS = ("1.31.0", kubernetes_validate.latest_version())


def manifests() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        (document,) = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        found[path.name] = document
    return found


def by_kind(kind: str) -> dict[str, Any]:
    (found,) = [m for m in manifests().values()
                if m["kind"] == kind and m["metadata"]["name"] == "sno-worker"]
    return found


def container() -> dict[str, Any]:
    (worker,) = by_kind("Deployment")["spec"]["template"]["spec"]["containers"]
    return worker  # type: ignore[no-any-return]


def settings() -> dict[str, str]:
    return by_kind("ConfigMap")["data"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(manifests()))
def test_every_manifest_is_valid_against_the_kubernetes_schema_strictly(name: str, version: str) -> None:
    kubernetes_validate.validate(manifests()[name], version, strict=True)


def test_the_validation_would_catch_a_misspelt_field() -> None:
    broken = by_kind("Deployment")
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


def test_kustomization_applies_every_manifest_but_the_examples() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {name for name in manifests() if ".example." not in name}


def test_the_probes_ask_the_workers_health_endpoints_on_its_metrics_port() -> None:
    worker = container()
    (port,) = worker["ports"]
    assert port["containerPort"] == int(settings()["SNO_METRICS_PORT"])
    assert worker["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert worker["startupProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert worker["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    annotations = by_kind("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == settings()["SNO_METRICS_PORT"]


def test_the_worker_runs_as_non_root_on_a_read_only_root_with_resources_set() -> None:
    pod = by_kind("Deployment")["spec"]["template"]["spec"]
    worker = container()
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert pod["automountServiceAccountToken"] is False
    security = worker["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(worker["resources"]["requests"])
    assert "memory" in worker["resources"]["limits"]
    # The image's user (deploy/Dockerfile) is the one the pod runs as.
    assert "--uid 10001" in (ROOT / "deploy" / "Dockerfile").read_text()
    # A read-only root: the store folder (Faust's data) and /tmp are the writable volumes.
    writable = {m["mountPath"] for m in worker["volumeMounts"] if not m.get("readOnly")}
    assert writable == {settings()["SNO_STORE"], "/tmp"}


def test_the_image_is_the_project_version_built_by_the_dockerfile() -> None:
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert container()["image"] == f"sno-kpi-worker:{version}"


def test_secrets_are_files_named_by_file_variables_and_never_in_the_configmap() -> None:
    data = settings()
    worker = container()
    mounts = {m["name"]: m["mountPath"] for m in worker["volumeMounts"]}
    volumes = {v["name"]: v for v in by_kind("Deployment")["spec"]["template"]["spec"]["volumes"]}
    secret_keys = set(yaml.safe_load((K8S / "secret.example.yaml").read_text())["stringData"])
    ca_keys = set(yaml.safe_load((K8S / "ca.example.yaml").read_text())["data"])
    files = [value for key, value in data.items() if key.endswith("_FILE") or key.endswith("_CAFILE")]
    assert len(files) == 4
    for path in files:
        folder, name = path.rsplit("/", 1)
        volume = next(v for v, mount in mounts.items() if mount == folder)
        source = volumes[volume]
        keys = secret_keys if "secret" in source else ca_keys
        assert name in keys, path
    assert volumes[next(v for v, m in mounts.items() if m == "/etc/sno/secrets")]["secret"]["secretName"] == (
        "sno-worker-secrets")
    # No password in the settings: not in a value, not in the DSN.
    assert not any("PASSWORD" in key and not key.endswith("_FILE") for key in data)
    assert re.fullmatch(r"https://sno_writer@[^:@/]+:8443/sno", data["SNO_CLICKHOUSE"])
    assert data["SNO_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"


def test_every_setting_in_the_configmap_is_one_the_code_reads() -> None:
    source = "\n".join(p.read_text() for top in ("sno", "streams") for p in (ROOT / top).rglob("*.py"))
    for key in settings():
        bare = key.removesuffix("_FILE") if key.endswith("_PASSWORD_FILE") else key
        assert f'"{bare}' in source, f"{key} is read nowhere in sno/ or streams/"


def test_the_settings_build_a_valid_transport_for_kafka_and_clickhouse(tmp_path: Path) -> None:
    """The ConfigMap's values, with the files where the pod mounts them, through the real parser."""
    from sno.runtime.transport import KafkaSecurity, clickhouse_options

    env = dict(settings())
    for key in ("SNO_KAFKA_SASL_PASSWORD_FILE", "SNO_CLICKHOUSE_PASSWORD_FILE", "SNO_KAFKA_SSL_CAFILE",
                "SNO_CLICKHOUSE_CA_FILE"):
        target = tmp_path / Path(env[key]).name
        target.write_text("x\n")
        env[key] = str(target)
    security = KafkaSecurity.from_env(env)
    assert security.protocol == "SASL_SSL" and security.sasl_password == "x"
    options = clickhouse_options(env["SNO_CLICKHOUSE"], env)
    assert options["interface"] == "https" and options["password"] == "x" and options["verify"] is True


def _max_input_partitions() -> int:
    from schemas.events import TOPICS

    text = (ROOT / "deploy" / "kafka" / "topics.sh").read_text()
    rows = dict(re.findall(r'^\s*"(sno\.[a-z.-]+)\s+(\d+)\s+\d+"', text, re.MULTILINE))
    return max(int(rows[topic]) for topic in TOPICS.values())


def test_the_autoscaler_scales_the_deployment_on_lag_capped_at_the_partition_count() -> None:
    hpa = by_kind("HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sno-worker"}
    assert hpa["maxReplicas"] == _max_input_partitions()
    assert 2 <= hpa["minReplicas"] <= by_kind("Deployment")["spec"]["replicas"] <= hpa["maxReplicas"]
    (metric,) = hpa["metrics"]
    name = metric["external"]["metric"]["name"]
    from sno.runtime.metrics import PipelineMetrics

    exported = {m.name for m in PipelineMetrics().registry.collect()}
    assert name in exported
    rules = yaml.safe_load(next(m for m in manifests().values()
                                if m["metadata"]["name"] == "prometheus-adapter-sno")["data"]["config.yaml"])
    (rule,) = rules["externalRules"]
    assert rule["name"]["as"] == name and name in rule["metricsQuery"]


def test_the_disruption_budget_covers_the_workers_and_lets_one_go_at_a_time() -> None:
    pdb = by_kind("PodDisruptionBudget")["spec"]
    labels = by_kind("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["maxUnavailable"] == 1
    service = next(m for m in manifests().values() if m["kind"] == "Service")
    assert service["spec"]["selector"].items() <= labels.items()
