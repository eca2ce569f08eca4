"""infra/ checked without running anything: systemd units, compose file, nginx, logrotate, Dockerfiles, secrets.

Tools that are not the project's (systemd-analyze, nginx, logrotate) are used when installed and skipped with a
reason otherwise, also under DASHCAM_STRICT_TESTS=1: a missing nginx is not missing project data or a service.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
SYSTEMD = INFRA / "systemd"
VENV_BIN = "/opt/dashcam-processor/.venv/bin/"
SERVICES = sorted(p.name for p in SYSTEMD.glob("*.service"))
LONG_RUNNING = ["prefect-server.service", "dashcam-worker@.service", "dashcam-ui.service"]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _extras() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(data["project"]["optional-dependencies"])


def _unit(name: str) -> dict[str, list[tuple[str, str]]]:
    """A unit file as {section: [(key, value), ...]}, keeping repeated keys in order."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in (SYSTEMD / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        key, _, value = line.partition("=")
        sections.setdefault(current, []).append((key.strip(), value.strip()))
    return sections


def _values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def _host_args(command: str) -> list[str]:
    return re.findall(r"--host[= ](\S+)", command)


# ------------------------------------------------------------------ systemd


def test_expected_units_exist() -> None:
    for name in [
        *LONG_RUNNING,
        "dashcam-heartbeat.service",
        "dashcam-heartbeat.timer",
        "worker-docker.conf",
        "dashcam.sysusers",
        "dashcam.tmpfiles",
    ]:
        assert (SYSTEMD / name).is_file(), name


@pytest.mark.parametrize("name", SERVICES)
def test_service_layout_and_hardening(name: str) -> None:
    unit = _unit(name)
    service = dict(unit["Service"])
    assert service["User"] == "dashcam"
    assert service["WorkingDirectory"] == "/opt/dashcam-processor"
    exec_start = _values(unit, "Service", "ExecStart")
    assert len(exec_start) == 1
    assert exec_start[0].startswith(VENV_BIN), exec_start[0]
    for env_file in _values(unit, "Service", "EnvironmentFile"):
        assert env_file.lstrip("-").startswith("/etc/dashcam-processor/"), env_file
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ProtectHome"] == "yes"
    assert service["PrivateTmp"] == "yes"
    assert service["CapabilityBoundingSet"] == ""


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_restart_and_start_at_boot(name: str) -> None:
    unit = _unit(name)
    assert dict(unit["Service"])["Restart"] == "always"
    assert "multi-user.target" in _values(unit, "Install", "WantedBy")
    assert any("/var/log/dashcam/" in v for v in _values(unit, "Service", "StandardOutput"))


def test_commands_of_the_design() -> None:
    server = _values(_unit("prefect-server.service"), "Service", "ExecStart")[0]
    assert server == VENV_BIN + "prefect server start --host 127.0.0.1 --port 4200"
    worker = _values(_unit("dashcam-worker@.service"), "Service", "ExecStart")[0]
    assert worker.startswith(VENV_BIN + "prefect worker start --pool %i --name %H-%i")
    # no TTY under systemd: an install prompt would hang the worker
    assert "--install-policy never" in worker
    ui = _values(_unit("dashcam-ui.service"), "Service", "ExecStart")[0]
    assert ui.startswith(VENV_BIN + "dashcam ui ")
    heartbeat = _unit("dashcam-heartbeat.service")
    assert dict(heartbeat["Service"])["Type"] == "oneshot"
    assert _values(heartbeat, "Service", "ExecStart")[0].startswith(VENV_BIN + "dashcam heartbeat --server ")


def test_env_files_of_the_design() -> None:
    assert _values(_unit("prefect-server.service"), "Service", "EnvironmentFile") == [
        "/etc/dashcam-processor/prefect-server.env"
    ]
    assert _values(_unit("dashcam-worker@.service"), "Service", "EnvironmentFile") == [
        "/etc/dashcam-processor/worker.env"
    ]


def test_worker_may_write_to_the_storage_mounts_only() -> None:
    paths = " ".join(_values(_unit("dashcam-worker@.service"), "Service", "ReadWritePaths")).split()
    assert {p.lstrip("-") for p in paths} >= {"/mnt/nas-1/videos", "/mnt/shed-nas/archive"}


