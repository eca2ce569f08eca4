"""flows.logs.InRun: which lines the Prefect API handler of infra/logging/prefect-logging.yml sends, with which run."""

from __future__ import annotations

import logging

import pytest
from prefect import flow

from flows.logs import InRun


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("dashcam.stages", logging.INFO, __file__, 1, "clip 3: done", None, None)
    record.__dict__.update(extra)
    return record


def test_lines_outside_a_run_stay_off_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT__FLOW_RUN_ID", raising=False)
    assert InRun().filter(_record()) is False
    assert InRun().filter(_record(flow_run_id="given")) is True  # Prefect's run loggers name their run


def test_a_thread_of_a_flow_run_process_gets_the_run_of_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "0b5e2c52-6f0e-4a0e-9d43-3f7b8f2b7a11")
    record = _record()
    assert InRun().filter(record) is True
    assert record.flow_run_id == "0b5e2c52-6f0e-4a0e-9d43-3f7b8f2b7a11"


def test_a_line_inside_a_flow_gets_its_run(prefect_harness: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT__FLOW_RUN_ID", raising=False)
    seen: list[tuple[bool, str | None]] = []

    @flow
    def probe() -> str:
        from prefect.runtime import flow_run

        record = _record()
        seen.append((InRun().filter(record), getattr(record, "flow_run_id", None)))
        return str(flow_run.get_id())

    run_id = probe()
    assert seen == [(True, run_id)]
