"""``python -m bench`` (``make bench``): the dataset, the forum as in production, wrk, results.

1. Generate (or reuse, from ``bench/data/``) the dataset, and copy it for this run so that the
   posting benchmark never changes the cached one.
2. Start the ceiling app, then the forum (``forum run --workers N``), each in its own process
   group, on 127.0.0.1.
3. Drive each page with ``wrk`` (a separate process) for ``--duration`` seconds at
   ``--connections`` connections; peak RSS per worker from ``/proc/<pid>/status`` (VmHWM).
4. Count SQL statements per request in-process (``before_cursor_execute`` on the app's engine),
   for the same requests, against the same data.
5. With ``search`` among the pages: 200 searches drawn from the vocabulary, in process, one at a
   time, on the run's database (``bench/vocabulary.py``).
   Then the crisis screen's cost per post in process, on one core (``bench/crisis.py``).
6. Live streams (``bench/streams.py``, the ``streams`` stage): on a forum of its own (through
   Redis when it answers), ``--streams`` open ``/live`` streams per worker, each worker's RSS,
   how long a reply's event takes to reach every stream, and the visitor thread page with and
   without the streams. ``--pages streams`` runs this stage alone.
7. Print the table and write ``bench/results.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench import crisis as crisis_bench
from bench import vocabulary as vocabulary_bench
from bench.dataset import DATA_DIR, Dataset, prepare, sqlite_path

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "lua"
RESULTS = Path(__file__).resolve().parent / "results.json"
SEARCH_WORDS = ["angoisse", "sommeil", "groupe de parole", "rechute", "respiration", "proches",
                "marcher", "carnet", "association", "courage"]
PAGES = ("thread_visitor", "thread_member", "space", "home", "reply", "search", "streams")
"""Search last: slow searches still running would otherwise hold the workers for the next page.
``streams`` is a stage on a server of its own, after the others (``bench/streams.py``)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=None,
                        help="default: posts / 20 (10,000 for 200,000 posts)")
    parser.add_argument("--spaces", type=int, default=20)
    parser.add_argument("--database", default=None,
                        help="a PostgreSQL URL (postgresql+asyncpg://…); default: a SQLite file")
    parser.add_argument("--duration", type=int, default=30, help="seconds per page")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--pages", default=",".join(PAGES),
                        help="comma-separated subset of " + ", ".join(PAGES))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--streams", type=int, default=2000,
                        help="live streams per worker in the streams stage (0: skip it)")
    parser.add_argument("--streams-threads", type=int, default=4,
                        help="the threads the streams listen to (spread evenly)")
    parser.add_argument("--streams-redis", default="redis://127.0.0.1:6379/15",
                        help="Redis for the streams stage, so that events reach every worker "
                             "('' for none; a Redis that does not answer means none)")
    return parser.parse_args(argv)


# --- processes --------------------------------------------------------------------------------


def start(command: list[str], env: dict[str, str], log_name: str) -> subprocess.Popen[bytes]:
    log = open(DATA_DIR / log_name, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log,  # noqa: S603 - our argv
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_ready(url: str, process: subprocess.Popen[bytes], log_name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"bench: the server stopped; see {DATA_DIR / log_name}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - 127.0.0.1
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    sys.exit(f"bench: the server did not answer {url} within 60 s")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def peak_rss_mb(master: int) -> float:
    """The highest peak RSS (VmHWM) among the server's worker processes."""
    peaks = []
    for pid in children(master) or [master]:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        found = re.search(r"VmHWM:\s+(\d+) kB", status)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if found and b"resource_tracker" not in cmdline:
            peaks.append(int(found.group(1)) / 1024)
    return round(max(peaks), 1) if peaks else 0.0


# --- wrk --------------------------------------------------------------------------------------


def run_wrk(base: str, script: str, paths: list[str], args: argparse.Namespace,
            env_extra: dict[str, str], label: str) -> dict[str, Any]:
    paths_file = DATA_DIR / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    env = {**os.environ, "BENCH_PATHS": str(paths_file), **env_extra}
    command = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
               "--timeout", "10s", "-s", str(LUA / script), base]
    completed = subprocess.run(  # noqa: S603 - our argv
        command, env=env, capture_output=True, text=True, check=True)
    (DATA_DIR / f"wrk-{label}.txt").write_text(completed.stdout + completed.stderr)
    return parse_wrk(completed.stdout)


WARM_UP_REQUESTS = 12
"""Per path: each request reaches whichever worker accepts it, so with 3 a path stayed cold in
one of two workers a quarter of the time (2 × 2⁻³), and the few renders during the run made
the whole p99 (a render holds its worker's event loop for 10 to 80 ms). With 12: 0.05 %."""


def warm_up(base: str, paths: list[str], cookie: str = "") -> None:
    """Request each path until every worker has it (the page caches' steady state; with
    ``cookie``, the member's own copies). One request at a time: warming four paths at once
    left the next run's p99 at 0.3 to 1 s on visitor and member pages, against 20 and 52 ms
    one at a time (in a visitor run, the workers logged no render and no event-loop stall;
    cause not found)."""
    headers = {"Cookie": cookie} if cookie else {}
    for path in paths:
        for _ in range(WARM_UP_REQUESTS):
            request = urllib.request.Request(base + path, headers=headers)  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    response.read()
            except urllib.error.HTTPError:
                pass


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(output: str) -> dict[str, Any]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                        output)
    errors = int(bad.group(1)) if bad else 0
    if sockets:
        errors += sum(int(n) for n in sockets.groups())
    # Throughput counts only the expected answers: a page that fails fast must not look fast.
    answered = max(total - (int(bad.group(1)) if bad else 0), 0)
    ok_rps = rps * answered / total if total else 0.0
    return {"rps": round(ok_rps, 1), "p50_ms": round(p50, 2), "p99_ms": round(p99, 2),
            "requests": total, "errors": errors}


