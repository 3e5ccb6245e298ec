"""The tables ``bench/search_latency.py`` prints: figures per size and the issue's targets."""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _latency_chat import ChatStats
from _latency_load import Measured

TARGET_SIZE = 100_000
MAX_SINGLE_RATIO = 1.5  # single-client fused p50 / plain p50
MAX_P95_RATIO = 2.0  # 20-client fused p95 / plain p95
MIN_RPS_RATIO = 0.5  # 20-client fused throughput / plain throughput
MAX_RSS_MB = 2048.0  # the server's peak RSS
MAX_FIRST_TOKEN_MS = 300.0  # chat time to first token p50, one client, extractive answerer


@dataclass(frozen=True)
class SizeResult:
    size: int
    marker: dict[str, Any]
    fused: Measured
    plain: Measured
    chat: ChatStats | None
    fused_local: Measured | None
    plain_local: Measured | None
    stages: dict[str, list[float]]


def _row(label: str, m: Measured) -> str:
    return (
        f"  {label:30} {m.p50:8.1f} {m.p95:8.1f} {m.p99:8.1f} {m.rps:8.1f} {m.single_p50:9.1f} "
        f"{m.rss_mb:8.0f} {m.anon_mb:7.0f} {m.requests:5d} {m.errors:6d} {m.refused:7d}"
    )


def _ratio(label: str, a: Measured, b: Measured) -> str:
    cells = [a.p50 / b.p50, a.p95 / b.p95, a.p99 / b.p99, a.rps / b.rps]
    cells.append(a.single_p50 / b.single_p50)
    cells += [a.rss_mb / b.rss_mb, a.anon_mb / b.anon_mb]
    widths = (8, 8, 8, 8, 9, 8, 7)
    text = " ".join(f"{c:{w - 1}.2f}x" for c, w in zip(cells, widths, strict=True))
    return f"  {label:30} {text}"


def report_size(r: SizeResult, args: argparse.Namespace) -> None:
    build = r.marker["build_s"]
    print(
        f"\n== {r.marker['chunks']} chunks ({r.marker['episodes']} episodes); built in "
        f"{build['total']:.0f} s (extraction {build['extract']:.0f} s, catalog "
        f"{build['catalog']:.0f} s, indexes {build['index']:.0f} s); {args.clients} clients "
        f"(think {args.think_ms:.0f} ms), {args.requests} requests or {args.max_seconds:.0f} s "
        f"per run, median of {args.runs} runs"
    )
    print(
        f"  {'':30} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} {'1-client':>9} "
        f"{'HWM MiB':>8} {'anon':>7} {'n':>5} {'errors':>6} {'refused':>7}"
    )
    print(_row("/api/search (fused, HTTP)", r.fused))
    print(_row("plain Chroma (HTTP)", r.plain))
    print(_ratio("fused / plain", r.fused, r.plain))
    if r.fused_local is not None and r.plain_local is not None:
        print(_row("fused, in-process", r.fused_local))
        print(_row("plain Chroma, in-process", r.plain_local))
        print(_ratio("fused / plain, in-process", r.fused_local, r.plain_local))
    print(
        "  (1-client: p50 with one client; HWM: the server's peak RSS, VmHWM, plus each worker "
        "process's; anon: their RssAnon after the runs; n: successful requests per run; "
        "in-process rows: no HTTP)"
    )
    if r.chat is not None:
        c = r.chat
        print(
            f"  chat (one client, extractive): first token p50 {c.first(50):.1f} ms, p95 "
            f"{c.first(95):.1f} ms; whole answer p50 {c.done(50):.1f} ms; {c.asked} asked, "
            f"{c.no_text} without text, {c.errors} errors, {c.refused} refused"
        )
    report_stages(r.stages)


