"""Availability scenarios (issue 16): one attacker, or one failing part, against everyone.

- ``login-storm``: the real nginx with ``deploy/nginx.conf`` in front of the app, which runs
  with the unit's own ``Environment=`` lines (``deploy/entrepairs.service``). An attacker fails
  log-ins for a member and for an admin from many addresses, while those two log in from
  devices they used before, other members log in from new devices and newcomers sign up, each
  from their own address. Without nginx on the machine, the clients send the
  ``X-Forwarded-For`` that nginx would set (and the outcome says so).
- ``redis-kill`` / ``redis-hang``: the app with ``FORUM_REDIS_URL`` on a redis-server of the
  harness's own (another port, never the machine's shared Redis), SIGKILLed then restarted, or
  SIGSTOPped then SIGCONTed, while members write and visitors read.

Every client talks to 127.0.0.1 (the log-in storm's clients come from addresses of 127.66.0.0/16,
which Linux routes to the loopback interface); the harness signals only processes it started.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.engine import make_url

import forum.app  # noqa: F401 - every model registered on Base.metadata
from forum import actions, pseudonyms
from forum.config import ROOT
from forum.db import Base, Database
from forum.models import Role
from forum.passwords import Hasher
from reliability.checks import Check, error_budget, percentile
from reliability.driver import TRACEBACK_MARKERS, Attempt, Ledger, VirtualMember, new_key, post_body
from reliability.scenarios import SCENARIO_LIMIT_SECONDS, Outcome, Run, Stage
from reliability.seed import reset_schema, seed
from reliability.server import HOST, Server, _die_with_parent, free_port

DEPLOY = ROOT / "deploy"
PASSWORD = "une phrase que je retiens bien"  # noqa: S105 - the seeded members' password
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
ADDRESSES = "127.66."
"""Every client address of the log-in storm starts with this (greppable, never the host's)."""


def _signal(process: subprocess.Popen[bytes] | None, number: int) -> None:
    if process is not None and process.poll() is None:
        os.kill(process.pid, number)


def _wait_port(port: int, limit: float, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode})")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {limit:.0f} s")


# -- a redis-server of our own ------------------------------------------------------------------

class RedisServer:
    """redis-server on a free port of 127.0.0.1, in its own directory, every write on disk at
    once (AOF, fsync always): a kill and a restart keep the sessions, as a production Redis
    must (docs/DEPLOYMENT.md)."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing (apt-get install redis-server)")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - redis-server, fixed arguments
                [self.binary, "--port", str(self.port), "--bind", HOST, "--save", "",
                 "--appendonly", "yes", "--appendfsync", "always",
                 "--dir", str(self.directory)],
                stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - a single libc call
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.directory / 'redis.log'}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING within 15 s")

    def kill(self) -> None:
        _signal(self.process, signal.SIGCONT)
        _signal(self.process, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def pause(self) -> None:
        _signal(self.process, signal.SIGSTOP)

    def resume(self) -> None:
        _signal(self.process, signal.SIGCONT)

    def stop(self) -> None:
        _signal(self.process, signal.SIGCONT)
        _signal(self.process, signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def holding(self, needle: str) -> int:
        """How many keys' names or values hold ``needle``."""
        import redis

        client = redis.Redis(host=HOST, port=self.port, socket_timeout=5)
        try:
            found = 0
            for key in client.scan_iter(count=1000):
                kind = client.type(key)
                value = b""
                if kind == b"string":
                    value = client.get(key) or b""
                elif kind == b"hash":
                    value = b" ".join(b"%s=%s" % pair for pair in client.hgetall(key).items())
                elif kind == b"zset":
                    value = b" ".join(client.zrange(key, 0, -1))
                found += needle.encode() in key + b" " + value
            return found
        finally:
            client.close()


# -- the real nginx, with the shipped configuration ---------------------------------------------