# --- the member's cookie and CSRF token -------------------------------------------------------


def member_credentials(base: str, dataset: Dataset) -> tuple[str, str]:
    """The member's Cookie header (session + CSRF cookie) and the CSRF form token, read from
    a page the caches never keep (a thread page would leave a copy that expires mid-run)."""
    request = urllib.request.Request(f"{base}/notifications",  # noqa: S310
                                     headers={"Cookie": f"entrepairs={dataset.session_token}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - 127.0.0.1
        cookies = response.headers.get_all("Set-Cookie") or []
        html = response.read().decode()
    token = re.search(r'name="_csrf_token" value="([^"]+)"', html).group(1)
    csrf_cookie = next(c.split(";")[0] for c in cookies if c.startswith("csrftoken="))
    return f"entrepairs={dataset.session_token}; {csrf_cookie}", token


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - 127.0.0.1
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


# --- the run ----------------------------------------------------------------------------------


def page_plan(dataset: Dataset, cookie: str, csrf: str) -> dict[str, tuple[str, list[str], dict]]:
    threads = [f"/t/{tid}" for tid in dataset.thread_ids]
    return {
        "thread_visitor": ("paths.lua", threads, {}),
        "thread_member": ("paths.lua", threads, {"BENCH_COOKIE": cookie}),
        "space": ("paths.lua", [f"/s/{slug}" for slug in dataset.space_slugs], {}),
        "home": ("paths.lua", ["/"], {}),
        "search": ("paths.lua", [f"/search?q={w.replace(' ', '+')}" for w in SEARCH_WORDS], {}),
        "reply": ("reply.lua", [f"{t}/reply" for t in threads[:50]],
                  {"BENCH_COOKIE": cookie, "BENCH_CSRF": csrf}),
    }


def run_database(args: argparse.Namespace, dataset: Dataset) -> str:
    """The URL the servers use: a copy of the cached SQLite file, or the PostgreSQL URL."""
    if args.database:
        return dataset.database_url
    source = sqlite_path(args.posts)
    target = DATA_DIR / "run.db"
    for suffix in ("", "-wal", "-shm", "-pagecache"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copyfile(source, target)
    # The copy leaves gigabytes of dirty pages at 1,000,000 posts: written back during the
    # first pages' runs, they showed as p99 spikes on pages that never touch the disk.
    began = time.monotonic()
    os.sync()
    print(f"Copied the dataset ({target.stat().st_size / 2**20:,.0f} MB; flushed to disk in "
          f"{time.monotonic() - began:.1f} s).", flush=True)
    return f"sqlite+aiosqlite:///{target}"


def server_env(database_url: str, port: int) -> dict[str, str]:
    """The forum's environment. ``FORUM_REDIS_URL`` (sessions and counters in Redis) is kept
    for PostgreSQL only: a SQLite run serves a copy of the dataset, whose member session is in
    its table (``bench.dataset._session_and_facts``)."""
    env = {
        **os.environ, "FORUM_ENV": "production", "FORUM_DATABASE_URL": database_url,
        "FORUM_SECRET_KEY": secrets.token_urlsafe(48), "FORUM_LOG_LEVEL": "WARNING",
        "FORUM_BASE_URL": f"http://127.0.0.1:{port}", "FORUM_RATE_LIMITS": "off",
    }
    if database_url.startswith("sqlite"):
        env.pop("FORUM_REDIS_URL", None)
    return env


def measure_ceiling(args: argparse.Namespace, page_bytes: bytes) -> dict[str, Any]:
    body_file = DATA_DIR / "ceiling.html"
    body_file.write_bytes(page_bytes)
    port = args.port + 1
    env = {**os.environ, "BENCH_CEILING_FILE": str(body_file)}
    command = [sys.executable, "-m", "uvicorn", "bench.ceiling:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
               "--no-access-log", "--no-server-header", "--log-level", "warning"]
    process = start(command, env, "ceiling.log")
    try:
        wait_ready(f"http://127.0.0.1:{port}/t/1", process, "ceiling.log")
        warm_up(f"http://127.0.0.1:{port}", ["/t/1"])
        result = run_wrk(f"http://127.0.0.1:{port}", "paths.lua", ["/t/1"], args, {}, "ceiling")
        result["rss_mb"] = peak_rss_mb(process.pid)
        return result
    finally:
        stop(process)


def measure_pages(args: argparse.Namespace, dataset: Dataset, database_url: str,
                  pages: list[str]) -> list[dict[str, Any]]:
    """The ceiling, then each page under wrk on the forum, then the queries per request."""
    base = f"http://127.0.0.1:{args.port}"
    env = server_env(database_url, args.port)
    server = start([sys.executable, "-m", "forum.cli", "run", "--port", str(args.port),
                    "--workers", str(args.workers)], env, "forum.log")
    results: list[dict[str, Any]] = []
    try:
        wait_ready(f"{base}/healthz", server, "forum.log")
        status, page_bytes = fetch(f"{base}/t/{dataset.thread_ids[0]}")
        if status != 200:
            sys.exit(f"bench: the thread page answered {status}")
        print(f"Thread page: {len(page_bytes) / 1024:.0f} KB. Measuring the ceiling…", flush=True)
        ceiling = measure_ceiling(args, page_bytes)
        print(f"ceiling: {ceiling['rps']:.0f} req/s, p99 {ceiling['p99_ms']} ms", flush=True)
        cookie, csrf = member_credentials(base, dataset)
        plan = page_plan(dataset, cookie, csrf)
        search_status, _ = fetch(f"{base}/search?q=sommeil")
        for name in pages:
            if name == "search" and search_status == 404:
                print("search: /search does not exist yet, not measurable", flush=True)
                results.append({"page": name, "rps": None, "p50_ms": None, "p99_ms": None,
                                "ceiling_fraction": None, "rss_mb": None, "queries": None,
                                "note": "GET /search answered 404: not built yet"})
                continue
            script, paths, extra = plan[name]
            began = time.monotonic()
            if name in ("thread_visitor", "space", "home"):
                warm_up(base, paths)  # the visitor page cache, as in steady state
            elif name == "thread_member":
                warm_up(base, paths, cookie)  # the member's own copies, as in steady state
            if name in ("thread_visitor", "space", "home", "thread_member"):
                print(f"{name}: warmed up in {time.monotonic() - began:.1f} s", flush=True)
            result = run_wrk(base, script, paths, args, extra, name)
            result["ceiling_fraction"] = round(result["rps"] / ceiling["rps"], 3)
            result["rss_mb"] = peak_rss_mb(server.pid)
            results.append({"page": name, **result})
            print(f"{name}: {result['rps']:.0f} req/s, p50 {result['p50_ms']} ms, "
                  f"p99 {result['p99_ms']} ms, {result['ceiling_fraction']:.0%} of the ceiling, "
                  f"errors {result['errors']}", flush=True)
    finally:
        stop(server)
    from bench.queries import count_queries

    counts = asyncio.run(count_queries(database_url, dataset))
    for row in results:
        if row["rps"] is not None:
            row["queries"] = counts.get(row["page"])
    results.append({"page": "ceiling", **ceiling, "ceiling_fraction": 1.0, "queries": 0})
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench: wrk is missing. Install it with: sudo apt-get install wrk")
        return 1
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    unknown = set(pages) - set(PAGES)
    if unknown:
        sys.exit(f"bench: unknown page(s): {', '.join(sorted(unknown))}")
    wrk_pages = [p for p in pages if p != "streams"]
    threads = args.threads or max(1, args.posts // 20)
    dataset = asyncio.run(prepare(posts=args.posts, threads=threads, spaces=args.spaces,
                                  database_url=args.database))
    database_url = run_database(args, dataset)
    results: list[dict[str, Any]] = []
    if wrk_pages:
        results += measure_pages(args, dataset, database_url, wrk_pages)
    streams = None
    if "streams" in pages and args.streams > 0:
        from bench import streams as streams_bench

        streams = streams_bench.measure(args, dataset, database_url)
        results.append(streams)
    words = None
    if "search" in pages:
        words = vocabulary_bench.measure(database_url)
        results.append({"page": "search_vocabulary", "rps": None, **words})
    screen = None
    if wrk_pages:  # the whole harness (not a run of the streams stage alone)
        screen = crisis_bench.measure()
        results.append({"page": "crisis_screen", "rps": None, **screen})
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    if wrk_pages:
        print_table(results)
    if streams is not None:
        print(streams_bench.report(streams))
    if words is not None:
        print(vocabulary_bench.report(words))
    if screen is not None:
        print(crisis_bench.report(screen))
    print(f"Written to {args.output}")
    return 0


def print_table(results: list[dict[str, Any]]) -> None:
    print(f"\n{'page':<16}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'ceiling':>9}{'RSS MB':>9}"
          f"{'queries':>9}")
    for row in results:
        if row["page"] in ("crisis_screen", "live_streams", "search_vocabulary"):
            continue  # printed on their own (bench/crisis.py, streams.py, vocabulary.py)
        if row["rps"] is None:
            print(f"{row['page']:<16}{'not measurable':>36}")
            continue
        print(f"{row['page']:<16}{row['rps']:>9.0f}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}"
              f"{row['ceiling_fraction']:>9.0%}{row['rss_mb']:>9.1f}{str(row['queries']):>9}")


if __name__ == "__main__":
    sys.exit(main())
