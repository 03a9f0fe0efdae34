"""A bounded load test of the page: N concurrent clients for T seconds against a running server, then a table.

Usage::

    python -m recbole_outfit.serve --checkpoint PATH --port 8765 &
    python -m recbole_outfit.benchmarks.load --url http://127.0.0.1:8765 --clients 50 --seconds 20 \\
        [--kinds user,image,api] [--json results/load.json]

Each client loops until the T seconds are over: it picks a request kind in turn (``user``: a user's page,
``image``: a garment PNG, ``api``: a user's ranked outfits as JSON, ``home``: the home page), a user and a
garment at random (seeded), and waits for the answer. Requests still running at the end get ``--timeout``
seconds more and count as errors if they do not finish, so the test always stops. Reported per kind:
requests, requests / s, p50 / p95 / p99 latency in ms, and errors (a status other than 200, or no answer).
The users and garments are read from the server itself (the home page and one user page).
"""

import argparse
import asyncio
import json
import random
import re
import sys
import time
from urllib.parse import unquote

import numpy as np

from recbole_outfit.errors import ConfigError, exits_2_on_user_error
from recbole_outfit.report import format_table, write_json_atomic

KINDS = ("user", "image", "api", "home")


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m recbole_outfit.benchmarks.load",
                                     description="Concurrent clients against a running recbole-outfit page.")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server (default http://127.0.0.1:8000)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long new requests are sent (default 20)")
    parser.add_argument("--kinds", default="user,image,api", help=f"request kinds, in turn ({', '.join(KINDS)})")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one request may take (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", dest="json_path", help="also write the figures here")
    return parser


def percentile(values, q):
    return float(np.percentile(values, q)) if values else float("nan")


async def discover(client):
    """(users, garments) linked from the home page and the first user's page."""
    home = await client.get("/")
    users = [unquote(u) for u in re.findall(r'href="/users/([^"?#]+)"', home.text)]
    if home.status_code != 200 or not users:
        raise ConfigError(f"{client.base_url} answered / with {home.status_code} and no user links", where="--url",
                          fix="start the page first: python -m recbole_outfit.serve --checkpoint PATH --port P")
    page = await client.get(f"/users/{users[0]}")
    garments = sorted({unquote(g) for g in re.findall(r'src="/images/([^"]+)\.png"', page.text)})
    return users, garments or [None]


async def measure(url, clients, seconds, kinds, timeout, seed):
    import httpx

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        users, garments = await discover(client)
        paths = {
            "user": lambda rng: f"/users/{rng.choice(users)}",
            "image": lambda rng: f"/images/{rng.choice(garments)}.png",
            "api": lambda rng: f"/api/users/{rng.choice(users)}/ranked",
            "home": lambda rng: "/",
        }
        results = {kind: {"ms": [], "errors": 0} for kind in kinds}
        stop_at = time.monotonic() + seconds

        async def one_client(number):
            rng = random.Random(seed * 100_003 + number)
            turn = number
            while time.monotonic() < stop_at:
                kind = kinds[turn % len(kinds)]
                turn += 1
                started = time.monotonic()
                try:
                    response = await client.get(paths[kind](rng))
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    results[kind]["ms"].append(1000 * (time.monotonic() - started))
                else:
                    results[kind]["errors"] += 1

        started = time.monotonic()
        tasks = [asyncio.create_task(one_client(i)) for i in range(clients)]
        done, pending = await asyncio.wait(tasks, timeout=seconds + timeout + 5)
        for task in pending:  # still waiting past every request's timeout: stop them, count them
            task.cancel()
        wall = time.monotonic() - started
    rows = {}
    for kind, result in results.items():
        ms = result["ms"]
        rows[kind] = {"requests": len(ms), "per_second": round(len(ms) / wall, 2),
                      "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
                      "p99_ms": round(percentile(ms, 99), 1), "errors": result["errors"] + len(pending)}
    return {"url": url, "clients": clients, "seconds": seconds, "wall_seconds": round(wall, 1), "kinds": rows,
            "users": len(users), "garments": len(garments)}


def table(report):
    return format_table(["request", "requests", "requests/s", "p50 ms", "p95 ms", "p99 ms", "errors"],
                        [[kind, r["requests"], r["per_second"], r["p50_ms"], r["p95_ms"], r["p99_ms"], r["errors"]]
                         for kind, r in report["kinds"].items()])


@exits_2_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        raise ConfigError(f"unknown request kind {unknown[0] if unknown else '(none)'!r}", where="--kinds",
                          fix=f"use some of {', '.join(KINDS)}")
    if args.clients < 1 or args.seconds <= 0 or args.timeout <= 0:
        raise ConfigError("--clients, --seconds and --timeout must be positive", where="--clients")
    print(f"{args.clients} clients for {args.seconds:g}s against {args.url} ({', '.join(kinds)}) ...", flush=True)
    report = asyncio.run(measure(args.url, args.clients, args.seconds, kinds, args.timeout, args.seed))
    print(f"{report['clients']} clients, {report['wall_seconds']}s, {report['users']} users, "
          f"{report['garments']} garments\n{table(report)}")
    if args.json_path:
        write_json_atomic(args.json_path, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