@pytest.mark.parametrize("name", SERVICES)
def test_services_bind_to_loopback(name: str) -> None:
    """Nothing listens on the LAN but nginx: every --host is loopback, no 0.0.0.0 anywhere."""
    text = (SYSTEMD / name).read_text()
    assert "0.0.0.0" not in text
    for command in _values(_unit(name), "Service", "ExecStart"):
        for host in _host_args(command):
            assert host in LOOPBACK, f"{name}: --host {host}"
    if name in ("prefect-server.service", "dashcam-ui.service"):
        assert _host_args(_values(_unit(name), "Service", "ExecStart")[0]) == ["127.0.0.1"]


def test_heartbeat_timer_starts_its_service() -> None:
    timer = _unit("dashcam-heartbeat.timer")
    assert _values(timer, "Timer", "OnUnitActiveSec")
    assert "timers.target" in _values(timer, "Install", "WantedBy")
    assert (SYSTEMD / "dashcam-heartbeat.service").is_file()


def test_docker_drop_in_gives_the_docker_group() -> None:
    text = (SYSTEMD / "worker-docker.conf").read_text()
    assert "SupplementaryGroups=docker" in text
    assert "After=docker.service" in text


def _stage_units(tmp_path: Path) -> Path:
    """Copies of the units whose venv commands are /bin/true: verify then judges the units, not this machine."""
    stage = tmp_path / "units"
    stage.mkdir()
    for path in SYSTEMD.iterdir():
        if path.suffix in (".service", ".timer"):
            text = re.sub(re.escape(VENV_BIN) + r"\S+", "/bin/true", path.read_text())
            (stage / path.name).write_text(text)
    # units ordered against or required by ours that a test machine lacks
    for stub in ("docker.service", "postgresql.service"):
        (stage / stub).write_text("[Service]\nExecStart=/bin/true\n")
    dropin = stage / "dashcam-worker@edge.service.d"
    dropin.mkdir()
    shutil.copy(SYSTEMD / "worker-docker.conf", dropin / "docker.conf")
    return stage


@pytest.mark.parametrize(
    "unit",
    [
        "prefect-server.service",
        "dashcam-worker@gpu.service",
        "dashcam-worker@edge.service",  # with the docker drop-in
        "dashcam-ui.service",
        "dashcam-heartbeat.service",
        "dashcam-heartbeat.timer",
    ],
)
def test_systemd_analyze_verify(unit: str, tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if not tool:
        pytest.skip("systemd-analyze is not installed (not a project dependency)")
    stage = _stage_units(tmp_path)
    # verify exits 0 on unknown keys and bad values, and only says so on stderr: any output is a failure.
    proc = subprocess.run(
        [tool, "verify", str(stage / unit)], capture_output=True, text=True, timeout=60, cwd=stage
    )
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def test_sysusers_uid_matches_the_images() -> None:
    line = next(
        raw for raw in (SYSTEMD / "dashcam.sysusers").read_text().splitlines() if raw.startswith("u ")
    )
    assert line.split()[1:3] == ["dashcam", "10001"]
    for dockerfile in (INFRA / "docker").glob("*.Dockerfile"):
        text = dockerfile.read_text()
        assert "--uid 10001" in text and "--gid 10001" in text, dockerfile.name


# ------------------------------------------------------------------ compose

COMPOSE = INFRA / "compose" / "compose.yaml"
ENV_EXAMPLE = INFRA / "compose" / ".env.example"


def _compose() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_services_and_healthchecks() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "prefect-server"}
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert services["postgres"]["image"] == "postgres:15"
    server = services["prefect-server"]
    assert server["command"] == "prefect server start --host 0.0.0.0"
    assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert any(v.startswith("postgres-data:") for v in services["postgres"]["volumes"])


def test_compose_prefect_image_matches_the_locked_prefect() -> None:
    import prefect

    image = _compose()["services"]["prefect-server"]["image"]
    assert image == f"prefecthq/prefect:{prefect.__version__}-python3.11"


def test_compose_ports_bind_loopback_by_default() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: write ports as HOST:PORT:PORT strings"
            host = port.rsplit(":", 2)[0]
            default = re.fullmatch(r"\$\{\w+:-([^}]*)\}", host)
            host = default.group(1) if default else host
            assert host == "127.0.0.1", f"{name}: {port} is not bound to loopback by default"


