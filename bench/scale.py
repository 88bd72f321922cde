"""Cost with history: p50 per path as the bookings table grows from 10k to 1M rows.

    .venv/bin/python bench/scale.py                                   # SQLite and PostgreSQL
    .venv/bin/python bench/scale.py --databases sqlite --sizes 10000,100000
    .venv/bin/python bench/scale.py --root /tmp/fabbooking-baseline

For each database and size, a fresh database is migrated by the checkout named by ``--root``
and filled: 22 sites open Monday to Saturday 10:00-19:00, 100 machines, 2,000 makers holding
every training, and SIZE bookings back to 1 January 2013 in distinct 2-hour slots between
10:00 and 18:00 (so none overlaps; bulk SQL through the overlap triggers and the exclusion
constraint): 8 % cancelled, 6 % no-shows, the rest confirmed, the last four weeks upcoming.
One maker holds 1,500 of them. The last 13 months' confirmed bookings have a usage session
(plus a walk-in for one in ten).

The paths are then measured in-process, with the checkout's code (a subprocess with its
PYTHONPATH): ``create_app(run_usage=False)`` behind httpx's ASGI transport, one request at a
time, two warm-up requests then ``--requests`` timed ones; p50 and p90 of each. HTTP parsing is
left out (bench/http.py measures it); what grows with history is the database work. POST
bookings go to distinct free 15-minute slots at 18:00-19:00, which the fill leaves free.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py would shadow the standard library's http: this folder goes last on the path.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH] + [str(_BENCH)]

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from datetime import datetime  # noqa: E402

import _server  # noqa: E402

WORKER = Path(__file__).resolve().parent / "_scale_worker.py"
GOAL_RATIO = 1.5


def run_size(args: argparse.Namespace, kind: str, size: int) -> dict:
    workdir = _server.scratch_dir("fabbooking-scale-")
    try:
        with _server.database(kind, workdir, "fabbooking_bench_scale") as url:
            env = _server.checkout_env(args.root, workdir, url,
                                       **({"FABBOOKING_PAGE_CACHE": "off"} if args.no_page_cache else {}))
            began = time.monotonic()
            _server.run_python(args.root, env, "-m", "fabbooking", "migrate")
            filled = json.loads(_server.run_python(args.root, env, str(WORKER), "fill", str(size),
                                                   str(args.seed)).splitlines()[-1])
            print(f"  {kind} {size:>9,}: filled {filled['bookings']:,} bookings "
                  f"({', '.join(f'{k} {v:,}' for k, v in sorted(filled['statuses'].items()))}) and "
                  f"{filled['sessions']:,} usage sessions in {time.monotonic() - began:.0f} s", flush=True)
            measured = json.loads(_server.run_python(args.root, env, str(WORKER), "measure",
                                                     str(args.requests)).splitlines()[-1])
            for name, figures in measured["paths"].items():
                print(f"    {name:<40} p50 {figures['p50']:8.1f} ms   p90 {figures['p90']:8.1f} ms", flush=True)
            upcoming = measured["heavy_upcoming"]
            print(f"    the 1,500-booking maker's upcoming bookings in mine=true: "
                  f"{upcoming['shown']} of {upcoming['held']}", flush=True)
            return measured
    finally:
        _server.remove(workdir)


def report(kind: str, sizes: list[int], results: dict[int, dict]) -> None:
    names = list(results[sizes[0]]["paths"])
    first, last = sizes[0], sizes[-1]
    print(f"\n{kind}: p50 (p90) in ms, in-process\n")
    print("| path | " + " | ".join(f"{size:,}" for size in sizes) + f" | {last:,}/{first:,} | goal ≤ {GOAL_RATIO:g}× |")
    print("| --- | " + " | ".join("---:" for _ in sizes) + " | ---: | --- |")
    for name in names:
        cells = [f"{results[s]['paths'][name]['p50']:.1f} ({results[s]['paths'][name]['p90']:.0f})" for s in sizes]
        ratio = results[last]["paths"][name]["p50"] / results[first]["paths"][name]["p50"]
        print(f"| {name} | " + " | ".join(cells) + f" | {ratio:.2f}× | {'PASS' if ratio <= GOAL_RATIO else 'MISS'} |")
    shown = ", ".join(f"{results[s]['heavy_upcoming']['shown']}/{results[s]['heavy_upcoming']['held']}" for s in sizes)
    print(f"\nupcoming bookings of the 1,500-booking maker listed by mine=true (shown/held per size): {shown}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=_server.DEFAULT_ROOT,
                        help="the checkout whose code is measured (default: this one)")
    parser.add_argument("--databases", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres (default both)")
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="comma-separated numbers of bookings (default 10000,100000,1000000)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per path (default 20)")
    parser.add_argument("--seed", type=int, default=9, help="random seed of the fill (default 9)")
    parser.add_argument("--no-page-cache", action="store_true",
                        help="FABBOOKING_PAGE_CACHE=off: every read renders (with the cache, the timed "
                        "requests of a read path are kept pages)")
    args = parser.parse_args()
    args.root = args.root.resolve()
    kinds = [kind.strip() for kind in args.databases.split(",") if kind.strip()]
    sizes = sorted(int(size) for size in args.sizes.split(","))
    if "postgres" in kinds and not _server.postgres_reachable():
        print(f"PostgreSQL is not reachable at {_server.POSTGRES_ADMIN_URL}", file=sys.stderr)
        return 2
    print(f"{_server.machine_description('postgres' in kinds)}\n"
          f"code: {args.root} at {_server.git_commit(args.root)}; {args.requests} requests per path"
          f"{'; page cache off' if args.no_page_cache else ''}", flush=True)
    tables = {kind: {size: run_size(args, kind, size) for size in sizes} for kind in kinds}
    print(f"\n{datetime.now():%Y-%m-%d %H:%M}")
    for kind, results in tables.items():
        report(kind, sizes, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