def report_stages(stages: dict[str, list[float]]) -> None:
    if not stages or not stages.get("SearchService.search (all)"):
        return
    total = statistics.mean(stages["SearchService.search (all)"])
    print(f"  one query at a time, in-process ({len(next(iter(stages.values())))} queries):")
    print(f"    {'stage':32} {'p50 ms':>8} {'mean ms':>8} {'max ms':>8} {'% of search':>11}")
    for label, values in stages.items():
        mean = statistics.fmean(values)
        print(
            f"    {label:32} {statistics.median(values):8.2f} {mean:8.2f} {max(values):8.2f} "
            f"{100 * mean / total:10.0f}%"
        )


def _met(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "NO")


def _cell(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def target_rows(r: SizeResult, clients: int) -> list[tuple[str, Any, Any, str, bool | None]]:
    """(metric, fused, plain, target, met) for each of the issue's targets."""
    f, p, chat = r.fused, r.plain, r.chat

    def ratio(a: float, b: float, check: Callable[[float], bool]) -> bool:
        return not math.isnan(a / b) and check(a / b)

    errors = f.errors + (chat.errors if chat else 0)
    rows: list[tuple[str, Any, Any, str, bool | None]] = [
        (
            "1-client p50 (ms)",
            f.single_p50,
            p.single_p50,
            f"<= {MAX_SINGLE_RATIO}x plain",
            ratio(f.single_p50, p.single_p50, lambda x: x <= MAX_SINGLE_RATIO),
        ),
        (
            "1-client p50, second pass (ms)",
            f.single_again_p50,
            p.single_again_p50,
            f"<= {MAX_SINGLE_RATIO}x plain",
            ratio(f.single_again_p50, p.single_again_p50, lambda x: x <= MAX_SINGLE_RATIO),
        ),
        (f"{clients}-client p50 (ms)", f.p50, p.p50, "(reported)", None),
        (
            f"{clients}-client p95 (ms)",
            f.p95,
            p.p95,
            f"<= {MAX_P95_RATIO}x plain",
            ratio(f.p95, p.p95, lambda x: x <= MAX_P95_RATIO),
        ),
        (
            f"{clients}-client throughput (req/s)",
            f.rps,
            p.rps,
            f">= {MIN_RPS_RATIO}x plain",
            ratio(f.rps, p.rps, lambda x: x >= MIN_RPS_RATIO),
        ),
        (
            "server peak RSS (MiB)",
            f.rss_mb,
            p.rss_mb,
            f"<= {MAX_RSS_MB:.0f}",
            f.rss_mb <= MAX_RSS_MB,
        ),
        ("errors (non-2xx, exceptions)", errors, p.errors, "0", errors == 0),
        ("refused (503)", f.refused + (chat.refused if chat else 0), p.refused, "(reported)", None),
    ]
    if chat is not None:
        first = chat.first(50)
        ok = not math.isnan(first) and first <= MAX_FIRST_TOKEN_MS
        rows.append(("chat first token p50 (ms)", first, None, f"<= {MAX_FIRST_TOKEN_MS:.0f}", ok))
        rows.append(("chat first token p95 (ms)", chat.first(95), None, "(reported)", None))
    return rows


def report_targets(r: SizeResult, args: argparse.Namespace) -> None:
    """The issue's targets at this size: fused against plain Chroma, measured in this run."""
    note = "" if r.size == TARGET_SIZE else f"; the targets are for {TARGET_SIZE} chunks"
    print(f"\n  targets at {r.size} chunks ({args.clients} clients{note}):")
    print(f"    {'metric':30} {'fused':>9} {'plain':>9} {'ratio':>7}  {'target':16} met")
    for metric, fused, plain, target, met in target_rows(r, args.clients):
        both = isinstance(fused, float) and isinstance(plain, float) and plain
        ratio = f"{fused / plain:6.2f}x" if both else "-"
        print(
            f"    {metric:30} {_cell(fused):>9} {_cell(plain):>9} {ratio:>7}  {target:16} "
            f"{_met(met)}"
        )