def test_compose_secrets_come_from_env_file() -> None:
    services = _compose()["services"]
    secret_keys = re.compile(r"PASSWORD|AUTH_STRING|CONNECTION_URL|SECRET")
    for name, service in services.items():
        for key, value in service.get("environment", {}).items():
            if secret_keys.search(key):
                assert "${" in str(value), f"{name}.{key} is written into the compose file"
    used = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    example = ENV_EXAMPLE.read_text()
    defined = set(re.findall(r"^(\w+)=", example, flags=re.M))
    assert used <= defined, f"not in .env.example: {sorted(used - defined)}"
    assert "openssl rand" in example
    for key in ("PREFECT_DB_PASSWORD", "DASHCAM_DB_PASSWORD"):
        assert re.search(rf"^{key}=<generate>$", example, flags=re.M), key
    for key in ("PREFECT_BIND", "POSTGRES_BIND"):
        assert re.search(rf"^{key}=127\.0\.0\.1$", example, flags=re.M), key


def test_compose_env_file_is_not_committed() -> None:
    git = shutil.which("git")
    if not git or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    env = INFRA / "compose" / ".env"
    ignored = subprocess.run([git, "check-ignore", "-q", str(env)], cwd=ROOT, timeout=30)
    assert ignored.returncode == 0, "infra/compose/.env would be committed"
    tracked = subprocess.run(
        [git, "ls-files", "--error-unmatch", str(env)], cwd=ROOT, capture_output=True, timeout=30
    )
    assert tracked.returncode != 0, "infra/compose/.env is tracked"


# ------------------------------------------------------------------ nginx

NGINX_CONF = INFRA / "nginx" / "dashcam.conf"


def _nginx_code() -> str:
    """The config without comments and quoted strings (braces inside those do not count)."""
    lines = [re.sub(r"(^|\s)#.*$", "", line) for line in NGINX_CONF.read_text().splitlines()]
    return re.sub(r"\"[^\"]*\"|'[^']*'", '""', "\n".join(lines))


def _server_blocks(code: str) -> list[str]:
    blocks, depth, start = [], 0, None
    for m in re.finditer(r"\bserver\s*\{|\{|\}", code):
        token = m.group(0)
        if token.startswith("server") and depth == 0:
            start = m.start()
        if token.endswith("{"):
            depth += 1
        else:
            depth -= 1
            if depth == 0 and start is not None:
                blocks.append(code[start : m.end()])
                start = None
    return blocks


def test_nginx_structure() -> None:
    code = _nginx_code()
    depth = 0
    for ch in code:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, "unbalanced braces"
    assert depth == 0, "unbalanced braces"
    for line in code.splitlines():
        line = line.strip()
        assert not line or line.endswith((";", "{", "}")), f"unterminated directive: {line}"

    servers = _server_blocks(code)
    plain = [s for s in servers if re.search(r"listen\s+80;", s)]
    tls = [s for s in servers if re.search(r"listen\s+443 ssl", s)]
    assert len(plain) == 1 and "return 301 https://$host$request_uri;" in plain[0]
    assert len(tls) == 2
    for server in tls:
        assert re.search(r"ssl_certificate\s+/etc/letsencrypt/live/[^/\s]+/fullchain\.pem;", server)
        assert re.search(r"ssl_certificate_key\s+/etc/letsencrypt/live/[^/\s]+/privkey\.pem;", server)
        assert "Strict-Transport-Security" in NGINX_CONF.read_text()
        assert "proxy_set_header Upgrade $http_upgrade;" in server
        assert re.search(r"proxy_set_header Connection \$\w+;", server)
        assert "proxy_read_timeout" in server
        assert "client_max_body_size" in server
        for upstream in re.findall(r"proxy_pass\s+(\S+);", server):
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", upstream), upstream
    ui = next(s for s in tls if "127.0.0.1:8000" in s)
    prefect = next(s for s in tls if "127.0.0.1:4200" in s)
    assert "auth_basic_user_file" not in ui  # the web UI has its own login
    assert re.search(r"auth_basic_user_file\s+/etc/nginx/\S+;", prefect)
    assert "proxy_max_temp_file_size 0;" in ui  # long video responses stream instead of spooling


