"""Log lines (dashcam.logs): JSON fields, ids from the context, no secret in any field, one line each, the
syslog handler against real sockets, and the commands as a user runs them with ``logging.format = json``."""

from __future__ import annotations

import io
import json
import logging
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashcam import logs
from dashcam.config import ConfigError, validate_dir
from dashcam.secretmask import add_secret, mask
from tests.support import dashcam_command, user_env

SECRET_KEY = "Vq3-secret-key-xT9pL2mN8rK4wZ7c"
API_KEY = "dk_0123456789ab_Zx8c7V6b5N4m3L2k1J0hGfDsApOiUyT"
OTHER_KEY = "dk_ba9876543210_Qw8e7R6t5Y4u3I2o1P0aSdFgHjKlZxC"  # a key in no variable: masked by its shape
DB_PASSWORD = "pg-Passw0rd-77"
DB_URL = f"postgresql+psycopg://dashcam:{DB_PASSWORD}@db.lan:5432/dashcam"


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHCAM_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("DASHCAM_API_KEY", API_KEY)
    monkeypatch.setenv("DASHCAM_DATABASE_URL", DB_URL)
    monkeypatch.setenv("DASHCAM_DEVICE", "jetson-coral-1")
    monkeypatch.delenv("PREFECT__FLOW_RUN_ID", raising=False)


def _capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"dashcam.test.{id(out)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, out


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture
def json_log(secrets_env: None) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    yield _capture(logs.json_formatter())


def test_a_json_line_has_the_fields_and_the_ids_of_its_context(
    json_log: tuple[logging.Logger, io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, out = json_log
    logger.info("outside")
    with logs.working_on(42, "run-a"):
        logger.warning("inside %s", "clip")
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "run-from-env")
    logger.info("in a flow-run process")
    logger.info("Prefect's run logger", extra={"flow_run_id": "run-b", "flow_run_name": "brave-fox"})
    first, inside, env, prefect = _lines(out)
    for line in (first, inside, env, prefect):
        assert {"timestamp", "level", "device", "flow_run_id", "clip_id", "logger", "message"} <= set(line)
        assert line["device"] == "jetson-coral-1" and line["logger"] == logger.name
        assert str(line["timestamp"]).endswith("+00:00")
    assert (first["level"], first["flow_run_id"], first["clip_id"]) == ("INFO", None, None)
    assert (inside["level"], inside["message"], inside["clip_id"], inside["flow_run_id"]) == (
        "WARNING",
        "inside clip",
        42,
        "run-a",
    )
    assert env["flow_run_id"] == "run-from-env" and env["clip_id"] is None
    assert prefect["flow_run_id"] == "run-b" and prefect["flow_run_name"] == "brave-fox"


def test_no_secret_reaches_a_json_line(json_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = json_log
    add_secret("camera-pass-9981")  # e.g. the camera's password, read from a Prefect Secret block
    logger.error("connecting to %s failed", DB_URL)
    logger.error("key %s refused, secret key was %s", OTHER_KEY, SECRET_KEY)
    logger.error("DASHCAM_API_KEY is %s", API_KEY)
    logger.error("camera said: wrong password camera-pass-9981")
    logger.warning("request", extra={"headers": {"Authorization": "Bearer eyJhbGciOi.abc.def"}})
    logger.warning('body {"password": "hunter2-hunter2", "username": "alice"} conninfo password=x7y8z9')
    try:
        raise RuntimeError(f"could not open {DB_URL} with {SECRET_KEY}")
    except RuntimeError:
        logger.exception("it failed")
    text = out.getvalue()
    for secret in (
        SECRET_KEY,
        API_KEY,
        OTHER_KEY[16:],
        DB_PASSWORD,
        "camera-pass-9981",
        "eyJhbGciOi",
        "hunter2",
        "x7y8z9",
    ):
        assert secret not in text, secret
    lines = _lines(out)
    assert "postgresql+psycopg://dashcam:***@db.lan:5432/dashcam" in str(lines[0]["message"])
    assert "dk_ba9876543210_***" in str(lines[1]["message"])  # the key id stays: it names the key
    assert lines[2]["message"] == "DASHCAM_API_KEY is ***"
    assert lines[4]["headers"] == {"Authorization": "Bearer ***"}
    assert '"username": "alice"' in str(lines[5]["message"])
    assert "RuntimeError" in str(lines[6]["exc_info"])


def test_a_text_line_stays_one_line_and_is_masked(secrets_env: None) -> None:
    logger, out = _capture(logs.TextFormatter(logs.CLI_TEXT))
    logger.warning("skipped %s: %s", "new\nline\x1b[31m.mp4", f"db {DB_URL}")
    line = out.getvalue()
    assert line.count("\n") == 1
    assert "new\\nline\\x1b[31m.mp4" in line and DB_PASSWORD not in line


def test_a_long_traceback_is_cut_to_fit_syslog_and_still_parses(secrets_env: None) -> None:
    logger, out = _capture(logs.json_formatter(logs.SYSLOG_MAX_BYTES))
    try:
        raise ValueError("x" * 50_000)
    except ValueError:
        logger.exception("boom %s", "y" * 20_000)
    raw = out.getvalue().splitlines()[0]
    assert len(raw.encode()) <= logs.SYSLOG_MAX_BYTES
    line = json.loads(raw)
    assert line["truncated"] is True and str(line["exc_info"]).startswith("...")
    assert str(line["message"]).startswith("boom yyy")


def test_the_masks_run_in_linear_time_engines() -> None:
    # RE2 refuses patterns that could backtrack; a hostile name just passes through
    hostile = "a=" * 5000 + "password" + "=" * 5000 + "://" + ":" * 5000
    assert mask(hostile).startswith("a=a=")


# ---------------------------------------------------------------- syslog


def test_syslog_over_a_unix_socket_and_a_down_tcp_server(tmp_path: Path, secrets_env: None) -> None:
    path = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(10)
        handler = logs.SyslogHandler(path)
        handler.setFormatter(logs.json_formatter(logs.SYSLOG_MAX_BYTES))
        logger = logging.getLogger("dashcam.test.syslog")
        logger.handlers[:] = [handler]
        logger.propagate = False
        with logs.working_on(7):
            logger.warning("to syslog with %s", SECRET_KEY)
        datagram = server.recv(65536).decode()
        handler.close()
    assert datagram.startswith("<12>dashcam: {")  # user.warning, then the tag rsyslog files it under
    line = json.loads(datagram.split("dashcam: ", 1)[1])
    assert line["clip_id"] == 7 and line["message"] == "to syslog with ***"

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = logs.SyslogHandler(f"tcp://127.0.0.1:{port}")
    logger.handlers[:] = [handler]
    logger.warning("lost")  # never raises: the line is dropped, one note on stderr
    logger.warning("lost again")
    handler.close()


def test_a_bad_logging_section_is_named(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"logging": {"format": "xml", "syslog": "http://server:514"}})
    )
    with pytest.raises(ConfigError) as err:
        validate_dir(tmp_path)
    text = "\n".join(err.value.problems)
    assert "config.json: logging.format: must be one of" in text
    assert "config.json: logging.syslog: 'http://server:514' is not a unix socket path" in text


