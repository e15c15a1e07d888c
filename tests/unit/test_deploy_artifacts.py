"""The deployment artefacts, checked without a container engine or a cluster.

- deploy/Dockerfile and its two scripts: pinned base, locked dependencies, unprivileged runtime
  without build tools (SoftHSM2 its one Debian package), a HEALTHCHECK with Python's urllib; the
  entrypoint runs a service exactly as `jiph up` does, with the header-deadline HTTP protocol
  (checked by running it with stand-in `python` and `jiph` commands).
- deploy/compose.yaml: pinned images, health checks and dependency conditions, the settings the
  services read (the environment of each service is loaded into its real settings classes, the
  deployment service's key store settings into Pkcs11Config), topics and broker settings that
  match shared/topics.py and deploy/kafka/server.properties, the deployment service's SoftHSM2
  token (its one-shot job's command is run for real against a folder standing in for the volume,
  and the service's settings open the token it made), and the writers' checkpoint keys (likewise:
  the one-shot makes them, the writers' settings name them, mounted read-only).
- deploy/helm/jiph-gateway: `helm lint`, `helm template` of several value sets, every rendered
  object validated offline against Kubernetes' schemas (kubernetes-validate, strict) and every
  Strimzi / CloudNativePG object against its CRD's openAPIV3Schema (jsonschema, with unknown
  fields refused as the API server would prune them), plus the chart's own promises (among them
  the deployment service's PKCS#11 key store in its pods and its migration Job alike, and each
  writer's own checkpoint key, required in production).

Helm is built once into ~/.cache/jiph/ (scripts/install_helm.sh); the CRDs are read from
$JIPH_CRDS_DIR, ../shared/crds, /work/shared/crds or ~/.cache/jiph/crds, and fetched from package
registries by scripts/fetch_crds.sh when none of them has them. Nothing here is skipped: a
missing tool or schema is a failure that says what is missing.
"""

from __future__ import annotations

import base64
import copy
import functools
import http.server
import importlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kubernetes_validate.utils import latest_version
from sqlalchemy.engine import make_url

from jiph import migrate_command
from jiph.cli import main
from jiph.migrate_command import migrations_dir
from jiph.stack.config import STACKS, cache_dir
from jiph.stack.keystore import TokenConfig
from jiph.stack.services import service_argv
from services.deployment.keystore import Pkcs11Config
from services.deployment.settings import PersonalDataSettings
from shared import http_protocol, topics
from shared.history.checkpoints import key_id, load_public_key, load_signing_key
from shared.settings import DEV_ISSUER, ServiceSettings, settings_for

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CHART = DEPLOY / "helm" / "jiph-gateway"
CI_VALUES = CHART / "ci"
SERVICES = topics.SERVICES
WRITERS = topics.WRITERS
PORTS = STACKS["dev"].service_ports
RELEASE = "jiph"
NAMESPACE = "jiph"
#: The chart's kubeVersion floor and the newest Kubernetes whose schemas kubernetes-validate has.
KUBE_VERSIONS = ("1.29.0", latest_version())
#: Names a service's container may carry besides its settings: the service selector, the pieces
#: the chart assembles DATABASE_URL from, the log level and OpenTelemetry's standard variables.
EXTRA_ENV = {"JIPH_SERVICE", "JIPH_DB_USER", "JIPH_DB_PASSWORD", "LOG_LEVEL"}
#: The deployment service's key store, as Pkcs11Config.from_env reads it: what TokenConfig.env()
#: gives a service (the PIN by file, and SoftHSM2's configuration), and the PIN by value.
_ANY_TOKEN = TokenConfig(
    module_path=Path("m"),
    conf_path=Path("c"),
    token_label="l",
    pin_file=Path("p"),
    so_pin_file=Path("s"),
    token_dir=Path("t"),
)
TOKEN_ENV = set(_ANY_TOKEN.env())
PKCS11_ENV = (TOKEN_ENV - {"SOFTHSM2_CONF"}) | {"JIPH_DEPLOYMENT_PKCS11_PIN"}
PIN_ENV = {"JIPH_DEPLOYMENT_PKCS11_PIN", "JIPH_DEPLOYMENT_PKCS11_PIN_FILE"}
RETENTION_ENV = {f"JIPH_DEPLOYMENT_{name.upper()}" for name in PersonalDataSettings.model_fields}
#: What a service reads beyond ServiceSettings: the deployment service's key store and retention.
OWN_ENV = {"deployment": PKCS11_ENV | {"SOFTHSM2_CONF"} | RETENTION_ENV}
HEADER_PROTOCOL = "shared.http_protocol:HeaderDeadlineProtocol"
CRD_KINDS = {
    ("kafka.strimzi.io", "Kafka"),
    ("kafka.strimzi.io", "KafkaNodePool"),
    ("kafka.strimzi.io", "KafkaTopic"),
    ("kafka.strimzi.io", "KafkaUser"),
    ("postgresql.cnpg.io", "Cluster"),
    ("postgresql.cnpg.io", "Database"),
    ("postgresql.cnpg.io", "ScheduledBackup"),
}
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def settings_env_names(service: str) -> set[str]:
    """Every variable the service's settings class reads (shared/settings.py)."""
    prefix = f"JIPH_{service.upper()}_"
    return {
        prefix + name.upper() for name in ServiceSettings.model_fields if name != "service_name"
    }


def allowed_env(service: str) -> set[str]:
    return settings_env_names(service) | EXTRA_ENV | OWN_ENV.get(service, set())


def clear_jiph_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("JIPH_"):
            monkeypatch.delenv(name)


def load_settings(
    service: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> ServiceSettings:
    """The service's settings as the service would read them from exactly `env`."""
    clear_jiph_env(monkeypatch)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return settings_for(service)()


def load_deployment_settings(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[PersonalDataSettings, Pkcs11Config]:
    """The deployment service's retention settings and key store configuration as it reads them
    from exactly `env` (refused as the service would refuse them). A PIN file, which only exists
    in the container, is read from a stand-in."""
    clear_jiph_env(monkeypatch)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    personal = PersonalDataSettings()
    environ = dict(env)
    if environ.get("JIPH_DEPLOYMENT_PKCS11_PIN_FILE"):
        stand_in = tmp_path / "pin-file"
        stand_in.write_text("1234-stand-in\n")
        environ["JIPH_DEPLOYMENT_PKCS11_PIN_FILE"] = str(stand_in)
    return personal, Pkcs11Config.from_env("JIPH_DEPLOYMENT", environ)


# --- Dockerfile ------------------------------------------------------------------------------
def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines()))
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def dockerfile_stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current = "<preamble>"
    for word, rest in dockerfile_instructions():
        if word == "FROM":
            parts = rest.split()
            current = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else rest
            stages[current] = []
        stages.setdefault(current, []).append((word, rest))
    return stages


def dockerfile_args() -> dict[str, str]:
    args = {}
    for word, rest in dockerfile_instructions():
        if word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
    return args


def test_dockerfile_bases_are_a_pinned_python_patch_release() -> None:
    args = dockerfile_args()
    stages = dockerfile_stages()
    bases = []
    for word, rest in dockerfile_instructions():
        if word == "FROM":
            image = rest.split()[0]
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
            bases.append(image)
    assert len(bases) >= 2, "a multi-stage build"
    for image in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", image), image
    assert list(stages)[-1] == "runtime"


def test_dockerfile_installs_exactly_the_lock_file_with_the_projects_uv() -> None:
    build = " ".join(rest for word, rest in dockerfile_stages()["build"] if word == "RUN")
    assert "uv sync --frozen --no-dev" in build
    assert "--no-editable" in build
    installed = re.search(r'"uv==([\d.]+)"', (REPO / "scripts" / "install.sh").read_text())
    assert installed, "scripts/install.sh pins uv"
    assert dockerfile_args()["UV_VERSION"] == installed.group(1)


def runtime_uid() -> int:
    users = [rest for word, rest in dockerfile_stages()["runtime"] if word == "USER"]
    assert users, "the runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "a numeric uid (runAsNonRoot can check it)"
    return int(uid)


def test_dockerfile_runtime_is_unprivileged_and_has_no_build_tools() -> None:
    runtime = dockerfile_stages()["runtime"]
    assert runtime_uid() > 0, "a non-root uid"
    runs = [rest for word, rest in runtime if word == "RUN"]
    # The one package from Debian: SoftHSM2, the deployment service's key store in development.
    apt = [r for r in runs if "apt-get" in r]
    assert len(apt) == 1, "one RUN installs from Debian"
    installs = re.findall(r"apt-get install ([^&;|]+)", apt[0])
    assert len(installs) == 1
    words = installs[0].split()
    assert "--no-install-recommends" in words
    assert [w for w in words if not w.startswith("-")] == ["softhsm2"], installs[0]
    assert "rm -rf /var/lib/apt/lists/*" in apt[0], "the package lists are not kept"
    rest = " ".join(r for r in runs if r not in apt)
    for tool in ("apt-get", "apk ", "pip install", "uv ", "gcc", "build-essential", "curl", "wget"):
        assert tool not in rest, f"{tool} in the runtime stage"
    for tool in ("apk ", "pip install", "uv ", "gcc", "build-essential", "curl", "wget", "dpkg -i"):
        assert tool not in apt[0], f"{tool} in the runtime stage"
    copies = [rest for word, rest in runtime if word == "COPY"]
    from_build = [c for c in copies if c.startswith("--from=")]
    assert from_build == ["--from=build /app/.venv /app/.venv"], "only the venv from the build"
    assert all(c.startswith(("--from=", "deploy/docker/")) for c in copies)