def test_nginx_t(tmp_path: Path) -> None:
    """`nginx -t` on the real file, with a throwaway certificate and password file in place of the real ones."""
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).is_file()), None
    )
    if not nginx:
        pytest.skip("nginx is not installed (not a project dependency)")
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("openssl is not installed: no throwaway certificate")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test"]
        + ["-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (tmp_path / "htpasswd").write_text("prefect:{PLAIN}test-only\n")
    conf = re.sub(r"/etc/letsencrypt/live/[^/\s]+/", f"{tmp_path}/", NGINX_CONF.read_text())
    conf = re.sub(r"/etc/nginx/\S+\.htpasswd", str(tmp_path / "htpasswd"), conf)
    (tmp_path / "dashcam.conf").write_text(conf)
    (tmp_path / "tmp").mkdir()
    temp_paths = "".join(
        f"  {kind}_temp_path {tmp_path}/tmp;\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n{temp_paths}  include {tmp_path}/dashcam.conf;\n}}\n"
    )
    proc = subprocess.run(
        [
            nginx,
            "-t",
            "-p",
            str(tmp_path),
            "-e",
            str(tmp_path / "error.log"),
            "-c",
            str(tmp_path / "nginx.conf"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------------------ logrotate

LOGROTATE = INFRA / "logrotate" / "dashcam"


def test_logrotate_structure() -> None:
    text = LOGROTATE.read_text()
    assert re.search(r"^/var/log/dashcam/\*\.log \{$", text, flags=re.M)
    for directive in ("rotate", "compress", "missingok", "notifempty", "copytruncate", "maxsize"):
        assert re.search(rf"^\s+{directive}\b", text, flags=re.M), directive
    # every unit's log lands where logrotate looks
    for name in LONG_RUNNING:
        for target in _values(_unit(name), "Service", "StandardOutput"):
            assert re.fullmatch(r"append:/var/log/dashcam/[\w%.-]+\.log", target), target


def test_logrotate_debug(tmp_path: Path) -> None:
    tool = shutil.which("logrotate") or (
        "/usr/sbin/logrotate" if Path("/usr/sbin/logrotate").is_file() else None
    )
    if not tool:
        pytest.skip("logrotate is not installed (not a project dependency)")
    logs = tmp_path / "log"
    logs.mkdir()
    (logs / "worker-gpu.log").write_text("a line\n")
    conf = tmp_path / "dashcam"
    conf.write_text(LOGROTATE.read_text().replace("/var/log/dashcam", str(logs)))
    proc = subprocess.run(
        [tool, "--debug", "--state", str(tmp_path / "state"), str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "error" not in (proc.stdout + proc.stderr).lower(), proc.stdout + proc.stderr


# ------------------------------------------------------------------ central logs (run for real: test_central_logs.py)

LOGGING = INFRA / "logging"


def test_the_worker_and_its_flow_runs_use_the_shipped_logging_config() -> None:
    env = _values(_unit("dashcam-worker@.service"), "Service", "Environment")
    assert "PREFECT_LOGGING_SETTINGS_PATH=/opt/dashcam-processor/infra/logging/prefect-logging.yml" in env
    setup = (ROOT / "blocks" / "setup.py").read_text()
    assert (
        '"PREFECT_LOGGING_SETTINGS_PATH": f"{code_dir.rstrip(\'/\')}/infra/logging/prefect-logging.yml"'
        in setup
    )


def test_prefect_reads_the_shipped_logging_config() -> None:
    from prefect.logging.configuration import load_logging_config

    config = load_logging_config(LOGGING / "prefect-logging.yml")  # what Prefect does with the file
    assert config["root"]["handlers"] == ["console", "syslog"]
    for name in ("dashcam", "flows", "prefect.flow_runs", "prefect.task_runs"):
        assert config["loggers"][name]["handlers"] == ["api"], name
    assert config["handlers"]["api"]["filters"] == ["in_a_run"]
    assert "uvicorn" not in config["loggers"]  # propagates to the JSON handlers
    # every factory, class and filter it names imports
    for ref in [h.get("()") or h.get("class") for h in config["handlers"].values()] + [
        f["()"] for f in config["filters"].values()
    ]:
        module, _, attr = ref.rpartition(".")
        assert hasattr(__import__(module, fromlist=[attr]), attr), ref


def test_filebeat_reads_what_rsyslog_writes() -> None:
    import yaml

    server = (LOGGING / "rsyslog-server.conf").read_text()
    folder = re.search(r'string="(/var/log/dashcam/devices/)%hostname:::secpath-replace%\.log"', server)
    assert folder, "the per-device file template changed"
    beat = yaml.safe_load((LOGGING / "filebeat.yml").read_text())
    (inp,) = beat["filebeat.inputs"]
    assert inp["paths"] == [folder.group(1) + "*.log"]
    assert inp["parsers"] == [
        {"ndjson": {"target": "", "overwrite_keys": True, "add_error_key": True, "message_key": "message"}}
    ]
    assert beat["output.elasticsearch"]["api_key"] == "${ES_API_KEY}"  # from the keystore
    logrotate = LOGROTATE.read_text()
    assert re.search(r"^/var/log/dashcam/devices/\*\.log \{$", logrotate, flags=re.M)


# ------------------------------------------------------------------ Dockerfiles


def _dockerfile_extras(text: str) -> set[str]:
    extras = set(re.findall(r"--extra[= ]([\w-]+)", text))
    # an EXTRAS build arg (the gpu image's CPU variant): its default is what a plain `docker build` gets
    for default in re.findall(r'^ARG EXTRAS="([\w\s-]+)"', text, flags=re.M):
        extras |= set(default.split())
    for group in re.findall(r"\.\[([\w,\s-]+)\]", text):
        extras |= {e.strip() for e in group.split(",")}
    return extras


@pytest.mark.parametrize(("name", "expected"), [("edge", {"edge"}), ("gpu", {"gpu", "ocr"})])
def test_dockerfile_extras(name: str, expected: set[str]) -> None:
    text = (INFRA / "docker" / f"{name}.Dockerfile").read_text()
    used = _dockerfile_extras(text)
    assert used == expected
    assert used <= _extras(), f"extras missing from pyproject.toml: {used - _extras()}"
    assert "uv sync --locked" in text
    assert "COPY pyproject.toml uv.lock ./" in text
    assert "DASHCAM_MODELS_DIR=/models" in text
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    assert re.search(r"^FROM\s", text, flags=re.M)


@pytest.mark.parametrize("name", ["edge", "gpu"])
def test_dockerfile_builds_offline(name: str) -> None:
    """What build-images.sh relies on: base images only through build args, no frontend fetched from a
    registry (a `# syntax=` line), uv mounted rather than shipped, the CA bundle only as a build secret."""
    text = (INFRA / "docker" / f"{name}.Dockerfile").read_text()
    assert not re.search(r"^#\s*syntax=", text, flags=re.M)
    froms = re.findall(r"^FROM\s+(\S+)", text, flags=re.M)
    assert froms and all(f.startswith("${") for f in froms), froms
    assert "COPY --from=uv" not in text and "--mount=from=uv,source=/uv" in text
    assert "ca-certificates.crt" not in text and "id=ca_bundle" in text


def test_edge_image_has_the_edge_tpu_runtime() -> None:
    text = (INFRA / "docker" / "edge.Dockerfile").read_text()
    assert "libedgetpu1-std" in text
    assert "coral-edgetpu-stable" in text
    assert "plugdev" in text


def test_dockerignore_keeps_secrets_and_venv_out() -> None:
    patterns = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "**/.env"} <= patterns
    # what the images build from must stay in the context
    for needed in ("pyproject.toml", "uv.lock", "README.md", "dashcam", "flows", "blocks", "webui"):
        assert needed not in patterns


# ------------------------------------------------------------------ secrets

_SECRET_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    re.compile(r"\b[0-9a-f]{32,}\b"),  # openssl rand -hex output
    re.compile(r"\$(?:apr1|2[aby]|5|6)\$[./A-Za-z0-9]{4,}\$"),  # a real htpasswd hash
]
# KEY=value of environment-style names (env files, docs; compose's KEY: value is checked above), and the
# password= line of an SMB credentials file
_ASSIGNMENT = re.compile(
    r"\b[A-Z0-9_]*(?:PASSWORD|SECRET|AUTH_STRING|TOKEN|API_KEY)[A-Z0-9_]*=[\"']?([^\s\"']+)"
    r"|\bpassword=([^\s\"']+)"
)
_URL_PASSWORD = re.compile(r"://[^/\s:@]+:([^@\s/]+)@")
_PLACEHOLDER = re.compile(r"^(?:<|\$\{|\$\(|\w+:<|%s)")


def _infra_files() -> list[Path]:
    files = [p for p in INFRA.rglob("*") if p.is_file() and p.name != ".env"]
    return [*files, ROOT / ".dockerignore"]


@pytest.mark.parametrize("path", _infra_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_real_secrets(path: Path) -> None:
    text = path.read_text()
    for pattern in _SECRET_PATTERNS:
        assert not pattern.search(text), f"{pattern.pattern} in {path.name}"
    for m in _ASSIGNMENT.finditer(text):
        value = m.group(1) or m.group(2)
        if value.endswith(("_PASSWORD", "_STRING")) or value in ("", "\\", "{"):
            continue  # a variable name or a YAML mapping, not a value
        assert _PLACEHOLDER.match(value), f"{path.name}: {m.group(0)!r} looks like a real secret"
    for m in _URL_PASSWORD.finditer(text):
        assert _PLACEHOLDER.match(m.group(1)), f"{path.name}: password in URL {m.group(0)!r}"
    for weak in ("admin:pass", "changeme", "prefect:prefect"):
        assert weak not in text, f"{path.name}: {weak}"
