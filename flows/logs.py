"""Which log lines go to the Prefect API: the filter of the ``api`` handler in infra/logging/prefect-logging.yml."""

from __future__ import annotations

import logging
import os


class InRun(logging.Filter):
    """Lines that belong to a flow run: records that name it (Prefect's run loggers), lines logged inside a
    run's context, and in a flow-run process (the worker set PREFECT__FLOW_RUN_ID) the lines of threads that
    have no context (a lease renewer). Each gets the run's id as ``flow_run_id``. Any other line stays off
    the API: Prefect would warn about each one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "flow_run_id", None):
            return True
        from prefect.context import FlowRunContext, TaskRunContext

        # the id goes on the record: the JSON line written after this (root's handlers) shows it too
        flow, task = FlowRunContext.get(), TaskRunContext.get()
        if flow is not None and flow.flow_run is not None:
            record.flow_run_id = str(flow.flow_run.id)
        elif task is not None and task.task_run.flow_run_id is not None:
            record.flow_run_id = str(task.task_run.flow_run_id)
        elif os.environ.get("PREFECT__FLOW_RUN_ID"):
            record.flow_run_id = os.environ["PREFECT__FLOW_RUN_ID"]
        else:
            return False
        return True
