"""Which log lines go to the Prefect API: the filter of the ``api`` handler in infra/logging/prefect-logging.yml."""

from __future__ import annotations

import logging
import os


class InRun(logging.Filter):
    """Lines that belong to a flow run: records that name it (Prefect's run loggers), lines logged inside a
    run's context, and in a flow-run process (the worker set PREFECT__FLOW_RUN_ID) the lines of threads that
    have no context (a lease renewer), which get that run's id. Any other line stays off the API: Prefect
    would warn about each one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "flow_run_id", None):
            return True
        from prefect.context import FlowRunContext, TaskRunContext

        if FlowRunContext.get() is not None or TaskRunContext.get() is not None:
            return True
        run = os.environ.get("PREFECT__FLOW_RUN_ID")
        if run:
            record.flow_run_id = run
            return True
        return False