# ---------------------------------------------------------------- the commands, as typed


def _config(tmp_path: Path, section: dict[str, object]) -> Path:
    cfg = tmp_path / "etc"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps({"logging": section}))
    return cfg


def test_a_command_in_json_mode_writes_json_lines_only(tmp_path: Path) -> None:
    cfg = _config(tmp_path, {"format": "json"})
    (cfg / "devices").mkdir()
    (cfg / "devices" / "jetson-coral-1.json").write_text(json.dumps({"device_type": "jetson_coral"}))
    env = user_env(
        tmp_path / "home",
        DASHCAM_CONFIG_DIR=str(cfg),
        DASHCAM_DATA_DIR=str(tmp_path / "data"),
        DASHCAM_DEVICE="jetson-coral-1",
        DASHCAM_API_KEY=API_KEY,
    )
    proc = subprocess.run(
        [dashcam_command(), "heartbeat", "--server", f"http://admin:{DB_PASSWORD}@127.0.0.1:9"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    lines = [json.loads(line) for line in proc.stderr.splitlines()]
    assert lines and all(line["device"] == "jetson-coral-1" for line in lines)
    last = lines[-1]
    assert last["level"] == "ERROR" and last["logger"] == "dashcam.cli"
    assert "cannot reach http://admin:***@127.0.0.1:9" in str(last["message"])
    assert DB_PASSWORD not in proc.stderr and API_KEY not in proc.stderr


def test_text_mode_stays_as_it_was(tmp_path: Path) -> None:
    env = user_env(tmp_path / "home", DASHCAM_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.run(
        [dashcam_command(), "heartbeat", "--server", "http://127.0.0.1:9"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: no API key")


def test_what_a_command_says_on_stderr_is_a_json_line_too(tmp_path: Path) -> None:
    cfg = _config(tmp_path, {"format": "json"})
    raw = json.loads((cfg / "config.json").read_text())
    (cfg / "config.json").write_text(json.dumps({**raw, "no_such_section": 1}))
    env = user_env(tmp_path / "home", DASHCAM_CONFIG_DIR=str(cfg), DASHCAM_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.run(
        [dashcam_command(), "config", "validate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1 and proc.stdout == ""
    lines = [json.loads(line) for line in proc.stderr.splitlines()]  # a plain line fails here
    problems = [x for x in lines if x["logger"] == "dashcam.cli" and x["level"] == "ERROR"]
    assert any("no_such_section" in str(x["message"]) for x in problems), lines
    assert any(str(x["message"]).startswith("1 problem(s) in ") for x in problems), lines


def test_an_apprise_url_is_masked_whole_and_in_pieces() -> None:
    from dashcam.secretmask import add_url_secret

    add_url_secret("ntfys://ntfy.sh/dashcam-topic-5b1f9")
    add_url_secret("tgram://123456789:AAbbCCddEEffGG/987654321")
    add_url_secret("json://127.0.0.1:8123/api/webhook/hook-7c3e9a2d?token=tk-4f8a2b6c")
    line = mask(
        "ntfys://ntfy.sh/dashcam-topic-5b1f9 topic dashcam-topic-5b1f9, bot 123456789:AAbbCCddEEffGG, "
        "hook-7c3e9a2d tk-4f8a2b6c at 127.0.0.1:8123"
    )
    assert line == "*** topic ***, bot ***, *** *** at 127.0.0.1:8123"  # an address is no secret
