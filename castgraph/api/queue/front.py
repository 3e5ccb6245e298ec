"""What ``castgraph serve`` runs when the distributed queue does the work.

It sends new jobs to the workers at once (the beat's tick would find them too, a tick later),
and keeps this process's own index files (the keyword index always; vectors and the graph when
they are embedded rather than servers) up to date from the catalog: workers write the catalog
and the shared servers, never another machine's files. Each API replica syncs its own copy.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from castgraph.api.queue import steps
from castgraph.api.services import Services
from castgraph.core.errors import CastgraphError
from castgraph.core.jobs import JobState
from castgraph.core.settings import Settings

log = logging.getLogger(__name__)

SYNC_SECONDS = 2.0
"""How often the local indexes are compared with the catalog (one cheap query)."""


class SyncState:
    """Which catalog token of each episode this process's index files hold (a small SQLite)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS synced (episode_id TEXT PRIMARY KEY, token TEXT)"
        )

    def tokens(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT episode_id, token FROM synced").fetchall())

    def set(self, episode_id: str, token: str | None) -> None:
        if token is None:
            self._db.execute("DELETE FROM synced WHERE episode_id = ?", (episode_id,))
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO synced (episode_id, token) VALUES (?, ?)",
                (episode_id, token),
            )

    def close(self) -> None:
        self._db.close()


class IndexSync:
    """Brings the local indexes up to the catalog's indexed episodes; ``run_once`` is one pass."""

    def __init__(self, services: Services, state: SyncState) -> None:
        self._services, self._state = services, state

    def run_once(self) -> tuple[int, int]:
        """(episodes written, episodes removed) in this pass."""
        services, indexer = self._services, self._services.local_indexer
        if indexer is None:
            return 0, 0
        wanted, held = services.catalog.index_tokens(), self._state.tokens()
        written = removed = 0
        for episode_id, token in sorted(wanted.items()):
            if held.get(episode_id) == token:
                continue
            document = services.catalog.document(episode_id)
            if document is None:
                continue
            with services.write_lock:
                indexer.index(document)
            self._state.set(episode_id, token)
            written += 1
        for episode_id in sorted(held.keys() - wanted.keys()):
            with services.write_lock:
                indexer.delete(episode_id)
            self._state.set(episode_id, None)
            removed += 1
        if (written or removed) and services.visible is not None:
            services.visible.invalidate()
        if written or removed:
            log.info("local indexes synced", extra={"written": written, "removed": removed})
        return written, removed


class QueueFront:
    """Serve's side of the queue: ``wake()`` sends queued jobs; a thread syncs the indexes."""

    def __init__(self, settings: Settings, services: Services, app: Any | None = None) -> None:
        from castgraph.api.queue.app import make_app

        self._services = services
        self._app = app if app is not None else make_app(settings)
        self._state = SyncState(settings.data_dir / "index-sync.sqlite")
        self.sync = IndexSync(services, self._state)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="castgraph-sync", daemon=True)

    def start(self) -> QueueFront:
        self._thread.start()
        log.info("queue front started: jobs go to the workers")
        return self

    def wake(self) -> None:
        """Send every queued job to the workers now (a claimed job ignores a second send)."""
        try:
            for job in self._services.catalog.jobs.all(limit=500, state=JobState.QUEUED):
                self._app.send_task(steps.JOB, args=[job.id])
        except Exception:  # the broker may be down: the beat's tick sends them later
            log.exception("could not send queued jobs to the broker")

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout)
        self._state.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync.run_once()
            except CastgraphError:
                log.exception("index sync failed; trying again")
            except Exception:
                log.exception("index sync crashed; trying again")
            self._stop.wait(SYNC_SECONDS)
