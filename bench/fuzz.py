"""Fuzzing benchmark: the whole OpenAPI schema against a real ``castgraph serve``, at length.

The same harness as ``tests/integration/test_fuzz_api.py`` (``tests/fuzzing.py``: schemathesis,
positive and negative data, checks for 5xx, status codes, content types, headers, bodies against
the schema, negative data refused, every error a JSON body with a message), with many more
examples, in three configurations: a public server; a keyed server with private reads, fuzzed
with the key; the same without it. Prints, per configuration, operations, examples, statuses and
failures by check (one example of each). Exits 1 when anything failed.

    python bench/fuzz.py [--examples 200] [--seed N | --random] [--only public|keyed|nokey]

Ingest and subscriptions are fuzzed with sources that the server refuses (see tests/fuzzing.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from tests import fuzzing  # noqa: E402

CONFIGS = {
    "public": (None, None),
    "keyed": (fuzzing.KEY, fuzzing.KEY),
    "nokey": (fuzzing.KEY, None),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200, help="Examples per operation.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random", action="store_true", help="New examples on every run.")
    parser.add_argument("--only", choices=sorted(CONFIGS), action="append")
    args = parser.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="castgraph-fuzz-") as tmp:
        data = Path(tmp) / "data"
        fuzzing.load_data_dir(data)
        for name in args.only or list(CONFIGS):
            server_key, sent = CONFIGS[name]
            with fuzzing.served(data, Path(tmp) / f"{name}.log", key=server_key) as base:
                report = fuzzing.fuzz(
                    base,
                    key=sent,
                    max_examples=args.examples,
                    seed=None if args.random else args.seed,
                )
            print(
                f"## {name} (server key: {'yes' if server_key else 'no'}, sent: "
                f"{'yes' if sent else 'no'})"
            )
            print("\n".join(report.lines()), flush=True)
            failed += sum(report.failures.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