def test_dockerfile_gives_the_service_user_its_writable_folders() -> None:
    """The development key folder and the SoftHSM2 folder (ensure_token's `softhsm/` under
    /var/lib/jiph) exist in the image, owned by the runtime user: a new named volume mounted
    there starts with that ownership, and ensure_token may chmod it."""
    runtime = dockerfile_stages()["runtime"]
    runs = " ".join(rest for word, rest in runtime if word == "RUN")
    user = re.search(r"useradd [^&]*--uid (\d+)[^&]* (\w+)\s*(&&|$)", runs)
    assert user and int(user.group(1)) == runtime_uid()
    folders = ("/var/lib/jiph/keys", "/var/lib/jiph/softhsm", "/var/lib/jiph/checkpoint-keys")
    for folder in folders:
        assert re.search(rf"mkdir -p [^&]*{folder}(\s|$)", runs), folder
        assert re.search(rf"chown {user.group(2)}:\S+ [^&]*{folder}(\s|$)", runs), folder
        assert re.search(rf"chmod 0700 [^&]*{folder}(\s|$)", runs), folder
    mounted = {
        v.split(":")[1]
        for svc in compose()["services"].values()
        if svc.get("image", "").startswith("jiph-gateway:")
        for v in svc.get("volumes", [])
    }
    assert mounted == set(folders), "only those, as volumes"


def test_dockerfile_healthcheck_uses_python_urllib_on_healthz() -> None:
    instructions = dict(dockerfile_stages()["runtime"])
    assert "jiph-healthcheck" in instructions["HEALTHCHECK"]
    assert "python" in instructions["HEALTHCHECK"]
    script = (DEPLOY / "docker" / "healthcheck.py").read_text()
    assert "urllib.request" in script and '"/healthz"' in script
    assert "curl" not in (DEPLOY / "Dockerfile").read_text().replace("no curl", "")
    exposed = {int(p) for p in instructions["EXPOSE"].split()}
    assert exposed == set(PORTS.values())
    assert "jiph-entrypoint" in instructions["ENTRYPOINT"]
    assert "org.opencontainers.image.version" in instructions["LABEL"]


#: Names of variables that would hold a secret (a token's label is not one; its PIN is; so is a
#: checkpoint key).
SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN(?!_LABEL)|PRIVATE_KEY|API_KEY|_PIN|CHECKPOINT_KEY)", re.I
)