class Proxy:
    """nginx with ``deploy/nginx.conf`` and ``deploy/entrepairs-proxy.conf``, changed only to
    run here: listening on free ports of 127.0.0.1 (no IPv6), the app as its one upstream, a
    throwaway certificate, its files in ``directory``. Every directive that decides what the app
    receives (headers, limits, timeouts) is the shipped one."""

    def __init__(self, directory: Path, app_port: int) -> None:
        self.binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
        self.directory = directory
        self.app_port = app_port
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"https://{HOST}:{self.port}"

    def _replace(self, pattern: str, replacement: str, text: str, *, flags: int = 0) -> str:
        changed, count = re.subn(pattern, replacement, text, flags=flags)
        if not count:
            raise RuntimeError(f"deploy/nginx.conf changed: {pattern!r} not found")
        return changed

    def config(self, cert: Path, key: Path) -> str:
        d = self.directory
        text = (DEPLOY / "nginx.conf").read_text()
        if os.geteuid() != 0:
            text = self._replace(r"(?m)^user\s+[^;]+;\n", "", text)
        text = self._replace(r"(?m)^error_log\s+\S+", f"error_log {d / 'error.log'}", text)
        text = self._replace(r"(?s)(upstream entrepairs \{)(.*?)(\n    \})", lambda m: (
            m.group(1) + re.sub(r"(?m)^\s*server\s+[^;]+;\n?", "", m.group(2))
            + f"\n        server {HOST}:{self.app_port};" + m.group(3)), text)  # type: ignore[arg-type]
        text = self._replace(r"listen\s+\[::\]:\d+[^;]*;", "", text)
        text = self._replace(r"listen\s+80;", f"listen {HOST}:{free_port()};", text)
        text = self._replace(r"listen\s+443\b", f"listen {HOST}:{self.port}", text)
        text = self._replace(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", text)
        text = self._replace(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", text)
        text = self._replace(r"include /etc/nginx/entrepairs-proxy.conf;",
                             f"include {d / 'entrepairs-proxy.conf'};", text)
        text = text.replace("alias /srv/entrepairs/static/;", f"alias {ROOT / 'static'}/;")
        if not Path("/etc/nginx/mime.types").exists():
            text = text.replace("include /etc/nginx/mime.types;", "")
        temp = "".join(f"    {name}_temp_path {d / name};\n"
                       for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return self._replace(r"(?m)^http \{\n", "http {\n" + temp, text)

    def start(self) -> None:
        if self.binary is None:
            raise RuntimeError("nginx is missing")
        self.directory.mkdir(parents=True, exist_ok=True)
        cert, key = self.directory / "cert.pem", self.directory / "key.pem"
        openssl = shutil.which("openssl")
        if openssl is None:
            raise RuntimeError("openssl is missing (apt-get install openssl)")
        subprocess.run(  # noqa: S603 - openssl, fixed arguments
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            capture_output=True, check=True, timeout=60,
        )
        (self.directory / "entrepairs-proxy.conf").write_text(
            (DEPLOY / "entrepairs-proxy.conf").read_text())
        (self.directory / "nginx.conf").write_text(self.config(cert, key))
        with (self.directory / "nginx.out").open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - nginx, our own configuration
                [self.binary, "-c", str(self.directory / "nginx.conf"),
                 "-p", str(self.directory), "-e", str(self.directory / "error.log"),
                 "-g", f"pid {self.directory / 'nginx.pid'}; daemon off;"],
                stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - a single libc call
            )
        _wait_port(self.port, 15, self.process, "nginx")

    def stop(self) -> None:
        _signal(self.process, signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal(self.process, signal.SIGKILL)
                self.process.wait(timeout=10)

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def unit_environment() -> dict[str, str]:
    """The ``Environment=`` lines of deploy/entrepairs.service: the app runs as deployed."""
    found = {}
    for line in (DEPLOY / "entrepairs.service").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("Environment="):
            name, _, value = line.removeprefix("Environment=").strip('"').partition("=")
            found[name] = value
    return found


# -- the log-in storm ---------------------------------------------------------------------------

class Clients:
    """HTTP clients, each from its own source address (or naming it in X-Forwarded-For)."""

    def __init__(self, base_url: str, *, through_proxy: bool) -> None:
        self.base_url = base_url
        self.through_proxy = through_proxy
        self.opened: list[httpx.AsyncClient] = []

    def open(self, address: str, cookies: httpx.Cookies | None = None) -> httpx.AsyncClient:
        if self.through_proxy:
            transport = httpx.AsyncHTTPTransport(local_address=address, verify=False)  # noqa: S501
            headers = {}
        else:  # what nginx would send (deploy/entrepairs-proxy.conf)
            transport = httpx.AsyncHTTPTransport()
            headers = {"X-Forwarded-For": address}
        client = httpx.AsyncClient(base_url=self.base_url, transport=transport, headers=headers,
                                   cookies=cookies, timeout=30.0, follow_redirects=False)
        self.opened.append(client)
        return client

    async def close(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self.opened))


async def form_post(client: httpx.AsyncClient, path: str, data: dict[str, str],
                    ledger: Ledger, kind: str, who: int, *, token: str | None = None,
                    tries: int = 1) -> tuple[Attempt, str | None]:
    """GET the form (unless a CSRF token is known), POST it; the POST is the attempt. On a
    503 (SQLite's write lock on a starved machine), try again after the Retry-After (at most
    2 s), as a person would press the button again, ``tries`` times in all."""
    attempt, token = await _form_post(client, path, data, ledger, kind, who, token=token)
    for _ in range(tries - 1):
        if attempt.status != 503:
            break
        await asyncio.sleep(min(float(attempt.retry_after or 1), 2.0))
        attempt, token = await _form_post(client, path, data, ledger, kind, who, token=token)
    return attempt, token


async def _form_post(client: httpx.AsyncClient, path: str, data: dict[str, str],
                     ledger: Ledger, kind: str, who: int, *, token: str | None = None
                     ) -> tuple[Attempt, str | None]:
    started = time.monotonic()
    try:
        if token is None:
            page = await client.get(path)
            found = CSRF.search(page.text) if page.status_code == 200 else None
            if found is None:
                attempt = Attempt(kind, None, who, started, time.monotonic() - started,
                                  page.status_code, retry_after=page.headers.get("retry-after"),
                                  traceback=any(m in page.text for m in TRACEBACK_MARKERS))
                ledger.record(attempt)
                return attempt, None
            token = found.group(1)
        response = await client.post(path, data={"_csrf_token": token, **data})
    except httpx.HTTPError as exc:
        attempt = Attempt(kind, None, who, started, time.monotonic() - started, None,
                          error=type(exc).__name__)
        ledger.record(attempt)
        return attempt, token
    attempt = Attempt(kind, None, who, started, time.monotonic() - started,
                      response.status_code, retry_after=response.headers.get("retry-after"),
                      traceback=any(m in response.text for m in TRACEBACK_MARKERS))
    ledger.record(attempt)
    return attempt, token


async def seed_accounts(url: str, redis_url: str, members: int) -> None:
    """A target member, an admin, and ``members`` others, all with PASSWORD (real argon2)."""
    await reset_schema(url)
    database = Database(url, pool=False)
    if redis_url:
        from forum.sessions import make_store

        database.sessions = make_store(redis_url, url)
    password_hash = await Hasher().hash(PASSWORD)
    try:
        async with database.writing() as session:
            for name in ("Cible", "Veilleur", *(f"Pair_{i:03d}" for i in range(members))):
                member = await actions.do_signup(
                    session, pseudonym=name, pseudonym_key=pseudonyms.uniqueness_key(name),
                    password_hash=password_hash, recovery_hash=password_hash,
                    locale="fr", region="FR")
                if name == "Veilleur":
                    await actions.do_set_role(session, member, Role.ADMIN)
    finally:
        await database.dispose()


def _sqlite_bytes(path: Path) -> bytes:
    files = [Path(f"{path}{suffix}") for suffix in ("", "-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


async def stored_text(url: str) -> bytes:
    """Everything the database holds: the SQLite files' bytes, or every PostgreSQL row."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return await asyncio.to_thread(_sqlite_bytes, Path(parsed.database or ""))
    database = Database(url, pool=False)
    try:
        async with database.reader() as session:
            rows = [repr(tuple(row)) for table in Base.metadata.sorted_tables
                    for row in (await session.execute(select(table))).all()]
    finally:
        await database.dispose()
    return "\n".join(rows).encode()


async def login_storm(run: Run, *, duration: float = 60.0, attackers: int = 20,
                      members: int = 20, signups: int = 10, device_every: float = 3.0,
                      attack_rate: float | None = None) -> Outcome:
    """An attacker fails log-ins for ``Cible`` (a member) and ``Veilleur`` (an admin) from
    ``attackers`` addresses for ``duration`` seconds; meanwhile both log in from devices they
    used before (every ``device_every`` seconds, each time from another address, as a phone
    moves between networks), ``members`` others log in from new devices, and ``signups``
    newcomers sign up, each from their own address."""
    started = time.monotonic()
    ledger = Ledger()
    notes: list[str] = []
    url = run.fresh_url("login-storm")
    redis = None if run.is_sqlite else RedisServer(run.workdir / "redis-login-storm")
    if redis is not None:  # PostgreSQL runs as scaled out: counters and sessions in Redis
        redis.start()
    server = Server(url, run.workdir / "login-storm.log")
    settings = {"FORUM_RATE_LIMITS": "on", **unit_environment()}
    if redis is not None:
        settings["FORUM_REDIS_URL"] = redis.url
    proxy = Proxy(run.workdir / "nginx", server.port)
    through_proxy = proxy.binary is not None
    if through_proxy:
        settings["FORUM_BASE_URL"] = proxy.base_url
    else:
        notes.append("nginx is missing: the clients sent the X-Forwarded-For nginx would set")
    server.settings = settings
    rate = attack_rate or (10.0 if through_proxy else 2.0)
    results: dict[str, list[Attempt]] = {k: [] for k in
                                         ("device", "member", "signup", "probe", "attack")}
    clients = Clients(proxy.base_url if through_proxy else server.base_url,
                      through_proxy=through_proxy)
    addresses = iter(f"{ADDRESSES}{n // 250 + 1}.{n % 250 + 1}" for n in range(60_000))
    try:
        await seed_accounts(url, redis.url if redis else "", members)
        await asyncio.to_thread(server.start)
        if through_proxy:
            await asyncio.to_thread(proxy.start)
        # Before the attack: the member and the admin log in once on their own devices.
        devices: dict[str, httpx.Cookies] = {}
        for who, name in enumerate(("Cible", "Veilleur")):
            client = clients.open(next(addresses))
            attempt, _ = await form_post(client, "/login", {"pseudonym": name,
                                                            "password": PASSWORD},
                                         ledger, "login", who, tries=5)
            if attempt.status != 303:
                raise RuntimeError(f"{name} could not log in before the attack "
                                   f"({attempt.status}); see {server.log_path}")
            devices[name] = client.cookies
        end = time.monotonic() + duration

        async def attacker(index: int) -> None:
            client = clients.open(next(addresses))
            token = None
            number = 0
            while time.monotonic() < end:
                target = ("Cible", "Veilleur", f"Inconnu{index}_{number}")[number % 3]
                attempt, token = await form_post(
                    client, "/login", {"pseudonym": target, "password": f"essai {number}"},
                    ledger, "attack", 1000 + index, token=token)
                results["attack"].append(attempt)
                number += 1
                await asyncio.sleep(1 / rate)

        async def known_device(name: str, offset: float) -> None:
            await asyncio.sleep(offset)
            while time.monotonic() < end - 1:
                client = clients.open(next(addresses), devices[name])
                attempt, _ = await form_post(client, "/login", {"pseudonym": name,
                                                                "password": PASSWORD},
                                             ledger, "login", 0, tries=5)
                results["device"].append(attempt)
                devices[name] = client.cookies
                await asyncio.sleep(device_every)

        async def spread(count: int, act: Callable[[int], Awaitable[None]]) -> None:
            for index in range(count):
                await asyncio.sleep(duration / (count + 1))
                await act(index)

        async def member_logs_in(index: int) -> None:
            client = clients.open(next(addresses))
            attempt, _ = await form_post(client, "/login", {"pseudonym": f"Pair_{index:03d}",
                                                            "password": PASSWORD},
                                         ledger, "login", index + 10, tries=5)
            results["member"].append(attempt)

        async def newcomer_signs_up(index: int) -> None:
            client = clients.open(next(addresses))
            attempt, _ = await form_post(client, "/signup", {
                "pseudonym": f"Nouvelle_{index:03d}", "password": PASSWORD,
                "password_confirm": PASSWORD, "consent": "yes"}, ledger, "signup", index + 500,
                tries=5)
            results["signup"].append(attempt)

        async def probes() -> None:
            """The attack is real: from a device they never used, the two are refused."""
            await asyncio.sleep(duration * 0.75)
            for name in ("Cible", "Veilleur"):
                client = clients.open(next(addresses))
                attempt, _ = await form_post(client, "/login", {"pseudonym": name,
                                                                "password": PASSWORD},
                                             ledger, "probe", 0, tries=5)
                results["probe"].append(attempt)

        await asyncio.wait_for(asyncio.gather(
            *(attacker(i) for i in range(attackers)),
            known_device("Cible", 0.5), known_device("Veilleur", 0.5 + device_every / 2),
            spread(members, member_logs_in), spread(signups, newcomer_signs_up), probes(),
        ), timeout=duration + SCENARIO_LIMIT_SECONDS)
        elapsed = time.monotonic() - started
    finally:
        await clients.close()
        await asyncio.to_thread(proxy.stop)
        await asyncio.to_thread(server.stop)
    stored = await stored_text(url)
    logs = server.log_text() + proxy.error_log()
    in_redis = redis.holding(ADDRESSES) if redis is not None else 0
    if redis is not None:
        redis.stop()

    def share(kind: str, status: int) -> tuple[bool, str]:
        got = results[kind]
        ok = [a for a in got if a.status == status]
        statuses = sorted({a.status for a in got if a.status != status}, key=str)
        return bool(got) and len(ok) == len(got), (
            f"{len(ok)} of {len(got)} answered {status}"
            + (f" (others: {statuses})" if statuses else ""))

    attack = results["attack"]
    by_nginx = [a for a in attack if a.status == 429 and a.retry_after is None]
    checks = [
        Check("the attack was real: a never-used device is refused",
              *share("probe", 429)),
        Check("member and admin log in from devices they used before", *share("device", 303)),
        Check("other members log in from new devices", *share("member", 303)),
        Check("newcomers sign up", *share("signup", 303)),
        Check("the attacker never got in", bool(attack) and not any(
            a.status in (200, 303) for a in attack),
              f"{len(attack)} attempts: {sum(a.status == 429 for a in attack)} refused 429 "
              f"({len(by_nginx)} by nginx), {sum(a.status == 422 for a in attack)} wrong "
              f"passwords checked"),
        error_budget(ledger.attempts),
        Check("no client address stored or logged",
              ADDRESSES.encode() not in stored and ADDRESSES not in logs and not in_redis,
              f"'{ADDRESSES}' in the database: {ADDRESSES.encode() in stored}, in the app's or "
              f"nginx's logs: {ADDRESSES in logs}, in Redis: {in_redis} keys"),
        Check("server log: no traceback, no unexpected error",
              "Traceback" not in server.log_text()
              and "unexpected error" not in server.log_text(), "checked"),
    ]
    logins = [a.latency * 1000 for kind in ("device", "member") for a in results[kind]]
    pressed_again = sum(a.status == 503 for a in ledger.attempts if a.kind != "attack")
    if pressed_again:
        notes.append(f"{pressed_again} answers 503 + Retry-After to members or newcomers "
                     "(the database's write lock), each pressed again until answered")
    notes.append(f"through {'nginx ' + proxy.base_url if through_proxy else 'X-Forwarded-For'}; "
                 f"log-ins p50 {percentile(logins, 0.5):.0f} ms, "
                 f"p99 {percentile(logins, 0.99):.0f} ms, max {max(logins, default=0):.0f} ms")
    return Outcome("proxy-fronted log-in storm", ledger, elapsed, checks, notes)


# -- Redis killed or hung -----------------------------------------------------------------------

_REDIS_TROUBLE = re.compile(
    r'"time": "([^"]+)".*"event": "(?:session check unavailable|page cache [a-z ]*failed|'
    r'member page cache: session check failed|database unavailable): '
    r'(?:ConnectionError|TimeoutError|RedisResting|MaxConnectionsError)"')


def redis_trouble_seen(log: str) -> list[float]:
    """When (epoch seconds) the app logged a Redis error: a failed session check, page cache
    lookup, store or invalidation, or a request answered 503 for Redis."""
    from datetime import datetime

    return [datetime.fromisoformat(found.group(1).replace("Z", "+00:00")).timestamp()
            for found in _REDIS_TROUBLE.finditer(log)]


class RedisStage(Stage):
    """A Stage whose app keeps sessions (and its page cache) in ``redis``."""

    def __init__(self, run: Run, name: str, members: int, redis: RedisServer) -> None:
        super().__init__(run, name, members)
        self.redis = redis
        self.server.settings = {"FORUM_REDIS_URL": redis.url}

    async def __aenter__(self) -> RedisStage:
        self.seeded = await seed(self.url, self.members, redis_url=self.redis.url)
        try:
            await asyncio.to_thread(self.server.start)
            self.vms = [VirtualMember(self.server.base_url, mid, token, self.ledger)
                        for mid, token in self.seeded.members]
            await asyncio.gather(*(vm.open_thread(self.thread_id) for vm in self.vms))
        except BaseException:
            await self.__aexit__()
            raise
        return self


async def redis_fault(run: Run, *, mode: str, writers: int = 10, readers: int = 5,
                      duration: float = 30.0, at: float = 6.0, outage: float = 8.0,
                      request_limit: float = 10.0, read_limit: float = 2.5,
                      stray_503_share: float = 0.01) -> Outcome:
    """Members write and visitors read for ``duration`` s; at ``at`` s Redis is killed (and
    restarted ``outage`` s later, its data read back from its AOF) or hung (SIGSTOP, then
    SIGCONT ``outage`` s later).

    Outside the outage a write may still get a 503 from SQLite's write lock on a starved
    machine (docs/RELIABILITY.md, "Under load"): ``stray_503_share`` bounds those, and the
    server log tells that none came from Redis."""
    if mode not in ("kill", "hang"):
        raise ValueError(mode)
    started = time.monotonic()
    redis = RedisServer(run.workdir / f"redis-{mode}")
    redis.start()
    marks: dict[str, float] = {}
    try:
        async with RedisStage(run, f"redis-{mode}", writers, redis) as stage:
            pid = stage.server.process.pid if stage.server.process else None
            end = time.monotonic() + duration
            visitors = [httpx.AsyncClient(base_url=stage.server.base_url, timeout=30.0)
                        for _ in range(readers)]

            async def member_posts(index: int, vm: VirtualMember) -> None:
                number = 0
                while time.monotonic() < end:
                    await vm.reply_until_answered(post_body(index, number), new_key(),
                                                  deadline=end + 30)
                    number += 1

            async def visitor_reads(index: int, client: httpx.AsyncClient) -> None:
                paths = (f"/t/{stage.thread_id}", "/", f"/s/{stage.seeded.space_slug}")
                number = 0
                while time.monotonic() < end:
                    begun = time.monotonic()
                    try:
                        response = await client.get(paths[number % len(paths)])
                        status: int | None = response.status_code
                        traced = any(m in response.text for m in TRACEBACK_MARKERS)
                    except httpx.HTTPError:
                        status, traced = None, False
                    stage.ledger.record(Attempt("visitor", None, -index, begun,
                                                time.monotonic() - begun, status,
                                                traceback=traced))
                    number += 1
                    await asyncio.sleep(0.05)

            async def fault() -> None:
                await asyncio.sleep(at)
                marks["down"], marks["down_wall"] = time.monotonic(), time.time()
                await asyncio.to_thread(redis.kill if mode == "kill" else redis.pause)
                await asyncio.sleep(outage)
                await asyncio.to_thread(redis.start if mode == "kill" else redis.resume)
                marks["back"], marks["back_wall"] = time.monotonic(), time.time()

            try:
                await asyncio.wait_for(asyncio.gather(
                    fault(), *(member_posts(i, vm) for i, vm in enumerate(stage.vms)),
                    *(visitor_reads(i, c) for i, c in enumerate(visitors))),
                    timeout=duration + 120)
            finally:
                await asyncio.gather(*(c.aclose() for c in visitors))
            same_process = (stage.server.process is not None and stage.server.process.pid == pid
                            and stage.server.process.poll() is None)
            async with httpx.AsyncClient(timeout=5) as client:
                health = (await client.get(f"{stage.server.base_url}/healthz")).status_code
            elapsed = time.monotonic() - started
            checks = await stage.final_checks(max_503_share=1.0)
    finally:
        redis.stop()
    down, back = marks["down"], marks["back"]
    writes = stage.ledger.writes()
    during = [a for a in writes if down <= a.started + a.latency <= back + 5]
    refused = [a for a in during if a.status == 503]
    stray = [a for a in writes if a.status == 503
             and not down - 1 <= a.started + a.latency <= back + 5]
    seen = redis_trouble_seen(stage.server.log_text())
    outside = [t for t in seen if not marks["down_wall"] - 1 <= t <= marks["back_wall"] + 5]
    first = min((a.started + a.latency for a in writes
                 if a.status == 303 and a.started >= back), default=None)
    reads = [a for a in stage.ledger.attempts if a.kind == "visitor"]
    reads_in_outage = [a for a in reads if down <= a.started <= back]
    read_ms = [a.latency * 1000 for a in reads_in_outage]
    slow_reads = [a for a in reads if a.latency > read_limit]
    longest = max((a.latency for a in stage.ledger.attempts), default=0.0)
    checks[:0] = [
        Check("members answered 503 + Retry-After while Redis was away (not 500)",
              bool(refused), f"{len(refused)} of {len(during)} writes in the outage answered 503"),
        Check("Redis trouble met only while Redis was away (+5 s)", bool(seen) and not outside,
              f"{len(seen)} Redis errors in the server log, {len(outside)} outside the outage"),
        Check(f"503s outside the outage ≤ {stray_503_share:.0%} of writes (SQLite's lock)",
              len(stray) <= stray_503_share * len(writes),
              f"{len(stray)} of {len(writes)} writes answered 503 outside it"),
        Check("visitors kept reading (every page 200)",
              bool(reads_in_outage) and all(a.status == 200 for a in reads),
              f"{sum(a.status == 200 for a in reads)} of {len(reads)} reads 200; "
              f"{len(reads_in_outage)} in the outage: p50 {percentile(read_ms, 0.5):.0f} ms, "
              f"p99 {percentile(read_ms, 0.99):.0f} ms, max {max(read_ms, default=0):.0f} ms"),
        Check(f"no visitor page slower than {read_limit:g} s", not slow_reads,
              f"{len(slow_reads)} slower"),
        Check("recovered without a restart", same_process and health == 200,
              f"same process: {same_process}, /healthz {health}"),
        Check("first write ≤ 5 s after Redis is back", first is not None and first - back <= 5,
              f"{(first - back) if first else float('nan'):.2f} s"),
        Check(f"no request longer than {request_limit:g} s", longest <= request_limit,
              f"longest {longest:.2f} s"),
    ]
    name = "Redis killed" if mode == "kill" else "Redis hung"
    return Outcome(f"{name} {outage:g} s", stage.ledger, elapsed, checks,
                   [f"outage {back - down:.2f} s"])
