"""What deploy/ ships, checked with the real tools: promtool on the Prometheus config and rules,
docker-compose on the compose file, kubernetes-validate on the manifests, hadolint on the
Dockerfile, nginx -t on the gateway; every PromQL expression names metrics the app exports, the
Grafana JSON is what its generator writes, and every CITADEL_* variable set is a real setting."""

import json
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from citadel.settings import ENV_PREFIX, Settings
from tests.deploy.gateway import render_nginx
from tests.fixtures.app import AppClient

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name) or (str(BIN / name) if (BIN / name).exists() else None)
    assert found, f"{name} is needed (.ci/run installs Debian's nginx, prometheus and docker-compose)"
    return found


def _run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, timeout=120)


def test_every_citadel_variable_deploy_sets_is_a_setting() -> None:
    known = {ENV_PREFIX + name.upper() for name in Settings.__struct_fields__}
    used: dict[str, set[str]] = {}
    for path in DEPLOY.rglob("*"):
        if path.is_file() and path.suffix in {".yml", ".yaml", ".example", "", ".conf", ".md"}:
            for name in re.findall(r"\bCITADEL_[A-Z][A-Z0-9_]*\b", path.read_text()):
                used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert used, "deploy/ sets no CITADEL_* variable?"
    unknown = {name: sorted(where) for name, where in used.items() if name not in known}
    assert not unknown, f"not settings: {unknown}"


def test_prometheus_config_and_rules_pass_promtool() -> None:
    promtool = _tool("promtool")
    config = _run(promtool, "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr
    rules = _run(promtool, "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml"))
    assert rules.returncode == 0 and "SUCCESS: 9 rules found" in rules.stdout, rules.stdout + rules.stderr


def _expressions() -> list[tuple[str, str]]:
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    found = [(f"alert {r['alert']}", r["expr"]) for g in alerts["groups"] for r in g["rules"]]
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        found += [
            (f"{path.name}: {panel['title']}", target["expr"])
            for panel in board["panels"]
            for target in panel["targets"]
        ]
    return found


async def test_every_promql_expression_names_exported_metrics(client: AppClient) -> None:
    text = (await client.get("/metrics")).text
    exported = {"up"}  # Prometheus's own, for every target
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE):
        exported.add(name)
        if kind == "counter":
            exported.add(f"{name}_total")
        elif kind == "histogram":
            exported |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    expressions = _expressions()
    assert len(expressions) > 25
    functions = {"sum", "rate", "max", "min", "by", "le", "histogram_quantile", "clamp_min", "topk", "deriv"}
    for where, expr in expressions:
        bare = re.sub(r'"[^"]*"', "", re.sub(r"\{[^}]*\}", "", expr))  # drop label matchers and strings
        names = {
            n for n in re.findall(r"\b[a-z_][a-z0-9_]*\b", bare) if n.startswith("citadel_") or n == "up"
        }
        assert names, f"{where}: names no metric: {expr}"
        missing = names - exported
        assert not missing, f"{where}: {sorted(missing)} not exported by /metrics"
        assert not (set(re.findall(r"\b[a-z_]+(?=\()", bare)) - functions), where


def test_grafana_dashboards_are_generated_and_provisioned() -> None:
    generator = runpy.run_path(str(DEPLOY / "grafana" / "dashboards.py"))
    on_disk = {p.name: p.read_text() for p in (DEPLOY / "grafana" / "dashboards").glob("*.json")}
    assert on_disk == generator["rendered"](), "run: python deploy/grafana/dashboards.py"
    assert {json.loads(t)["title"].split(" · ")[1] for t in on_disk.values()} == {
        "System", "Application", "Database and events", "Business",
    }  # fmt: skip
    source = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    for text in on_disk.values():
        for panel in json.loads(text)["panels"]:
            assert panel["datasource"]["uid"] == uid


def test_the_compose_file_is_valid(tmp_path: Path) -> None:
    example = (DEPLOY / "production.env.example").read_text()
    env = tmp_path / "production.env"
    env.write_text(re.sub(r"=$", "=example-value-of-at-least-thirty-two-chars", example, flags=re.MULTILINE))
    checked = _run(
        _tool("docker-compose"), "-f", "docker-compose.production.yml", "--env-file", str(env), "config",
        cwd=DEPLOY,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    config = yaml.safe_load(checked.stdout)
    services = config["services"]
    assert {"gateway", "api", "worker", "relay", "postgres", "redis", "nats-1", "nats-2", "nats-3",
            "elasticsearch", "prometheus", "grafana"} <= set(services)  # fmt: skip
    assert services["worker"]["command"] == ["worker", "--no-relay"]  # the relay runs on its own
    assert services["api"]["deploy"]["replicas"] == 2
    for name, service in services.items():
        if name != "migrate":
            assert "healthcheck" in service, f"{name} has no health check"
            assert service["deploy"]["resources"]["limits"], name
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["elasticsearch"]["image"].split(":")[-1].startswith("8.")
    # one place pins the images: every tag appears once in the file, in x-images
    text = (DEPLOY / "docker-compose.production.yml").read_text()
    for service in services.values():
        assert text.count(service["image"]) == 1, service["image"]
    assert services["api"]["environment"]["CITADEL_JETSTREAM_REPLICAS"] == "3"
    missing = _run(_tool("docker-compose"), "-f", "docker-compose.production.yml", "config", cwd=DEPLOY)
    assert missing.returncode != 0 and "POSTGRES_PASSWORD" in missing.stderr  # secrets are required


def test_kubernetes_manifests_validate() -> None:
    manifests = sorted(str(p) for p in (DEPLOY / "k8s").glob("*.yaml"))
    checked = _run(_tool("kubernetes-validate"), "--strict", *manifests)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    kinds = {doc["kind"] for path in manifests for doc in yaml.safe_load_all(Path(path).read_text())}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap",
            "Secret", "Job"} <= kinds  # fmt: skip


def test_the_dockerfile_passes_hadolint() -> None:
    checked = _run(_tool("hadolint"), str(DEPLOY / "Dockerfile"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.count("FROM ") == 2 and "USER 10001" in text  # two stages; not root


def test_nginx_accepts_the_gateway_config(tmp_path: Path) -> None:
    config = render_nginx(tmp_path, upstream_port=9, http_port=1080, https_port=1443)
    checked = _run(_tool("nginx"), "-t", "-q", "-p", str(tmp_path), "-c", str(config))
    assert checked.returncode == 0, checked.stderr


def test_the_operations_docs() -> None:
    """deploy/README.md covers running it for real; the configuration reference it points to (the
    README's table) names every setting (tests/test_docs.py holds that table to the settings)."""
    text = (DEPLOY / "README.md").read_text()
    for topic in (
        "Scaling out",
        "Backups",
        "Zero-downtime migrations",
        "not run here",
        "../README.md#configuration",
    ):
        assert topic.lower() in text.lower(), topic
    for variable in ("CITADEL_JETSTREAM_REPLICAS", "CITADEL_DATABASE_DIRECT_URL", "CITADEL_TRUSTED_PROXIES"):
        assert variable in text, variable
