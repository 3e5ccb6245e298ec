"""The Celery application: broker settings, the routes of the three queues, and the tasks.

Tasks are acknowledged when they end (``acks_late``), one at a time per process (prefetch 1),
and handed to another worker when theirs dies (``reject_on_worker_lost``; a whole machine lost
is redelivered after the broker's visibility timeout, which must outlast the longest step).
Worker processes are replaced after ``CASTGRAPH_WORKER_MAX_TASKS`` tasks, so a model or a leak
never grows without bound. Each process builds its catalog and pipeline on its first task, after
the fork, never in the parent.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from castgraph.api.queue import episodes, steps
from castgraph.core.errors import DependencyError, InputError, StorageError
from castgraph.core.settings import Settings

if TYPE_CHECKING:
    from celery import Celery, Task

log = logging.getLogger(__name__)

QUEUES = ("download", "asr", "index")
STORAGE_RETRY_SECONDS = 10.0
"""Wait before a step that met a catalog error runs again."""
ROUTES = {
    steps.TICK: "download",
    steps.JOB: "download",
    steps.DOWNLOAD: "download",
    steps.ASR: "asr",
    steps.INDEX: "index",
    steps.REPROCESS: "asr",
}


def celery_module() -> Any:
    try:
        import celery
    except ImportError as exc:  # an optional extra
        raise DependencyError("celery", "queue") from exc
    return celery


def make_app(settings: Settings) -> Celery:
    """The Celery app of ``settings.queue_url`` with castgraph's tasks registered."""
    if not settings.queue_url:
        raise InputError("set CASTGRAPH_QUEUE_URL (e.g. redis://127.0.0.1:6379/0) first")
    app = celery_module().Celery("castgraph", broker=settings.queue_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=settings.worker_max_tasks,
        broker_transport_options={"visibility_timeout": int(settings.queue_visibility_timeout)},
        broker_connection_retry_on_startup=True,
        task_routes={name: {"queue": queue} for name, queue in ROUTES.items()},
        task_default_queue="download",
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        beat_schedule={"tick": {"task": steps.TICK, "schedule": settings.tick_seconds}},
    )
    _register(app, settings)
    return app


def _register(app: Celery, settings: Settings) -> None:
    holder = _Contexts(settings, app)
    task: Callable[..., Callable[[Callable[..., None]], Any]] = app.task

    def retrying(task: Task, work: Any, *args: Any) -> None:
        try:
            work(holder.get(), *args)
        except steps.RetryLater as later:
            log.info("step retried later", extra={"task": task.name, "reason": str(later)})
            raise task.retry(countdown=later.seconds, max_retries=None) from later
        except StorageError as exc:  # the catalog briefly unreachable: never drop the step
            log.warning("catalog error, step retried", extra={"task": task.name, "error": exc})
            raise task.retry(countdown=STORAGE_RETRY_SECONDS, max_retries=None) from exc

    @task(name=steps.TICK, bind=True, acks_late=False)
    def tick(self: Task) -> None:
        steps.tick(holder.get())

    @task(name=steps.JOB, bind=True)
    def job(self: Task, job_id: int) -> None:
        retrying(self, steps.run_job, job_id)

    @task(name=steps.DOWNLOAD, bind=True)
    def download(self: Task, job_id: int, episode_id: str, item: dict[str, Any], src: str) -> None:
        retrying(self, episodes.download, job_id, episode_id, item, src)

    @task(name=steps.ASR, bind=True)
    def asr(self: Task, job_id: int, episode_id: str, fetched: dict[str, Any]) -> None:
        retrying(self, episodes.asr, job_id, episode_id, fetched)

    @task(name=steps.REPROCESS, bind=True)
    def reprocess(self: Task, job_id: int, episode_id: str, item: dict[str, Any], src: str) -> None:
        retrying(self, episodes.reprocess, job_id, episode_id, item, src)

    @task(name=steps.INDEX, bind=True)
    def index(self: Task, job_id: int, episode_id: str) -> None:
        retrying(self, episodes.index, job_id, episode_id)


class _Contexts:
    """One ``StepContext`` per process, built on its first task (after the fork)."""

    def __init__(self, settings: Settings, app: Celery) -> None:
        self._settings, self._app = settings, app
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._ctx: steps.StepContext | None = None

    def get(self) -> steps.StepContext:
        with self._lock:
            if self._ctx is None or self._pid != os.getpid():
                self._ctx = self._build()
                self._pid = os.getpid()
            return self._ctx

    def _build(self) -> steps.StepContext:
        from castgraph.api import _indexes, wiring
        from castgraph.ingest.pipeline import IngestPipeline

        settings = self._settings
        catalog = wiring.catalog(settings)
        closers: list[Any] = []

        def make_pipeline(observer: Any) -> IngestPipeline:
            indexer = _indexes.shared_indexer(settings, closers)
            stages = wiring.stages(settings, indexer)
            return IngestPipeline(catalog, stages, settings.media_dir, observer)

        def send(name: str, args: list[Any]) -> None:
            self._app.send_task(name, args=args)

        worker = f"{socket.gethostname()}:{os.getpid()}"
        return steps.StepContext(settings, catalog, make_pipeline, send, worker)