def test_dockerfile_and_deploy_files_carry_no_secrets() -> None:
    for word, rest in dockerfile_instructions():
        if word in ("ENV", "ARG"):
            assert not SECRET_NAME.search(rest), f"{word} {rest}"
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert "PRIVATE KEY-----" not in text, path
    named_volumes = set(compose_raw()["volumes"])
    for name, svc in compose_raw()["services"].items():
        # Where a secret may be read from: Compose secrets, or a named volume of the service's
        # own (the PINs that the deployment-keystore job generated beside its token, the keys
        # that the checkpoint-keys job generated).
        secret_dirs = ["/run/secrets/"] + [
            v.split(":")[1] + "/"
            for v in svc.get("volumes", [])
            if v.split(":")[0] in named_volumes
        ]
        for key, value in (svc.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert key.endswith("_FILE"), (name, key, "a secret goes by file")
                assert str(value).startswith(tuple(secret_dirs)), (name, key, value)
            if "://" in str(value) and "@" in str(value):  # a URL with credentials
                assert re.search(r"://\w+:\$\{\w+:\?[^}]*\}@", str(value)), (name, key)


def dockerignore_excludes(relative: str) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    excluded = False
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        if re.fullmatch(f"{regex}(/.*)?", relative):
            excluded = not negate
    return excluded


def test_dockerfile_copies_only_what_the_dockerignore_sends() -> None:
    for word, rest in dockerfile_instructions():
        if word == "COPY" and not rest.startswith("--from="):
            *sources, _dest = [p for p in rest.split() if not p.startswith("--")]
            for source in sources:
                assert (REPO / source).exists(), source
                assert not dockerignore_excludes(source.rstrip("/")), f"{source} is ignored"
    for private in (".venv", ".state", ".git", "tests", "deploy/.env", "bench", "shared/x.pyc"):
        assert dockerignore_excludes(private), f"{private} would be sent to the builder"
    assert dockerignore_excludes("services/intake/__pycache__/main.cpython-311.pyc")


def stand_in_commands(tmp_path: Path) -> Path:
    """`python` and `jiph` that print their arguments, for running the entrypoint."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python", "jiph"):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nprintf "{name}"\nprintf " %s" "$@"\necho\n')
        script.chmod(0o755)
    return bin_dir


def run_entrypoint(
    bin_dir: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(DEPLOY / "docker" / "entrypoint.sh"), *args],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def test_entrypoint_runs_each_service_as_jiph_up_does(tmp_path: Path) -> None:
    bin_dir = stand_in_commands(tmp_path)
    for service in SERVICES:
        done = run_entrypoint(bin_dir, {"JIPH_SERVICE": service})
        assert done.returncode == 0, done.stderr
        local = service_argv(STACKS["dev"], service)[1:]  # what `jiph up` runs, minus the python
        expected = ["python", *local]
        expected[expected.index("--host") + 1] = "0.0.0.0"  # noqa: S104
        assert done.stdout.split() == expected
        assert f"--http {HEADER_PROTOCOL}" in done.stdout
    moved = run_entrypoint(bin_dir, {"JIPH_SERVICE": "triage", "JIPH_TRIAGE_PORT": "9002"})
    assert "--port 9002" in moved.stdout
    migrate = run_entrypoint(bin_dir, {"JIPH_SERVICE": "reporting"}, "migrate", "--wait", "5")
    assert migrate.stdout.split() == ["jiph", "migrate", "reporting", "--wait", "5"]
    other = run_entrypoint(bin_dir, {}, "jiph", "--help")
    assert other.stdout.split() == ["jiph", "--help"]
    for bad in (
        {},
        {"JIPH_SERVICE": "nosuch"},
        {"JIPH_SERVICE": "intake", "JIPH_INTAKE_PORT": "x"},
    ):
        refused = run_entrypoint(bin_dir, bad)
        assert refused.returncode == 64, (bad, refused.stdout)


#: Files that start uvicorn without the header deadline, and why that is right.
UVICORN_EXEMPT = {
    "bench/idle_footprint.py": "the baseline: a bare FastAPI hello world, not a service",
}
#: What starting uvicorn looks like, in a script, a Dockerfile, a compose file or Python.
UVICORN_LAUNCH = re.compile(
    r"-m uvicorn\b|^\s*(exec\s+)?uvicorn\s|[\"']-m[\"'],\s*[\"']uvicorn[\"']|uvicorn\.(run|Server)\(",
    re.M,
)


def test_every_uvicorn_launch_uses_the_header_deadline_protocol(helm: str) -> None:
    """uvicorn's own protocols arm no timer before the headers have arrived (slowloris):
    every place that starts a service passes `--http shared.http_protocol:HeaderDeadlineProtocol`."""
    cls = http_protocol.HeaderDeadlineProtocol
    module, _, name = HEADER_PROTOCOL.partition(":")
    assert getattr(importlib.import_module(module), name) is cls
    assert cls.header_timeout_s == http_protocol.HEADER_TIMEOUT_S == 10.0
    for service in SERVICES:  # `jiph up`, the test stack and the benchmarks (service_argv)
        argv = service_argv(STACKS["dev"], service)
        assert argv[argv.index("--http") + 1] == HEADER_PROTOCOL, service
    launching = []
    roots = ["deploy", "jiph", "scripts", "bench", "services", "shared", "tests", ".ci"]
    files = [
        REPO / "Makefile",
        *(p for r in roots if (REPO / r).is_dir() for p in (REPO / r).rglob("*")),
    ]
    for path in files:
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        text = re.sub(r"^\s*#.*$", "", path.read_text(errors="replace"), flags=re.M)  # comments
        if not UVICORN_LAUNCH.search(text):
            continue
        relative = str(path.relative_to(REPO))
        launching.append(relative)
        if relative not in UVICORN_EXEMPT:
            assert HEADER_PROTOCOL in text, f"{relative} starts uvicorn without {HEADER_PROTOCOL}"
    assert "deploy/docker/entrypoint.sh" in launching and "jiph/stack/services.py" in launching
    # Nothing in Compose or the chart starts a service other than through the entrypoint.
    for name, svc in compose()["services"].items():
        assert "uvicorn" not in str(svc.get("command", "")) + str(svc.get("entrypoint", "")), name
    for values in VALUE_SETS:
        for doc in render(helm, *values):
            if doc["kind"] in ("Deployment", "Job"):
                pod = doc["spec"]["template"]["spec"]
                for container in pod["containers"] + pod.get("initContainers", []):
                    assert "command" not in container, "the image's entrypoint runs the service"
                    assert "uvicorn" not in str(container.get("args", "")), doc["metadata"]["name"]


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_healthcheck_script_reports_the_services_health() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = str(server.server_address[1])
        script = str(DEPLOY / "docker" / "healthcheck.py")
        env = {**os.environ, "JIPH_SERVICE": "deployment", "JIPH_DEPLOYMENT_PORT": port}

        def check(*args: str, **extra: str) -> int:
            cmd = [sys.executable, script, *args]
            return subprocess.run(
                cmd, env={**env, **extra}, capture_output=True, timeout=10
            ).returncode

        assert check() == 0
        assert check("/readyz") == 1
        assert check(JIPH_SERVICE="unknown") == 1
    finally:
        server.shutdown()
        server.server_close()


# --- Compose -----------------------------------------------------------------------------------
COMPOSE_ENV = {
    "JIPH_PG_ADMIN_PASSWORD": "admin-pw",
    **{f"JIPH_{s.upper()}_DB_PASSWORD": f"{s}-pw" for s in SERVICES},
}
#: Long-running services that may go without a health check, and why.
HEALTHCHECK_EXEMPT = {"otel-collector": "distroless image: nothing inside can probe it"}
#: One-shot jobs that wait for nothing, and why.
INDEPENDENT_ONE_SHOTS = {
    "deployment-keystore": "makes a token in a volume of its own; no network",
    "checkpoint-keys": "makes keys in a volume of its own; no network",
}
#: The deployment service's SoftHSM2 token in Compose: the one-shot that makes it, its volume.
KEYSTORE_JOB = "deployment-keystore"
TOKEN_VOLUME = "softhsm-token"
#: The writers' checkpoint keys in Compose: the one-shot that makes them, their volume.
CHECKPOINT_JOB = "checkpoint-keys"
CHECKPOINT_VOLUME = "checkpoint-keys"


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name} is required: {arg}")
        return arg or ""

    return re.sub(r"\$\$|\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


@functools.cache
def compose_raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def compose() -> dict[str, Any]:
    result: dict[str, Any] = interpolate(copy.deepcopy(compose_raw()), COMPOSE_ENV)
    return result


def test_compose_requires_its_secrets_and_documents_them() -> None:
    required = set(re.findall(r"\$\{(\w+):\?", (DEPLOY / "compose.yaml").read_text()))
    required |= {s["environment"] for s in compose_raw()["secrets"].values()}
    assert required == set(COMPOSE_ENV)
    example = (DEPLOY / "compose.env.example").read_text()
    for name in required:
        assert re.search(rf"^{name}=", example, re.M), f"{name} missing from compose.env.example"
    interpolated = set(re.findall(r"\$\{(\w+):\?", (DEPLOY / "compose.yaml").read_text()))
    assert interpolated, "the database URLs require their passwords"
    for name in interpolated:
        with pytest.raises(KeyError, match=name):
            interpolate(
                copy.deepcopy(compose_raw()), {k: v for k, v in COMPOSE_ENV.items() if k != name}
            )
    assert "deploy/.env" in (REPO / ".gitignore").read_text().split()


def test_compose_images_are_pinned() -> None:
    services = compose()["services"]
    for name, svc in services.items():
        image = svc.get("image")
        assert image, f"{name} names its image"
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: {image}"
        assert re.match(r"\d+\.\d+", tag), f"{name}: {image} is not a versioned tag"
    assert services["kafka"]["image"].startswith("apache/kafka:4.1.")
    assert services["kafka-topics"]["image"] == services["kafka"]["image"]
    assert re.fullmatch(r"postgres:15\.\d+(-\w+)?", services["postgres"]["image"])


def test_compose_every_service_is_health_checked_or_waits_for_one() -> None:
    services = compose()["services"]
    for name, svc in services.items():
        one_shot = svc.get("restart") == "no"
        if one_shot:
            assert "healthcheck" not in svc
            assert svc.get("depends_on") or name in INDEPENDENT_ONE_SHOTS, (
                f"one-shot {name} waits for something"
            )
        elif name not in HEALTHCHECK_EXEMPT:
            check = svc.get("healthcheck")
            assert check and check.get("test") and not check.get("disable"), (
                f"{name}: no healthcheck"
            )
        for target, cond in (svc.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            wanted = (
                "service_completed_successfully"
                if services[target].get("restart") == "no"
                else "service_healthy"
            )
            assert cond["condition"] == wanted, f"{name} -> {target}"
            assert "healthcheck" in services[target] or wanted != "service_healthy"
    for service in SERVICES:
        wanted = (
            {"postgres", "kafka", "kafka-topics"}
            | ({KEYSTORE_JOB} if service == "deployment" else set())
            | ({CHECKPOINT_JOB} if service in WRITERS else set())
        )
        assert set(services[service]["depends_on"]) == wanted, service


def test_compose_builds_the_services_from_the_dockerfile() -> None:
    services = compose()["services"]
    for service in (*SERVICES, KEYSTORE_JOB, CHECKPOINT_JOB):
        build = services[service]["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == REPO
        assert (context / build["dockerfile"]) == DEPLOY / "Dockerfile"
        assert services[service]["image"] == services["intake"]["image"], "one image"
        assert services[service]["read_only"] is True
        assert "ALL" in services[service]["cap_drop"]
        assert "no-new-privileges:true" in services[service]["security_opt"]


def test_compose_service_env_is_exactly_what_the_services_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for service in SERVICES:
        env = {k: str(v) for k, v in compose()["services"][service]["environment"].items()}
        names = {n for n in env if not n.startswith("OTEL_")}
        assert names <= allowed_env(service), names - allowed_env(service)
        assert env["JIPH_SERVICE"] == service
        settings = load_settings(service, env, monkeypatch)  # what the service itself would do
        url = make_url(settings.database_url)
        assert (url.drivername, url.host, url.port) == ("postgresql+asyncpg", "postgres", 5432)
        assert url.username == url.database == f"jiph_{service}"
        assert url.password == COMPOSE_ENV[f"JIPH_{service.upper()}_DB_PASSWORD"]
        assert settings.kafka_bootstrap_servers == "kafka:9092"
        assert settings.port == PORTS[service]
        assert settings.dev_key_file is not None
        assert str(settings.dev_key_file).startswith("/var/lib/jiph/keys/")
        assert not names & PKCS11_ENV or service == "deployment", "only deployment has a key store"
    env = {k: str(v) for k, v in compose()["services"]["deployment"]["environment"].items()}
    personal, keystore = load_deployment_settings(env, monkeypatch, tmp_path)
    assert (personal.retention_days, personal.retention_interval_s) == (730, 3600.0)
    assert keystore.module == "/usr/lib/softhsm/libsofthsm2.so"
    moved = {"JIPH_DEPLOYMENT_RETENTION_DAYS": "30", "JIPH_DEPLOYMENT_RETENTION_INTERVAL_S": "60"}
    env = {
        k: str(v)
        for k, v in interpolate(compose_raw(), {**COMPOSE_ENV, **moved})["services"]["deployment"][
            "environment"
        ].items()
    }
    personal, _ = load_deployment_settings(env, monkeypatch, tmp_path)
    assert (personal.retention_days, personal.retention_interval_s) == (30, 60.0)


#: Run with a deployment service's key store settings: opens the token as the service does
#: (keystore_from_env), and uses a key on it.
OPEN_TOKEN = """
from services.deployment.keystore import keystore_from_env
keys = keystore_from_env()
if not keys.exists("officer-1"):
    keys.create_key("officer-1")
sealed = keys.seal("officer-1", b"personal", b"aad")
assert keys.unseal("officer-1", sealed, b"aad") == b"personal"
keys.close()
print("opened")
"""


def token_base_env(tmp_path: Path) -> dict[str, str]:
    """The environment a token's subprocess starts from: no JIPH_* or SOFTHSM2_CONF of ours."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }


def compose_token_paths(svc: dict[str, Any]) -> dict[str, str]:
    """Mount path -> named volume, of one Compose service."""
    out = {}
    for volume in svc.get("volumes", []):
        source, target = volume.split(":")[:2]
        out[target] = source
    return out


def test_compose_deployment_service_has_its_key_store() -> None:
    """The deployment service opens a SoftHSM2 token that its one-shot job makes in a named
    volume, before the service starts; the PIN is a file in that volume, never a value."""
    services = compose()["services"]
    deployment, job = services["deployment"], services[KEYSTORE_JOB]
    env = {k: str(v) for k, v in deployment["environment"].items()}
    assert PKCS11_ENV - {"JIPH_DEPLOYMENT_PKCS11_PIN"} <= set(env)
    assert "JIPH_DEPLOYMENT_PKCS11_PIN" not in env, "the PIN by file"
    assert env["JIPH_DEPLOYMENT_PKCS11_MODULE"] == "/usr/lib/softhsm/libsofthsm2.so"
    token_env = {k: v for k, v in env.items() if k in TOKEN_ENV}
    assert set(token_env) == TOKEN_ENV, "what TokenConfig.env() gives a service"
    assert job["environment"] == token_env, "the job makes the token those settings name"
    assert deployment["depends_on"][KEYSTORE_JOB]["condition"] == "service_completed_successfully"
    assert job["restart"] == "no" and job.get("network_mode") == "none"
    assert TOKEN_VOLUME in compose_raw()["volumes"]
    mounts, job_mounts = compose_token_paths(deployment), compose_token_paths(job)
    (folder,) = [path for path, source in mounts.items() if source == TOKEN_VOLUME]
    assert job_mounts == {folder: TOKEN_VOLUME}, "the job writes nothing but the token's volume"
    for name in ("SOFTHSM2_CONF", "JIPH_DEPLOYMENT_PKCS11_PIN_FILE"):
        assert Path(env[name]).parent == Path(folder), f"{name} is in the token's volume"
    for name, svc in services.items():
        if name not in ("deployment", KEYSTORE_JOB):
            assert TOKEN_VOLUME not in compose_token_paths(svc).values(), f"{name} sees the keys"
    script = job["command"][-1]
    assert job["command"][:2] == ["python", "-c"] and "ensure_token(" in script


def test_compose_keystore_job_makes_the_token_the_service_opens(
    tmp_path: Path,
) -> None:
    """The one-shot's command, run for real (SoftHSM2 as in the image) with a folder standing in
    for /var/lib/jiph; then the deployment service's settings, moved the same way, open that token
    with the service's own key store. Twice, since the job runs at every `up`."""
    services = compose()["services"]
    job, deployment = services[KEYSTORE_JOB], services["deployment"]
    state = tmp_path / "var-lib-jiph"
    (state / "softhsm").mkdir(parents=True)

    def moved(value: str) -> str:
        return value.replace("/var/lib/jiph", str(state))

    base = token_base_env(tmp_path)
    job_env = {**base, **{k: moved(str(v)) for k, v in job["environment"].items()}}
    service_env = {
        **base,
        **{k: moved(str(v)) for k, v in deployment["environment"].items() if k in TOKEN_ENV},
    }
    script = moved(job["command"][-1])
    for attempt in (1, 2):
        made = subprocess.run(
            [sys.executable, "-c", script],
            env=job_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert made.returncode == 0, (attempt, made.stdout, made.stderr[-2000:])
        assert "ready" in made.stdout
        opened = subprocess.run(
            [sys.executable, "-c", OPEN_TOKEN],
            env=service_env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert opened.returncode == 0 and "opened" in opened.stdout, (
            attempt,
            opened.stderr[-2000:],
        )
    pin = Path(service_env["JIPH_DEPLOYMENT_PKCS11_PIN_FILE"])
    assert pin.stat().st_mode & 0o077 == 0, "the PIN file is the owner's only"
    assert pin.read_text().strip() not in str(compose_raw()), "no PIN in the compose file"


def test_compose_writers_mount_their_checkpoint_keys_read_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each writer reads its own key from the `checkpoint-keys` volume, mounted read-only, after
    the one-shot that makes them there has completed; the one-shot makes them exactly where the
    writers' settings look. Reporting, which signs nothing, sees none of it."""
    services = compose()["services"]
    job = services[CHECKPOINT_JOB]
    assert CHECKPOINT_VOLUME in compose_raw()["volumes"]
    assert job["restart"] == "no" and job.get("network_mode") == "none"
    (folder,) = compose_token_paths(job)
    assert compose_token_paths(job) == {folder: CHECKPOINT_VOLUME}, "it writes nothing else"
    assert not [v for v in job["volumes"] if v.endswith(":ro")], "the job writes the keys"
    assert set(job["environment"]) == {f"JIPH_{s.upper()}_CHECKPOINT_KEY_FILE" for s in WRITERS}
    for service in WRITERS:
        svc = services[service]
        env = {k: str(v) for k, v in svc["environment"].items()}
        name = f"JIPH_{service.upper()}_CHECKPOINT_KEY_FILE"
        assert env[name] == job["environment"][name] == f"{folder}/{service}.pem"
        settings = load_settings(service, env, monkeypatch)
        assert settings.checkpoint_key_file == Path(folder) / f"{service}.pem"
        assert f"{CHECKPOINT_VOLUME}:{folder}:ro" in svc["volumes"], f"{service}: read-only"
        assert svc["depends_on"][CHECKPOINT_JOB]["condition"] == "service_completed_successfully"
    for name, svc in services.items():
        if name not in (*WRITERS, CHECKPOINT_JOB):
            assert CHECKPOINT_VOLUME not in compose_token_paths(svc).values(), name
            assert not [k for k in svc.get("environment") or {} if "CHECKPOINT" in k], name
    assert job["command"][:2] == ["python", "-c"] and "load_signing_key(" in job["command"][-1]


def test_compose_checkpoint_keys_job_makes_the_keys_the_writers_read(tmp_path: Path) -> None:
    """The one-shot's command, run for real with a folder standing in for the volume: it makes
    each writer's Ed25519 key (mode 0600) where the writer's setting names it, keeps a key that
    is there (one of yours, or its own from the last `up`), and prints each public half. The
    keys load as a production writer loads them (no key made on the way)."""
    job = compose()["services"][CHECKPOINT_JOB]
    (folder,) = compose_token_paths(job)
    volume = tmp_path / "checkpoint-keys"
    volume.mkdir(mode=0o700)

    def moved(value: str) -> str:
        return value.replace(folder, str(volume))

    env = {**token_base_env(tmp_path), **{k: moved(str(v)) for k, v in job["environment"].items()}}
    mine = Ed25519PrivateKey.generate()
    (volume / "triage.pem").write_bytes(
        mine.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    outputs, made = [], {}
    for attempt in (1, 2):  # the job runs at every `up`
        done = subprocess.run(
            [sys.executable, "-c", moved(job["command"][-1])],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (attempt, done.stdout, done.stderr[-2000:])
        outputs.append(done.stdout)
        for service in WRITERS:
            path = Path(env[f"JIPH_{service.upper()}_CHECKPOINT_KEY_FILE"])
            assert path.parent == volume
            key = load_signing_key(path, create=False)
            made.setdefault(service, path.read_bytes())
            assert path.read_bytes() == made[service], f"{service}'s key changed at {attempt}"
            kept = "kept" if attempt == 2 or service == "triage" else "made"
            assert f"{service}'s key {key_id(key.public_key())} {kept}" in done.stdout
    triage = load_signing_key(volume / "triage.pem", create=False)
    assert key_id(triage.public_key()) == key_id(mine.public_key()), "a key that is there is kept"
    for service in ("intake", "deployment"):
        assert (volume / f"{service}.pem").stat().st_mode & 0o077 == 0, "the owner's only"
    assert len(set(made.values())) == len(WRITERS), "a key per service"
    # What the job prints is what an auditor verifies with.
    printed = re.findall(
        r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----\n", outputs[0], re.S
    )
    assert len(printed) == len(WRITERS)
    for service, pem in zip(WRITERS, printed, strict=True):
        (tmp_path / "public.pem").write_text(pem)
        public = load_public_key(tmp_path / "public.pem")
        signing = load_signing_key(volume / f"{service}.pem", create=False)
        assert key_id(public) == key_id(signing.public_key())


def test_compose_publishes_only_the_public_services_on_loopback() -> None:
    for name, svc in compose()["services"].items():
        ports = svc.get("ports", [])
        if name in ("intake", "reporting"):
            assert ports == [f"127.0.0.1:{PORTS[name]}:{PORTS[name]}"]
        else:
            assert not ports, f"{name} publishes {ports}"


def test_compose_creates_the_projects_topics() -> None:
    job = compose()["services"]["kafka-topics"]
    assert job["environment"]["JIPH_TOPICS"].split() == topics.all_topics()
    assert int(job["environment"]["JIPH_PARTITIONS"]) == topics.PARTITIONS
    script = job["command"][0]
    for key, value in topics.TOPIC_CONFIG.items():
        assert f"--config {key}={value}" in script
    assert "--if-not-exists" in script


def test_compose_kafka_mirrors_the_local_broker_settings() -> None:
    env = compose()["services"]["kafka"]["environment"]
    as_properties = {
        k.removeprefix("KAFKA_").lower().replace("_", "."): str(v)
        for k, v in env.items()
        if k.startswith("KAFKA_") and k != "KAFKA_HEAP_OPTS"
    }
    local = {}
    for line in (DEPLOY / "kafka" / "server.properties").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            local[key] = value
    addresses = (
        "listeners",
        "advertised.listeners",
        "controller.quorum.bootstrap.servers",
        "log.dirs",
    )
    thread_counts = {k for k in local if "threads" in k}
    compared = set(local) - set(addresses) - thread_counts
    for key in compared:
        if key in as_properties:
            assert as_properties[key] == local[key], key
    must_match = {
        "auto.create.topics.enable", "num.partitions", "log.retention.ms", "min.insync.replicas",
        "offsets.topic.replication.factor", "transaction.state.log.replication.factor",
        "process.roles", "controller.listener.names",
    }  # fmt: skip
    assert must_match <= set(as_properties) & compared
    cluster_id = env["CLUSTER_ID"]
    assert len(cluster_id) == 22 and len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_postgres_init_script_provisions_every_service() -> None:
    postgres = compose()["services"]["postgres"]
    mounted = [v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert len(mounted) == 1
    source = (DEPLOY / mounted[0].split(":")[0]).resolve()
    assert os.access(source, os.X_OK), "executed, not sourced, by the image's entrypoint"
    assert subprocess.run(["bash", "-n", str(source)], check=False).returncode == 0
    script = source.read_text()
    default_services = re.search(r"JIPH_SERVICES:-([a-z ]+)\}", script)
    assert default_services and default_services.group(1).split() == list(SERVICES)
    secrets = set(postgres["secrets"])
    assert {f"jiph_{s}_db_password" for s in SERVICES} | {"pg_admin_password"} == secrets
    assert "REVOKE ALL ON DATABASE %I FROM PUBLIC" in script


# --- Helm ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def helm() -> str:
    """The Helm binary scripts/install_helm.sh provides (built once, then cached)."""
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "install_helm.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"no helm: scripts/install_helm.sh failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def helm_template(
    helm: str, *values: str, kube: str = KUBE_VERSIONS[-1], sets: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    argv = [helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", kube]
    for name in values:
        argv += ["-f", str(CI_VALUES / f"{name}-values.yaml")]
    for item in sets:
        argv += ["--set", item]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@functools.cache
def _render(
    helm: str, values: tuple[str, ...], kube: str, sets: tuple[str, ...]
) -> list[dict[str, Any]]:
    done = helm_template(helm, *values, kube=kube, sets=sets)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.load_all(done.stdout, Loader=Loader) if d]


def render(
    helm: str, *values: str, kube: str = KUBE_VERSIONS[-1], sets: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    return copy.deepcopy(_render(helm, values, kube, sets))


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def component(doc: dict[str, Any]) -> str:
    labels: dict[str, str] = doc["spec"]["template"]["metadata"]["labels"]
    return labels["app.kubernetes.io/component"]


VALUE_SETS = (("production",), ("full",), ("development",))


def test_helm_lint(helm: str) -> None:
    plain = subprocess.run([helm, "lint", str(CHART)], capture_output=True, text=True, check=False)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    for (name,) in VALUE_SETS:
        argv = [helm, "lint", "--strict", str(CHART), "-f", str(CI_VALUES / f"{name}-values.yaml")]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "[WARNING]" not in done.stdout and "[ERROR]" not in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("base", "sets", "refusal"),
    [
        ((), (), "production needs auth.jwksUrl"),
        (
            (),
            ("auth.jwksUrl=https://idp/jwks", f"auth.issuer={DEV_ISSUER}"),
            "not the development issuer",
        ),
        ((), ("env=development",), "development needs auth.devKey"),
        ((), ("env=staging",), "env must be production or development"),
        (("production",), ("serviceDefaults.autoscaling.maxReplicas=7",), "above kafka.partitions"),
        (
            ("production",),
            ("services.triage.autoscaling.enabled=false", "services.triage.replicas=8"),
            "above kafka.partitions",
        ),
        (
            ("production",),
            ("kafka.strimzi.minInsyncReplicas=3",),
            "must be below replicationFactor",
        ),
        (
            ("production",),
            ("kafka.strimzi.replicationFactor=4",),
            "cannot exceed the number of brokers",
        ),
        (("production",), ("postgresql.ssl=disable",), "over TLS only"),
        (("production",), ("kafka.strimzi.enabled=false",), "kafka.bootstrapServers is required"),
        (
            ("production",),
            ("services.deployment.pkcs11.pin.existingSecret=",),
            "pkcs11.pin.existingSecret is required",
        ),
        (
            ("production",),
            (
                "services.deployment.pkcs11.pin.existingSecret=",
                "services.deployment.pkcs11.pin.asFile=true",
            ),
            "pkcs11.pin.existingSecret is required",
        ),
        (
            ("production",),
            ("services.deployment.pkcs11.module=",),
            "services.deployment.pkcs11.module is required",
        ),
        (
            ("production",),
            ("services.deployment.pkcs11.enabled=false",),
            "does not start without its PKCS#11 key store",
        ),
        (
            ("production",),
            (
                "services.deployment.pkcs11.softhsm.enabled=true",
                "services.deployment.pkcs11.softhsm.existingClaim=token",
            ),
            "is for env: development only",
        ),
        (
            ("development",),
            ("services.deployment.pkcs11.softhsm.existingClaim=",),
            "softhsm.existingClaim is required",
        ),
        (
            ("production",),
            ("services.deployment.pkcs11.tokenLabel=" + "x" * 33,),
            "tokenLabel must be 1-32 bytes",
        ),
        (("production",), ("services.deployment.retention.days=0",), "retention.days must be"),
        (("production",), ("services.deployment.retention.days=1.5",), "retention.days must be"),
        (
            ("production",),
            ("services.deployment.retention.intervalSeconds=0",),
            "intervalSeconds must be above 0",
        ),
        (("production",), ("services.intake.ingress.enabled=true",), "ingress.host is required"),
        (
            ("production",),
            ("checkpoints.existingSecret=",),
            "checkpoints.existingSecret is required in production",
        ),
        (
            ("production",),
            ("checkpoints.intervalSeconds=0",),
            "checkpoints.intervalSeconds must be above 0",
        ),
    ],
)
def test_chart_refuses_releases_that_cannot_work(
    helm: str, base: tuple[str, ...], sets: tuple[str, ...], refusal: str
) -> None:
    done = helm_template(helm, *base, sets=sets)
    assert done.returncode != 0 and refusal in done.stderr, done.stderr[-500:]


def test_chart_accepts_a_key_store_set_through_extra_env(helm: str) -> None:
    """pkcs11.enabled=false: the chart sets no PKCS#11 variable, and accepts the release only if
    services.deployment.extraEnv sets the three the service needs."""
    names = ["JIPH_DEPLOYMENT_PKCS11_MODULE", "JIPH_DEPLOYMENT_PKCS11_TOKEN_LABEL"]
    sets = ["services.deployment.pkcs11.enabled=false"]
    for i, name in enumerate([*names, "JIPH_DEPLOYMENT_PKCS11_PIN_FILE"]):
        sets += [
            f"services.deployment.extraEnv[{i}].name={name}",
            f"services.deployment.extraEnv[{i}].value=/x",
        ]
    docs = render(helm, "production", sets=tuple(sets))
    for pod in deployment_pods(docs).values():
        (container,) = pod["containers"]
        env = [e["name"] for e in container["env"]]
        assert sorted(n for n in env if "PKCS11" in n) == sorted(
            [*names, "JIPH_DEPLOYMENT_PKCS11_PIN_FILE"]
        )
    done = helm_template(helm, "production", sets=tuple(sets[:-2]))
    assert done.returncode != 0 and "does not start without its PKCS#11 key store" in done.stderr


def test_rendered_objects_are_valid_kubernetes(helm: str) -> None:
    checked: set[str] = set()
    for values in VALUE_SETS:
        for kube in KUBE_VERSIONS:
            for doc in render(helm, *values, kube=kube):
                group = doc["apiVersion"].split("/")[0]
                if (group, doc["kind"]) in CRD_KINDS:
                    continue  # validated against their CRDs below
                try:
                    kubernetes_validate.validate(doc, kube, strict=True)
                except kubernetes_validate.ValidationError as exc:
                    pytest.fail(
                        f"{values} k8s {kube}: {doc['kind']} {doc['metadata']['name']}: {exc}"
                    )
                checked.add(doc["kind"])
    assert checked >= {
        "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy",
        "Secret", "Job", "ServiceAccount", "Ingress",
    }  # fmt: skip


# --- CRDs of the custom resources ----------------------------------------------------------------
def crd_schemas(root: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(group, kind, version) -> openAPIV3Schema of every CRD under `root`."""
    found = {}
    for path in sorted(root.rglob("*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=Loader):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                key = (spec["group"], spec["names"]["kind"], version["name"])
                found[key] = version["schema"]["openAPIV3Schema"]
    return found


def crd_sources() -> list[tuple[str, Path]]:
    sources = []
    if os.environ.get("JIPH_CRDS_DIR"):
        sources.append(("$JIPH_CRDS_DIR", Path(os.environ["JIPH_CRDS_DIR"])))
    sources += [
        ("the shared folder beside the clone", REPO.parent / "shared" / "crds"),
        ("/work/shared/crds", Path("/work/shared/crds")),
        ("the cache", cache_dir() / "crds"),
    ]
    return sources


@pytest.fixture(scope="module")
def crds() -> dict[tuple[str, str, str], dict[str, Any]]:
    tried = []
    for label, root in crd_sources():
        schemas = crd_schemas(root) if root.is_dir() else {}
        kinds = {(g, k) for g, k, _ in schemas}
        if kinds >= CRD_KINDS:
            print(f"CRDs from {label}: {root}")
            return schemas
        tried.append(
            f"{label} ({root}): {'missing' if not root.is_dir() else sorted(CRD_KINDS - kinds)}"
        )
    fetched = subprocess.run(
        ["bash", str(REPO / "scripts" / "fetch_crds.sh"), str(cache_dir() / "crds")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    schemas = crd_schemas(cache_dir() / "crds")
    missing = CRD_KINDS - {(g, k) for g, k, _ in schemas}
    if fetched.returncode != 0 or missing:
        pytest.fail(
            "no CRDs to validate the chart's custom resources against.\n  tried: "
            + "\n  tried: ".join(tried)
            + f"\n  scripts/fetch_crds.sh exited {fetched.returncode}, still missing {sorted(missing)}:\n"
            + fetched.stderr[-3000:]
        )
    return schemas


def strict_schema(schema: Any) -> Any:
    """`schema` with unknown fields refused wherever the CRD lists the fields: the API server
    silently prunes those, so a misspelt field would otherwise pass unnoticed."""
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict_schema(v) for k, v in schema.items()}
    if (
        out.get("type") == "object"
        and isinstance(out.get("properties"), dict)
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


_VALIDATORS: dict[tuple[int, tuple[str, str, str]], Any] = {}


def validate_custom_resource(
    crds: dict[tuple[str, str, str], dict[str, Any]], doc: dict[str, Any]
) -> None:
    group, version = doc["apiVersion"].split("/")
    key = (group, doc["kind"], version)
    assert key in crds, f"no CRD serves {doc['apiVersion']} {doc['kind']}"
    cache_key = (id(crds), key)
    if cache_key not in _VALIDATORS:
        _VALIDATORS[cache_key] = jsonschema.Draft7Validator(strict_schema(crds[key]))
    validator = _VALIDATORS[cache_key]
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        raise jsonschema.ValidationError(
            "; ".join(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])
        )


def test_custom_resources_match_their_crds(
    helm: str, crds: dict[tuple[str, str, str], Any]
) -> None:
    validated: set[tuple[str, str]] = set()
    for values in VALUE_SETS:
        for doc in render(helm, *values):
            group = doc["apiVersion"].split("/")[0]
            if (group, doc["kind"]) in CRD_KINDS:
                try:
                    validate_custom_resource(crds, doc)
                except jsonschema.ValidationError as exc:
                    pytest.fail(f"{values}: {doc['kind']} {doc['metadata']['name']}: {exc.message}")
                validated.add((group, doc["kind"]))
    assert validated == CRD_KINDS


def test_crd_validation_catches_misspelt_and_wrong_fields(
    helm: str, crds: dict[tuple[str, str, str], Any]
) -> None:
    docs = render(helm, "production")
    pool = next(iter(by_kind(docs, "KafkaNodePool").values()))
    cluster = next(iter(by_kind(docs, "Cluster").values()))
    validate_custom_resource(crds, pool)
    validate_custom_resource(crds, cluster)
    broken = [
        (pool, lambda d: d["spec"].__setitem__("replicsa", 3)),
        (pool, lambda d: d["spec"]["storage"].__setitem__("type", "disk")),
        (pool, lambda d: d["spec"].pop("roles")),
        (cluster, lambda d: d["spec"].__setitem__("instance", 3)),
        (cluster, lambda d: d["spec"]["managed"]["roles"][0].__setitem__("passwordSecrets", {})),
    ]
    for doc, change in broken:
        changed = copy.deepcopy(doc)
        change(changed)
        with pytest.raises(jsonschema.ValidationError):
            validate_custom_resource(crds, changed)


# --- What the chart promises ----------------------------------------------------------------------
def test_deployments_probe_limit_and_lock_down_every_service(helm: str) -> None:
    for values in VALUE_SETS:
        deployments = by_kind(render(helm, *values), "Deployment")
        assert {component(d) for d in deployments.values()} == set(SERVICES)
        for doc in deployments.values():
            service = component(doc)
            pod = doc["spec"]["template"]["spec"]
            (container,) = pod["containers"]
            assert container["ports"][0]["containerPort"] == PORTS[service]
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["runAsUser"] > 0
            assert pod["automountServiceAccountToken"] is False
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])  # noqa: S108
            assert pod["terminationGracePeriodSeconds"] > 10  # uvicorn's graceful shutdown


def expand_env(container: dict[str, Any], secrets: dict[tuple[str, str], str]) -> dict[str, str]:
    """A container's environment as the kubelet builds it: secretKeyRef values from `secrets`,
    $(VAR) expanded from the variables defined before."""
    env: dict[str, str] = {}
    for item in container["env"]:
        if "valueFrom" in item:
            ref = item["valueFrom"]["secretKeyRef"]
            value = secrets[(ref["name"], ref["key"])]
        else:
            value = re.sub(
                r"\$\(([A-Za-z_]\w*)\)", lambda m: env.get(m.group(1), m.group(0)), item["value"]
            )
        env[item["name"]] = value
    return env


class FakeSecrets(dict[tuple[str, str], str]):
    """Any Secret key: a plausible value for it."""

    def __missing__(self, key: tuple[str, str]) -> str:
        name, item = key
        service = next((s for s in SERVICES if name.endswith(s)), "x")
        return {
            "username": f"jiph_{service}",
            "password": "Secret0pw",
            "jwks-url": "https://idp.example.invalid/jwks.json",
            "issuer": "https://idp.example.invalid/",
            "audience": "jiph-gateway",
        }.get(item, f"value-of-{item}")


def workload_containers(docs: list[dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            service = next(e["value"] for e in container["env"] if e["name"] == "JIPH_SERVICE")
            yield doc["kind"], service, container


def test_chart_env_is_exactly_what_the_services_read(
    helm: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for values in VALUE_SETS:
        docs = render(helm, *values)
        secrets = FakeSecrets()
        for secret in by_kind(docs, "Secret").values():
            for key, value in secret.get("stringData", {}).items():
                secrets[(secret["metadata"]["name"], key)] = value
        seen = set()
        for kind, service, container in workload_containers(docs):
            names = {e["name"] for e in container["env"] if not e["name"].startswith("OTEL_")}
            assert names <= allowed_env(service), (values, kind, names - allowed_env(service))
            assert len(names) == len(
                [e for e in container["env"] if not e["name"].startswith("OTEL_")]
            )
            env = expand_env(container, secrets)
            settings = load_settings(service, env, monkeypatch)  # refused if the service would
            url = make_url(settings.database_url)
            assert url.username == url.database == f"jiph_{service}"
            (password_ref,) = [e for e in container["env"] if e["name"] == "JIPH_DB_PASSWORD"]
            assert (
                url.password
                == secrets[(password_ref["valueFrom"]["secretKeyRef"]["name"], "password")]
            )
            assert settings.port == PORTS[service]
            if values == ("development",):
                assert settings.env == "development" and settings.dev_key_file is not None
            else:
                assert settings.env == "production" and settings.jwks_url
                assert url.query.get("ssl") == "require"
            if service == "deployment":  # refused if the service would refuse its key store
                personal, keystore = load_deployment_settings(env, monkeypatch, tmp_path)
                retention = chart_values(*values)["services"]["deployment"]["retention"]
                assert personal.retention_days == retention["days"]
                assert personal.retention_interval_s == retention["intervalSeconds"]
                assert keystore.module and keystore.token_label and keystore.pin
            else:
                assert not names & OWN_ENV["deployment"], (values, service)
            seen.add((kind, service))
        assert seen == {(k, s) for k in ("Deployment", "Job") for s in SERVICES}


def chart_values(*value_sets: str) -> dict[str, Any]:
    """values.yaml with the CI value files over it (maps merged, as Helm does)."""

    def merge(base: Any, over: Any) -> Any:
        if isinstance(base, dict) and isinstance(over, dict):
            return {k: merge(base.get(k), over[k]) if k in base else over[k] for k in over} | {
                k: v for k, v in base.items() if k not in over
            }
        return over

    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    for name in value_sets:
        values = merge(values, yaml.safe_load((CI_VALUES / f"{name}-values.yaml").read_text()))
    return values


def deployment_pods(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The deployment service's pod specs: its Deployment's and its migration Job's."""
    pods = {}
    for doc in docs:
        kind = doc["kind"]
        if kind in ("Deployment", "Job") and component(doc).endswith("deployment"):
            pods[kind] = doc["spec"]["template"]["spec"]
    assert set(pods) == {"Deployment", "Job"}
    return pods


def pin_source(pod: dict[str, Any]) -> tuple[str, str, str]:
    """Where the deployment container's PKCS#11 PIN comes from: ("secret", name, key) for a
    Secret, by value or mounted as a file, or ("claim", name, path) for a file on a volume claim."""
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert len(PIN_ENV & set(env)) == 1, "exactly one of PIN and PIN_FILE"
    if "JIPH_DEPLOYMENT_PKCS11_PIN" in env:
        assert "value" not in env["JIPH_DEPLOYMENT_PKCS11_PIN"], "never the PIN in the manifest"
        ref = env["JIPH_DEPLOYMENT_PKCS11_PIN"]["valueFrom"]["secretKeyRef"]
        return "secret", ref["name"], ref["key"]
    path = Path(env["JIPH_DEPLOYMENT_PKCS11_PIN_FILE"]["value"])
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        if path.is_relative_to(mount["mountPath"]):
            volume = volumes[mount["name"]]
            inside = str(path.relative_to(mount["mountPath"]))
            if "secret" in volume:
                assert mount.get("readOnly") is True
                (item,) = [i for i in volume["secret"]["items"] if i["path"] == inside]
                return "secret", volume["secret"]["secretName"], item["key"]
            return "claim", volume["persistentVolumeClaim"]["claimName"], inside
    raise AssertionError(f"the PIN file {path} is on no volume")


def test_chart_gives_the_deployment_service_and_its_job_the_key_store(
    helm: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """services.deployment.pkcs11 in the Deployment and the migration Job alike (migration 0003
    opens the key store): the same PKCS#11 variables, volumes and mounts, the PIN from the
    Secret (by value or as a file) or, with SoftHSM2, from the token's claim; nothing of it in
    the other services."""
    for values in VALUE_SETS:
        docs = render(helm, *values)
        pkcs11 = chart_values(*values)["services"]["deployment"]["pkcs11"]
        pods = deployment_pods(docs)
        served, job = pods["Deployment"], pods["Job"]
        (container,) = served["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert set(env) >= PKCS11_ENV - PIN_ENV, values
        assert env["JIPH_DEPLOYMENT_PKCS11_TOKEN_LABEL"] == pkcs11["tokenLabel"]
        assert env["JIPH_DEPLOYMENT_PKCS11_MODULE"] == (
            pkcs11["module"] or "/usr/lib/softhsm/libsofthsm2.so"
        )

        def without_tmp(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [i for i in items if i["name"] != "tmp"]

        assert without_tmp(job["volumes"]) == without_tmp(served["volumes"]), values
        assert job["containers"][0]["volumeMounts"] == container["volumeMounts"], values
        strip = [
            {k: v for k, v in c.items() if k != "resources"}
            for c in served.get("initContainers", [])
        ]
        assert strip == [
            {k: v for k, v in c.items() if k != "resources"} for c in job.get("initContainers", [])
        ]
        source = pin_source(served)
        assert pin_source(job) == source
        if pkcs11["softhsm"]["enabled"]:
            assert source[:2] == ("claim", pkcs11["softhsm"]["existingClaim"])
            assert "SOFTHSM2_CONF" in env
            (init,) = served["initContainers"]
            assert init["env"] == [e for e in container["env"] if e["name"] in TOKEN_ENV]
            assert "ensure_token(" in init["args"][-1]
        else:
            assert source == ("secret", pkcs11["pin"]["existingSecret"], pkcs11["pin"]["key"])
            assert "SOFTHSM2_CONF" not in env and not served.get("initContainers")
            assert ("JIPH_DEPLOYMENT_PKCS11_PIN_FILE" in env) == pkcs11["pin"]["asFile"]
        for volume in pkcs11["volumes"]:
            assert volume in served["volumes"] and volume in job["volumes"]
        for mount in pkcs11["volumeMounts"]:
            assert mount in container["volumeMounts"]
        for doc in docs:
            if doc["kind"] in ("Deployment", "Job") and not component(doc).endswith("deployment"):
                pod = doc["spec"]["template"]["spec"]
                assert not pod.get("initContainers")
                writer = component(doc).removeprefix("migrate-") in WRITERS
                own = {"tmp", "dev-key"} | ({"checkpoint-key"} if writer else set())
                assert {v["name"] for v in pod["volumes"]} <= own


def test_chart_softhsm_init_container_makes_the_token_the_service_opens(
    helm: str, tmp_path: Path
) -> None:
    """Development's SoftHSM2 token: the init container's script run for real (SoftHSM2 as in
    the image) on a folder standing in for the claim; it checks that the token it made is what the
    service's variables name, and the service's key store opens it."""
    pods = deployment_pods(render(helm, "development"))
    served = pods["Deployment"]
    (init,) = served["initContainers"]
    (mount,) = [m for m in init["volumeMounts"] if m["name"] == "softhsm-token"]
    claim = tmp_path / "claim"
    claim.mkdir()

    def moved(value: str) -> str:
        return value.replace(mount["mountPath"], str(claim))

    base = token_base_env(tmp_path)
    init_env = {**base, **{e["name"]: moved(e["value"]) for e in init["env"]}}
    assert init["args"][:2] == ["python", "-c"]
    for _attempt in (1, 2):  # every pod start runs it
        made = subprocess.run(
            [sys.executable, "-c", moved(init["args"][-1])],
            env=init_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert made.returncode == 0, made.stdout + made.stderr[-2000:]
    (container,) = served["containers"]
    service_env = {
        **base,
        **{e["name"]: moved(e["value"]) for e in container["env"] if e["name"] in TOKEN_ENV},
    }
    opened = subprocess.run(
        [sys.executable, "-c", OPEN_TOKEN],
        env=service_env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert opened.returncode == 0 and "opened" in opened.stdout, opened.stderr[-2000:]


def checkpoint_key_source(pod: dict[str, Any], service: str) -> tuple[str, str]:
    """(Secret, key) of the checkpoint key a writer's container reads, checked read-only
    and the writer's own key only."""
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    path = Path(env[f"JIPH_{service.upper()}_CHECKPOINT_KEY_FILE"]["value"])
    volumes = {v["name"]: v for v in pod["volumes"]}
    (mount,) = [m for m in container["volumeMounts"] if path.is_relative_to(m["mountPath"])]
    assert mount.get("readOnly") is True, service
    secret = volumes[mount["name"]]["secret"]
    (item,) = secret["items"]
    assert item["path"] == str(path.relative_to(mount["mountPath"]))
    return secret["secretName"], item["key"]


def test_chart_gives_every_writer_its_own_checkpoint_key(
    helm: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """checkpoints: each writer's pods and its migration Job mount the writer's key alone,
    read-only, from the Secret, and name it in CHECKPOINT_KEY_FILE with the interval; reporting
    gets neither. In development without a Secret the chart generates one with an Ed25519 key per
    writer, which the service loads as it would a key of yours."""
    for values in VALUE_SETS:
        docs = render(helm, *values)
        checkpoints = chart_values(*values)["checkpoints"]
        secrets = by_kind(docs, "Secret")
        generated = f"{RELEASE}-checkpoint-keys"
        secret_name = checkpoints["existingSecret"] or generated
        assert (generated in secrets) == (values == ("development",)), values
        for doc in docs:
            if doc["kind"] not in ("Deployment", "Job"):
                continue
            service = component(doc).removeprefix("migrate-")
            pod = doc["spec"]["template"]["spec"]
            (container,) = pod["containers"]
            names = {e["name"] for e in container["env"]}
            if service not in WRITERS:
                assert not [n for n in names if "CHECKPOINT" in n], (values, service)
                assert "checkpoint-key" not in {v["name"] for v in pod["volumes"]}
                continue
            source = checkpoint_key_source(pod, service)
            assert source == (secret_name, f"{service}.pem"), (values, doc["kind"], service)
            env = {e["name"]: e.get("value") for e in container["env"]}
            interval = env[f"JIPH_{service.upper()}_CHECKPOINT_INTERVAL_S"]
            assert float(interval) == checkpoints["intervalSeconds"]
            if values == ("development",):  # the generated key, as the writer loads it
                stand_in = tmp_path / f"{service}.pem"
                stand_in.write_text(secrets[generated]["stringData"][f"{service}.pem"])
                env = expand_env(container, FakeSecrets())
                env[f"JIPH_{service.upper()}_CHECKPOINT_KEY_FILE"] = str(stand_in)
                settings = load_settings(service, env, monkeypatch)
                assert settings.checkpoint_interval_s == checkpoints["intervalSeconds"]
                assert settings.checkpoint_key_file is not None
                load_signing_key(settings.checkpoint_key_file, create=False)
        if values == ("development",):
            keys = secrets[generated]["stringData"]
            assert sorted(keys) == sorted(f"{s}.pem" for s in WRITERS)
            assert len(set(keys.values())) == len(WRITERS), "a key per service"
            meta = secrets[generated]["metadata"]
            assert meta["annotations"]["helm.sh/resource-policy"] == "keep"


def test_chart_refuses_production_without_checkpoint_keys_and_says_why(helm: str) -> None:
    """Production without checkpoints.existingSecret: refused, naming the Secret's keys and why
    (the writers would not start; the chart generates keys in development only). A release
    without any writer needs none."""
    done = helm_template(helm, "production", sets=("checkpoints.existingSecret=",))
    assert done.returncode != 0
    for words in (
        "checkpoints.existingSecret is required in production",
        "intake.pem, triage.pem and deployment.pem",
        "Ed25519",
        "an unsigned history is not evidence",
        "development only",
    ):
        assert words in done.stderr, (words, done.stderr[-500:])
    no_writers = tuple(f"services.{s}.enabled=false" for s in WRITERS)
    docs = render(helm, "production", sets=("checkpoints.existingSecret=", *no_writers))
    assert {component(d) for d in by_kind(docs, "Deployment").values()} == {"reporting"}


def test_chart_runs_migrations_after_install_when_it_generates_the_checkpoint_keys(
    helm: str,
) -> None:
    """The migration Jobs mount the writer's key: when the chart makes the Secret (development),
    a first install cannot run them before the release's own resources exist."""
    existing = (
        "auth.existingSecret=jiph-auth",
        *(f"database.credentials.{s}.existingSecret=db-{s}" for s in SERVICES),
    )
    for sets, hooks in (
        (existing, "post-install,pre-upgrade"),
        ((*existing, "checkpoints.existingSecret=jiph-checkpoint-keys"), "pre-install,pre-upgrade"),
    ):
        jobs = by_kind(render(helm, "development", sets=sets), "Job").values()
        assert {j["metadata"]["annotations"]["helm.sh/hook"] for j in jobs} == {hooks}, sets


def test_chart_lets_the_deployment_service_reach_its_hsm(helm: str) -> None:
    """networkPolicy.hsm: egress to a network HSM from the deployment service and its migration
    Job only, and no rule at all while no ports are given."""
    for values in VALUE_SETS:
        docs = render(helm, *values)
        hsm = chart_values(*values)["networkPolicy"]["hsm"]
        policies = list(by_kind(docs, "NetworkPolicy").values())
        pods = [d for d in docs if d["kind"] in ("Deployment", "Job")]
        for pod in pods:
            labels = pod["spec"]["template"]["metadata"]["labels"]
            egress = [
                r
                for p in policies
                if selects(p["spec"]["podSelector"], labels)
                for r in p["spec"].get("egress", [])
            ]
            to_hsm = [r for r in egress if ports_of(r) & set(hsm["ports"])]
            if hsm["ports"] and component(pod) in ("deployment", "migrate-deployment"):
                assert to_hsm and all(r.get("to") == (hsm["peers"] or None) for r in to_hsm), values
            else:
                assert not to_hsm, (values, component(pod))


def test_autoscaling_stays_within_the_partitions_and_disruption_leaves_a_pod(helm: str) -> None:
    for values in VALUE_SETS:
        docs = render(helm, *values)
        deployments = by_kind(docs, "Deployment")
        pdbs = by_kind(docs, "PodDisruptionBudget")
        for hpa in by_kind(docs, "HorizontalPodAutoscaler").values():
            spec = hpa["spec"]
            assert spec["scaleTargetRef"]["name"] in deployments
            assert spec["maxReplicas"] <= topics.PARTITIONS, "one consumer per partition at most"
            assert spec["minReplicas"] >= 2
            assert "replicas" not in deployments[spec["scaleTargetRef"]["name"]]["spec"]
            pdb = pdbs[spec["scaleTargetRef"]["name"]]
            assert pdb["spec"]["maxUnavailable"] < spec["minReplicas"]
        for name, doc in deployments.items():
            selector = doc["spec"]["selector"]["matchLabels"]
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items()
            if name in pdbs:
                assert pdbs[name]["spec"]["selector"]["matchLabels"] == selector


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        if expr["operator"] == "In" and labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def ports_of(rule: dict[str, Any]) -> set[Any]:
    return {p["port"] for p in rule.get("ports", [])}


def test_network_policies_deny_by_default_and_allow_what_each_pod_needs(helm: str) -> None:
    for values in VALUE_SETS:
        docs = render(helm, *values)
        policies = list(by_kind(docs, "NetworkPolicy").values())
        deny = [p for p in policies if not p["spec"].get("ingress") and not p["spec"].get("egress")]
        assert len(deny) == 1 and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        pods = [
            d["spec"]["template"]["metadata"]["labels"]
            for d in docs
            if d["kind"] in ("Deployment", "Job")
        ]
        for labels in pods:
            assert selects(deny[0]["spec"]["podSelector"], labels), labels
            allowing = [
                p
                for p in policies
                if p is not deny[0] and selects(p["spec"]["podSelector"], labels)
            ]
            assert allowing, f"nothing allows {labels['app.kubernetes.io/component']} anything"
            egress = [r for p in allowing for r in p["spec"].get("egress", [])]
            reached = set().union(*(ports_of(r) for r in egress))
            assert {53, 5432} <= reached
            if not labels["app.kubernetes.io/component"].startswith("migrate-"):
                assert 9092 in reached
                if values != ("development",):
                    assert 443 in reached, "the JWKS issuer"
        controller = yaml.safe_load((CHART / "values.yaml").read_text())["networkPolicy"][
            "ingressController"
        ]
        for policy in policies:
            comp = (
                policy["spec"]["podSelector"]
                .get("matchLabels", {})
                .get("app.kubernetes.io/component")
            )
            from_controller = any(
                r.get("from") == controller for r in policy["spec"].get("ingress", [])
            )
            has_ingress = any(
                d["kind"] == "Ingress" and d["metadata"]["name"].endswith(f"-{comp}") for d in docs
            )
            assert from_controller == (comp == "intake" or has_ingress), (values, comp)


def test_ingress_exposes_only_the_partner_api_of_intake(helm: str) -> None:
    ingresses = by_kind(render(helm, "full"), "Ingress")
    intake = ingresses[f"{RELEASE}-intake"]
    paths = {p["path"] for r in intake["spec"]["rules"] for p in r["http"]["paths"]}
    assert "/v1/requests" in paths
    assert not paths & {"/", "/metrics", "/v1/admin", "/healthz", "/readyz"}


def test_kafka_resources_replicate_and_keep_every_topic(helm: str) -> None:
    docs = render(helm, "production")
    (kafka,) = by_kind(docs, "Kafka").values()
    (pool,) = by_kind(docs, "KafkaNodePool").values()
    name = kafka["metadata"]["name"]
    config = kafka["spec"]["kafka"]["config"]
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == name
    assert pool["spec"]["replicas"] == 3 and set(pool["spec"]["roles"]) == {"controller", "broker"}
    assert config["min.insync.replicas"] == 2 and config["default.replication.factor"] == 3
    assert config["auto.create.topics.enable"] is False
    assert config["offsets.topic.replication.factor"] == 3
    kafka_topics = by_kind(docs, "KafkaTopic").values()
    assert sorted(t["spec"]["topicName"] for t in kafka_topics) == sorted(topics.all_topics())
    for topic in kafka_topics:
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == name
        assert topic["spec"]["partitions"] == topics.PARTITIONS
        assert topic["spec"]["replicas"] == 3
        assert {
            k: str(v) for k, v in topic["spec"]["config"].items()
        }.items() >= topics.TOPIC_CONFIG.items()
    for _kind, _service, container in workload_containers(docs):
        env = {e["name"]: e.get("value") for e in container["env"]}
        bootstrap = [v for k, v in env.items() if k.endswith("_KAFKA_BOOTSTRAP_SERVERS")]
        assert bootstrap == [f"{name}-kafka-bootstrap:9092"]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["kafka"]["topics"] == topics.all_topics()
    assert values["kafka"]["partitions"] == topics.PARTITIONS


def test_kafka_users_grant_each_service_its_own_topics(helm: str) -> None:
    users = by_kind(render(helm, "full"), "KafkaUser")
    assert len(users) == len(SERVICES)
    for service in SERVICES:
        acls = users[f"{RELEASE}-{service}"]["spec"]["authorization"]["acls"]
        writes = {a["resource"]["name"] for a in acls if "Write" in a["operations"]}
        own = {f"jiph.{service}.events"} & set(topics.EVENT_TOPICS)
        checkpoints = {topics.checkpoint_topic(service)} if service in WRITERS else set()
        assert writes == own | {topics.deadletter_topic(service)} | checkpoints
        groups = {a["resource"]["name"] for a in acls if a["resource"]["type"] == "group"}
        assert groups == {"jiph-intake-blue" if service == "intake" else f"jiph-{service}"}


def test_postgres_resources_give_each_service_its_role_and_database(helm: str) -> None:
    for values in (("production",), ("full",)):
        docs = render(helm, *values)
        (cluster,) = by_kind(docs, "Cluster").values()
        name = cluster["metadata"]["name"]
        roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
        assert set(roles) == {f"jiph_{s}" for s in SERVICES}
        databases = {d["spec"]["name"]: d for d in by_kind(docs, "Database").values()}
        assert set(databases) == set(roles)
        for db, doc in databases.items():
            assert doc["spec"]["owner"] == db and doc["spec"]["cluster"]["name"] == name
            assert doc["spec"]["databaseReclaimPolicy"] == "retain"
            assert f"hostssl {db} {db} all scram-sha-256" in cluster["spec"]["postgresql"]["pg_hba"]
        for _kind, service, container in workload_containers(docs):
            refs = {
                e["valueFrom"]["secretKeyRef"]["name"]
                for e in container["env"]
                if e["name"] in ("JIPH_DB_USER", "JIPH_DB_PASSWORD")
            }
            assert refs == {roles[f"jiph_{service}"]["passwordSecret"]["name"]}
            url = next(e["value"] for e in container["env"] if e["name"].endswith("_DATABASE_URL"))
            assert f"@{name}-rw:5432/jiph_{service}?" in url
        if values == ("production",):
            secrets = by_kind(docs, "Secret")
            for role in roles.values():
                secret = secrets[role["passwordSecret"]["name"]]
                assert secret["type"] == "kubernetes.io/basic-auth"
                assert secret["stringData"]["username"] == role["name"]
                assert re.fullmatch(r"[A-Za-z0-9]{32}", secret["stringData"]["password"])
        else:
            assert not by_kind(docs, "Secret"), "existing Secrets only"


def test_migration_jobs_are_hooks_that_run_jiph_migrate(
    helm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    external = (
        "postgresql.cnpg.enabled=false",
        "postgresql.host=db.example.invalid",
        "auth.existingSecret=jiph-auth",
        *(f"database.credentials.{s}.existingSecret=db-{s}" for s in SERVICES),
    )
    cases = [
        (("production",), (), "post-install,pre-upgrade"),  # the release creates the database
        (("production",), external, "pre-install,pre-upgrade"),
        (("production",), ("migrations.hooks=pre-upgrade",), "pre-upgrade"),
    ]
    for values, sets, hooks in cases:
        docs = render(helm, *values, sets=sets)
        jobs = by_kind(docs, "Job")
        deployments = by_kind(docs, "Deployment")
        assert len(jobs) == len(SERVICES)
        for job in jobs.values():
            assert job["metadata"]["annotations"]["helm.sh/hook"] == hooks
            pod = job["spec"]["template"]["spec"]
            assert pod["restartPolicy"] == "Never"
            assert "serviceAccountName" not in pod, "a pre-install hook cannot use the chart's own"
            (container,) = pod["containers"]
            assert container["args"][0] == "migrate"
            service = component(job).removeprefix("migrate-")
            (served,) = deployments[f"{RELEASE}-{service}"]["spec"]["template"]["spec"][
                "containers"
            ]
            assert container["env"] == served["env"], "the Job reads the service's own settings"
            assert container["image"] == served["image"]
    asked: list[tuple[str, float]] = []

    async def record(service: str, *, wait_s: float = 0.0) -> None:
        asked.append((service, wait_s))

    monkeypatch.setattr(migrate_command, "run_migrations", record)
    assert main(["migrate", "deployment", "--wait", "30"]) == 0
    assert asked == [("deployment", 30.0)]


def test_migrate_command_takes_the_lock_the_services_take() -> None:
    """The advisory lock id is derived from the migrations path: the Job and a starting service
    must name the same folder, or they would not wait for each other."""
    for service in SERVICES:
        main = importlib.import_module(f"services.{service}.main")
        assert migrations_dir(service) == main.DEFINITION.migrations
        assert (migrations_dir(service) / "env.py").exists()


def test_operations_doc_covers_every_setting_and_value() -> None:
    doc = (REPO / "docs" / "OPERATIONS.md").read_text()
    for field in ServiceSettings.model_fields:
        if field != "service_name":
            assert f"`{field.upper()}`" in doc, f"{field.upper()} is not documented"
    for name in OWN_ENV["deployment"]:
        assert f"`{name}`" in doc, f"{name} is not documented"
    deployment = yaml.safe_load((CHART / "values.yaml").read_text())["services"]["deployment"]
    for key in ("pkcs11", "retention"):
        assert f"services.deployment.{key}" in doc

        def leaves(node: Any, prefix: str = "") -> Iterator[str]:
            for sub, value in node.items():
                if isinstance(value, dict):
                    yield from leaves(value, f"{prefix}{sub}.")
                else:
                    yield f"{prefix}{sub}"

        for leaf in leaves(deployment[key]):
            assert f"`{leaf}" in doc or f"{key}.{leaf}`" in doc, f"{key}.{leaf} is not documented"
    for promise in (
        "SoftHSM2",
        "HSM",
        "C_DestroyObject",
        "never back the token's keys up outside the HSM",
        "HeaderDeadlineProtocol",
        "10 s deadline on the request line and headers",
        "deployment-keystore",
    ):
        assert promise in doc, promise
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for key, value in values.items():
        assert f"`{key}" in doc, f"values key {key} is not documented"
        if isinstance(value, dict) and key not in ("podSecurityContext", "securityContext"):
            for sub in value:
                assert f"{key}.{sub}" in doc, f"values key {key}.{sub} is not documented"
    for name in topics.all_topics():
        assert name in doc
    for command in ("jiph replay", "jiph migrate", "pg_dump", "pg_basebackup", "ScheduledBackup"):
        assert command in doc


def test_notes_render_for_every_value_set(helm: str, tmp_path: Path) -> None:
    """`helm template` skips NOTES.txt: render it as a manifest of a copy of the chart."""
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "NOTES.txt").unlink()
    (chart / "templates" / "notes.yaml").write_text(
        "notes: |\n" + "".join(f"  {line}\n" for line in notes.splitlines())
    )
    for (name,) in VALUE_SETS:
        argv = [
            helm,
            "template",
            RELEASE,
            str(chart),
            "-n",
            NAMESPACE,
            "-s",
            "templates/notes.yaml",
        ]
        argv += ["-f", str(CI_VALUES / f"{name}-values.yaml")]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        text = yaml.safe_load(done.stdout)["notes"]
        for service in SERVICES:
            assert f"{RELEASE}-{service}.{NAMESPACE}.svc:{PORTS[service]}" in text
        assert ("WARNING: kafka.strimzi.users.enabled" in text) == (name == "full")
        assert "hooks" in text
        assert "Key store:   officers' keys on PKCS#11 token" in text
        assert ("SoftHSM2" in text) == (name == "development")
        assert "Checkpoints: intake, triage, deployment sign their history" in text
        generated = "WARNING: the checkpoint keys were GENERATED by the chart" in text
        assert generated == (name == "development")
        assert "reserved" not in text


def test_migrate_command_fails_cleanly_without_leaking_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+asyncpg://jiph_triage:TopSecret9@127.0.0.1:1/jiph_triage"

    def run(env: dict[str, str]) -> tuple[int, str]:
        clear_jiph_env(monkeypatch)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code = main(["migrate", "triage"])
        return code, capsys.readouterr().err

    code, err = run({"JIPH_TRIAGE_ENV": "production", "JIPH_TRIAGE_DATABASE_URL": url})
    assert code == 2 and "production needs JWKS_URL" in err and "TopSecret9" not in err
    code, err = run({"JIPH_TRIAGE_DATABASE_URL": url})  # nothing listens on port 1
    assert code == 1 and "TopSecret9" not in err
