"""The scheduler tick and the job worker inside ``castgraph serve`` (one thread each).

The tick sweeps jobs whose worker died back to the queue and claims due subscriptions (runs
become jobs); the worker then takes queued jobs one at a time. Nothing lives only in memory:
a restart finds everything in the catalog.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Protocol

from castgraph.api.jobrun import Clock, JobRunner, utcnow
from castgraph.api.services import Services
from castgraph.core.settings import Settings

log = logging.getLogger(__name__)


class Worker:
    """``start()`` sweeps and begins ticking; ``wake()`` makes it look for work now."""

    def __init__(
        self,
        settings: Settings,
        services: Services,
        *,
        clock: Clock = utcnow,
        runner: JobRunner | None = None,
    ) -> None:
        self._settings, self._services, self._clock = settings, services, clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = threading.Event()
        self._runner = runner or JobRunner(settings, services, threading.Event(), clock)
        self._stop = self._runner.stopping  # one event: stopping the worker stops its job
        self._threads: list[threading.Thread] = []
        self.current: int | None = None
        """The id of the job being run, if any."""

    def start(self) -> Worker:
        for name, target in (("worker", self._loop), ("heartbeat", self._beat)):
            thread = threading.Thread(target=target, name=f"castgraph-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("worker started", extra={"owner": self.owner})
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop at the next safe point; a job cut short goes back to the queue."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        if any(t.is_alive() for t in self._threads):
            log.warning("worker still busy at shutdown; its job is swept on the next start")

    def wake(self) -> None:
        self._wake.set()

    def tick(self) -> int:
        """Sweep dead workers' jobs and claim due subscriptions; returns the runs claimed."""
        catalog, now = self._services.catalog, self._clock()
        catalog.jobs.sweep(
            now,
            timeout=self._settings.job_timeout,
            dead=self._dead,
            max_attempts=self._settings.retry_attempts,
        )
        return len(catalog.subscriptions.claim_due(now))

    def drain(self) -> int:
        """Run queued jobs until none is left (or stopping); returns how many ran."""
        done = 0
        while not self._stop.is_set():
            job = self._services.catalog.jobs.take(self.owner, self._clock())
            if job is None:
                break
            self.current = job.id
            try:
                self._runner.run(job)
            finally:
                self.current = None
            done += 1
        return done

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.tick()
                self.drain()
            except Exception:  # the catalog may be briefly unavailable: try again next tick
                log.exception("worker tick failed")
            self._wake.wait(self._settings.tick_seconds)

    def _beat(self) -> None:
        interval = min(30.0, self._settings.job_timeout / 4)
        while not self._stop.wait(interval):
            job_id = self.current
            if job_id is None:
                continue
            try:
                self._services.catalog.jobs.heartbeat(job_id, self.owner, self._clock())
            except Exception:
                log.exception("heartbeat failed")

    def _dead(self, owner: str) -> bool:
        return owner_is_dead(owner, self.owner)


def owner_is_dead(owner: str, me: str, alive: Callable[[int], bool] | None = None) -> bool:
    """Whether the worker ``owner`` (``host:pid:token``) is known to be gone: a process of this
    host that no longer exists, or an earlier worker of this very process. Workers on other
    hosts are judged by their heartbeat alone."""
    host, _, rest = owner.partition(":")
    pid_text, _, token = rest.partition(":")
    my_host, my_pid, my_token = me.split(":")
    if host != my_host or not pid_text.isdigit():
        return False
    if pid_text == my_pid:
        return token != my_token
    return not (alive or _pid_alive)(int(pid_text))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Background(Protocol):
    """What serve runs beside the API: the in-process worker, or the queue's front."""

    def wake(self) -> None: ...

    def stop(self, timeout: float = 15.0) -> None: ...


def start_worker(settings: Settings, services: Services) -> Background | None:
    """The server's worker, started; None when CASTGRAPH_WORKER is off or the indexes are
    read-only (then this process is not the data directory's writer). With CASTGRAPH_QUEUE_URL
    the work goes to the queue's workers and this process only sends jobs and syncs its
    indexes."""
    if services.indexer is None:
        return None
    if settings.queue_url:
        from castgraph.api.queue.front import QueueFront

        return QueueFront(settings, services).start()
    if not settings.worker:
        return None
    return Worker(settings, services).start()
