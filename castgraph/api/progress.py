"""Progress bars for long CLI work (rich, on stderr): one for the run, one for the episode."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from castgraph.core.models import Episode, EpisodeState


class RichObserver:
    """Draws an overall bar (episodes) and a bar for the current episode's stage."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._overall: TaskID | None = None
        self._current: TaskID | None = None

    def __enter__(self) -> RichObserver:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def episode_started(self, episode: Episode, index: int, total: int) -> None:
        if self._overall is None:
            self._overall = self._progress.add_task("episodes", total=total)
        if self._current is not None:
            self._progress.remove_task(self._current)
        self._current = self._progress.add_task(_label(episode, "queued"), total=None)

    def stage(self, episode: Episode, state: EpisodeState) -> None:
        if self._current is not None:
            self._progress.reset(
                self._current, total=None, description=_label(episode, state.value)
            )

    def progress(self, episode: Episode, done: float, total: float) -> None:
        if self._current is not None and total > 0:
            self._progress.update(self._current, completed=int(done), total=int(total))

    def episode_finished(self, episode: Episode) -> None:
        if self._current is not None:
            self._progress.update(self._current, description=_label(episode, episode.state.value))
        if self._overall is not None:
            self._progress.advance(self._overall)


def _label(episode: Episode, stage: str) -> str:
    title = episode.title if len(episode.title) <= 40 else episode.title[:39] + "…"
    return f"{title} [dim]{stage}[/dim]"
