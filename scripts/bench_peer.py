#!/usr/bin/env python3
"""Side by side with a peer, in one run: the measuring part of scripts/bench-peer.

The peer is a small Django project protected by django-axes (its folder is given by --peer). It
is copied to a temporary directory, migrated, given the same users as portcullis, and served by
gunicorn; then portcullis is started on a fresh SQLite file with the peer's lockout rule. The two
servers run one after the other on this machine, never together, and the same client below (one
asyncio process, aiohttp) drives both with the same user count, the same concurrency and the
same scenarios:

1. successful logins/s divided by raw argon2 hashes/s, each server with its own hasher and
   parameters (the peer: argon2-cffi with Django's parameters, through the peer's own
   bench/argon2_rate.py; portcullis: its Hasher at the release defaults, through the load tool's
   LOAD_ONLY=raw), the raw rate on as many processes/threads as there are cores on both sides;
2. rejections/s of a locked account hit with its right password by --connections connections;
3. lockout exactness: 64 concurrent wrong passwords against each of --exact-users fresh users,
   limit 5: the passwords evaluated beyond the limit (the peer's X-Pw-Evaluated header;
   portcullis' portcullis_password_hashes_total before and after each burst, cross-checked with
   the login.failed events naming the user);
4. whether a lock shows: status and median latency of "wrong password, not locked" against
   "locked, right password", alternating request by request on one connection (portcullis with
   reveal_lock false).

Only 127.0.0.1 is contacted; every loop is bounded in time and in count; both servers are
stopped on exit. Passwords and tokens are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

REPO = Path(__file__).resolve().parents[1]
LIMIT = 5  # the peer's AXES_FAILURE_LIMIT, mirrored on portcullis
COOLOFF_SECONDS = 900  # the peer's AXES_COOLOFF_TIME (15 minutes), mirrored as lock_duration
BURST = 64  # concurrent wrong passwords per fresh user (scenario 3)
MAX_REQUESTS = 1_000_000  # a hard cap per scenario, whatever the duration
REQUEST_TIMEOUT = 60.0
CLIENT_BOUND = 0.5  # the client's CPU share past which a rate is marked as the client's ceiling
STARTUP_TIMEOUT = 60.0
ORG = "bench"


def login_of(i: int) -> str:
    return f"user{i:05d}"


def password_of(i: int) -> str:
    # 15 characters or more (portcullis' default policy), never containing the login.
    return f"pw-{i:05d}-staple-battery"


WRONG = "wrong-password-for-bench"


def log(msg: str) -> None:
    print(msg, flush=True)


def die(msg: str) -> None:
    raise SystemExit(f"scripts/bench-peer FAILED: {msg}")


def die_with_parent() -> None:
    """Run in a child before exec: the child gets SIGTERM if this process dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# The client: one driver for both servers
# --------------------------------------------------------------------------------------------


@dataclass
class Figures:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict
    unexpected: int
    driver_cpu: float  # this process' CPU seconds ÷ wall seconds

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def pct(values: list, p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(int(len(values) * p), len(values) - 1)]


class Target:
    """How to log in to one server."""

    name: str
    base: str
    locked_status: int

    def login_url(self) -> str:
        raise NotImplementedError

    def body(self, login: str, password: str) -> bytes:
        raise NotImplementedError


async def drive(
    aiohttp,
    target: Target,
    connections: int,
    seconds: float,
    expect: int,
    make: Callable[[int], bytes],
) -> Figures:
    """`connections` loops send `make(n)` (n counts requests) until `seconds` have passed.

    Counts the answers completed within the duration (wrk's way); requests still in flight at
    the end are waited for, so that the next scenario starts on an idle server, but not counted.
    """
    url = target.login_url()
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    sent = [0]
    done: list = []  # (finished_at, latency_s, status)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.monotonic()
        cpu0 = time.process_time()
        deadline = started + seconds

        async def loop() -> None:
            while time.monotonic() < deadline and sent[0] < MAX_REQUESTS:
                n = sent[0]
                sent[0] += 1
                t = time.perf_counter()
                async with session.post(url, data=make(n), headers=headers) as r:
                    await r.read()
                    status = r.status
                done.append((time.monotonic(), time.perf_counter() - t, status))

        await asyncio.gather(*(loop() for _ in range(connections)))
        cpu = time.process_time() - cpu0
    counted = [d for d in done if d[0] <= deadline]
    latencies = [d[1] * 1000.0 for d in counted]
    statuses: dict = {}
    for d in counted:
        statuses[d[2]] = statuses.get(d[2], 0) + 1
    return Figures(
        requests=statuses.get(expect, 0),
        seconds=seconds,
        p50_ms=pct(latencies, 0.50),
        p99_ms=pct(latencies, 0.99),
        statuses=dict(sorted(statuses.items())),
        unexpected=len(counted) - statuses.get(expect, 0),
        driver_cpu=cpu / seconds,
    )


def report(name: str, f: Figures, what: str = "req/s") -> None:
    log(
        f"  {name:<40} {f.per_second:>9.1f} {what}"
        f"  p50 {f.p50_ms:>8.2f} ms  p99 {f.p99_ms:>8.2f} ms"
        f"  statuses {f.statuses}  driver CPU {100 * f.driver_cpu:.0f} %"
    )


async def post_once(session, target: Target, login: str, password: str):
    t = time.perf_counter()
    async with session.post(
        target.login_url(),
        data=target.body(login, password),
        headers={"Content-Type": "application/json"},
    ) as r:
        await r.read()
        return r.status, r.headers.get("X-Pw-Evaluated"), time.perf_counter() - t


async def lock_account(aiohttp, target: Target, login: str) -> list:
    """LIMIT wrong passwords, one at a time; returns their statuses."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        return [(await post_once(s, target, login, WRONG))[0] for _ in range(LIMIT)]


async def burst(aiohttp, target: Target, login: str) -> list:
    """BURST wrong passwords for `login` at once, each on its own fresh connection."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as s:
        gate = asyncio.Event()

        async def one():
            await gate.wait()
            return await post_once(s, target, login, WRONG)

        tasks = [asyncio.create_task(one()) for _ in range(BURST)]
        await asyncio.sleep(0.05)  # every task at the start line
        gate.set()
        return await asyncio.gather(*tasks)


async def visibility(aiohttp, target: Target, pool: list, locked: int, seconds: float) -> dict:
    """One connection alternates "wrong password, not locked" (each pool user at most LIMIT-1
    times, so none locks) and "locked account, right password", request by request."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    kinds: dict = {"wrong": ([], {}), "locked": ([], {})}
    connector = aiohttp.TCPConnector(limit=1)
    plan = [u for u in pool for _ in range(LIMIT - 1)]
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as s:
        deadline = time.monotonic() + seconds
        for user in plan:
            if time.monotonic() >= deadline:
                break
            for kind, login, password in (
                ("wrong", login_of(user), WRONG),
                ("locked", login_of(locked), password_of(locked)),
            ):
                status, _, dt = await post_once(s, target, login, password)
                lat, st = kinds[kind]
                lat.append(dt * 1000.0)
                st[status] = st.get(status, 0) + 1
    return {
        k: {"n": len(lat), "p50_ms": pct(lat, 0.5), "statuses": dict(sorted(st.items()))}
        for k, (lat, st) in kinds.items()
    }


def visibility_line(v: dict) -> str:
    parts = [
        f"{name}: {v[k]['n']} answered {v[k]['statuses']}, p50 {v[k]['p50_ms']:.2f} ms"
        for k, name in (
            ("wrong", "wrong password, not locked"),
            ("locked", "locked, right password"),
        )
    ]
    return "  one connection, alternating: " + "; ".join(parts)


# --------------------------------------------------------------------------------------------
# The peer
# --------------------------------------------------------------------------------------------


class PeerTarget(Target):
    name = "django-axes"
    locked_status = 429

    def __init__(self, base: str):
        self.base = base

    def login_url(self) -> str:
        return f"{self.base}/login"

    def body(self, login: str, password: str) -> bytes:
        return json.dumps({"username": login, "password": password}).encode()


def peer_copy(source: Path, work: Path) -> Path:
    """The peer's project in a directory of ours (it writes its database there)."""
    for needed in ("manage.py", "peer/settings.py", "bench/argon2_rate.py"):
        if not (source / needed).is_file():
            die(f"{source} is not the peer's folder (no {needed}); see --peer")
    dest = work / "peer"
    shutil.copytree(
        source,
        dest,
        ignore=shutil.ignore_patterns("venv", ".venv", "results", "*.sqlite3*", "__pycache__"),
    )
    return dest


def seed_peer(peer_dir: str, users: int, procs: int) -> None:
    """Runs in a child process (`--seed-peer`): the users, hashed by Django's own hasher."""
    sys.path.insert(0, peer_dir)
    os.chdir(peer_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "peer.settings"
    import django

    django.setup()
    from multiprocessing import Pool

    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User

    with Pool(procs) as pool:
        hashes = pool.map(make_password, [password_of(i) for i in range(users)], chunksize=4)
    User.objects.bulk_create(
        [User(username=login_of(i), password=h) for i, h in enumerate(hashes)], batch_size=500
    )


class Gunicorn:
    def __init__(self, peer_dir: Path, workers: int):
        self.log_path = peer_dir / "gunicorn.log"
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self.proc = subprocess.Popen(
            [
                str(gunicorn),
                "peer.wsgi:application",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--backlog",
                "2048",
                "--timeout",
                "30",
                "--log-level",
                "info",
                "--no-control-socket",
                "--error-logfile",
                str(self.log_path),
            ],
            cwd=peer_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        self.base = None
        booted = 0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                die(f"gunicorn exited ({self.proc.returncode}); see {self.log_path}")
            text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            m = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", text)
            booted = text.count("Booting worker")
            if m and booted >= workers:
                self.base = m.group(1)
                break
            time.sleep(0.1)
        if self.base is None:
            die("gunicorn did not start in time")

    def stop(self) -> None:
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def peer_raw_rate(peer_dir: Path, procs: int, seconds: float) -> float:
    out = subprocess.run(
        [sys.executable, "bench/argon2_rate.py", "verify", str(procs), str(seconds)],
        cwd=peer_dir,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=True,
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["agg_rate_per_s"])


# --------------------------------------------------------------------------------------------
# portcullis
# --------------------------------------------------------------------------------------------


class PortcullisTarget(Target):
    name = "portcullis"
    locked_status = 403

    def __init__(self, base: str):
        self.base = base

    def login_url(self) -> str:
        return f"{self.base}/v1/orgs/{ORG}/login"

    def body(self, login: str, password: str) -> bytes:
        return json.dumps({"login": login, "password": password}).encode()


class Portcullis:
    def __init__(self, binary: Path, work: Path, token: str):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
        env.update({"PORTCULLIS_BOOTSTRAP_TOKEN": token, "PORTCULLIS_LOG_LEVEL": "warn"})
        self.stderr_path = work / "portcullis.stderr"
        with open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(
                [
                    str(binary),
                    "serve",
                    "--listen",
                    "127.0.0.1:0",
                    "--database-url",
                    f"sqlite://{work}/portcullis.db",
                ],
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                preexec_fn=die_with_parent,
            )
        found: list = []
        ready = threading.Event()

        def pump() -> None:  # reads stdout to its end, so the server never blocks on it
            assert self.proc.stdout is not None
            for raw in self.proc.stdout:
                line = raw.decode(errors="replace").strip()
                if not found and line.startswith("listening on "):
                    found.append(line.removeprefix("listening on "))
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(STARTUP_TIMEOUT) or not found:
            stop_process(self.proc)
            die(f"portcullis did not print `listening on` (see {self.stderr_path})")
        if not found[0].startswith("127.0.0.1:"):
            stop_process(self.proc)
            die(f"portcullis listens on {found[0]}, not on 127.0.0.1")
        self.base = f"http://{found[0]}"

    def stop(self) -> None:
        stop_process(self.proc)


async def admin(session, method: str, url: str, token: str, body=None, ok=(200, 201, 204)):
    async with session.request(
        method, url, json=body, headers={"Authorization": f"Bearer {token}"}
    ) as r:
        text = await r.text()
        if r.status not in ok:
            die(f"{method} {url.split('127.0.0.1', 1)[-1]} answered {r.status}: {text[:300]}")
        return json.loads(text) if text else None


async def hashes_total(session, base: str) -> int:
    async with session.get(f"{base}/metrics") as r:
        text = await r.text()
    m = re.search(r"^portcullis_password_hashes_total (\d+)", text, re.M)
    if not m:
        die("/metrics has no portcullis_password_hashes_total")
    return int(m.group(1))


async def failed_events(session, base: str, token: str, after: int) -> dict:
    """login.failed events after the cursor, counted by the user they name."""
    counts: dict = {}
    for _ in range(10_000):  # bounded paging
        page = await admin(
            session, "GET", f"{base}/v1/orgs/{ORG}/events?limit=500&after={after}", token
        )
        for e in page["items"]:
            if e["type"] == "login.failed":
                uid = (e.get("payload") or {}).get("user_id")
                counts[uid] = counts.get(uid, 0) + 1
        if not page.get("next_after"):
            break
        after = int(page["next_after"])
    return counts


async def last_event(session, base: str, token: str) -> int:
    last = 0
    for _ in range(10_000):
        page = await admin(
            session, "GET", f"{base}/v1/orgs/{ORG}/events?limit=500&after={last}", token
        )
        if page["items"]:
            last = page["items"][-1]["sequence"]
        if not page.get("next_after"):
            break
    return last


def portcullis_raw_rate(threads: int, seconds: float) -> float:
    """The load tool's LOAD_ONLY=raw: portcullis' own Hasher at the release defaults."""
    env = dict(os.environ, LOAD_ONLY="raw", LOAD_SECONDS=str(seconds), LOAD_THREADS=str(threads))
    out = subprocess.run(
        ["cargo", "bench", "--locked", "-q", "-p", "portcullis-server", "--bench", "load"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        timeout=seconds + 600,
        check=True,
    ).stdout
    m = re.search(r"^raw argon2id hashes/s: ([0-9.]+)$", out, re.M)
    if not m:
        die("the load tool printed no `raw argon2id hashes/s: N`")
    return float(m.group(1))


# --------------------------------------------------------------------------------------------
# One side's run
# --------------------------------------------------------------------------------------------


@dataclass
class Plan:
    users: int
    exact: list  # fresh users for scenario 3
    locked: int  # scenario 2's locked account
    locked_hidden: int  # scenario 4's locked account
    pool: list  # scenario 4's "wrong password, not locked" users
    logins: list  # scenario 1's users


def make_plan(users: int, exact_users: int, connections: int) -> Plan:
    exact = list(range(exact_users))
    locked, locked_hidden = exact_users, exact_users + 1
    rest = list(range(exact_users + 2, users))
    pool, logins = rest[: len(rest) // 4], rest[len(rest) // 4 :]
    if not pool or len(logins) < connections:
        die(
            f"--users {users} is too few for --exact-users {exact_users} and "
            f"--connections {connections}"
        )
    return Plan(users, exact, locked, locked_hidden, pool, logins)


@dataclass
class Side:
    name: str
    raw: float = 0.0
    logins: Optional[Figures] = None
    locked: Optional[Figures] = None
    locked_hidden: Optional[Figures] = None
    evaluated: list = field(default_factory=list)  # per fresh user
    evaluated_check: Optional[list] = None  # portcullis: login.failed events per user
    after_burst: dict = field(default_factory=dict)  # statuses of the right password after
    burst_statuses: dict = field(default_factory=dict)
    visibility: dict = field(default_factory=dict)
    setup_seconds: float = 0.0


def login_maker(target: Target, users: list) -> Callable[[int], bytes]:
    bodies = [target.body(login_of(u), password_of(u)) for u in users]
    return lambda n: bodies[n % len(bodies)]


def fixed_maker(target: Target, login: str, password: str) -> Callable[[int], bytes]:
    body = target.body(login, password)
    return lambda n: body


async def common_scenarios(
    aiohttp, target: Target, side: Side, plan: Plan, a, raw: Callable[[float], float], what: str
) -> None:
    """Scenarios 1 and 2 (the locked part that both sides share). The raw hash rate is measured
    half just before the logins and half just after (the server idle), and averaged."""
    before = raw(a.seconds / 2)
    side.logins = await drive(
        aiohttp, target, a.connections, a.seconds, 200, login_maker(target, plan.logins)
    )
    after = raw(a.seconds / 2)
    side.raw = (before + after) / 2
    log(
        f"  {'raw ' + what:<40} {side.raw:>9.1f} hashes/s"
        f"  ({before:.1f} before the logins, {after:.1f} after)"
    )
    report("successful logins", side.logins, "logins/s")
    statuses = await lock_account(aiohttp, target, login_of(plan.locked))
    log(f"  locking {login_of(plan.locked)}: {LIMIT} wrong passwords answered {statuses}")
    side.locked = await drive(
        aiohttp,
        target,
        a.connections,
        a.seconds,
        target.locked_status,
        fixed_maker(target, login_of(plan.locked), password_of(plan.locked)),
    )
    report(f"locked account, right password ({target.locked_status})", side.locked, "rej/s")


async def run_peer(aiohttp, a, plan: Plan, work: Path) -> Side:
    side = Side("django-axes")
    log(f"\n== {side.name} (gunicorn, {a.peer_workers} sync workers) ==")
    t0 = time.monotonic()
    peer_dir = peer_copy(a.peer, work)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0", "--skip-checks"],
        cwd=peer_dir,
        check=True,
        timeout=300,
    )
    subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--seed-peer", str(peer_dir)]
        + [str(plan.users), str(a.cores)],
        check=True,
        timeout=3600,
    )
    side.setup_seconds = time.monotonic() - t0
    log(f"  {plan.users} users created with Django's hasher in {side.setup_seconds:.0f} s")
    server = Gunicorn(peer_dir, a.peer_workers)
    try:
        target = PeerTarget(server.base)
        await common_scenarios(
            aiohttp,
            target,
            side,
            plan,
            a,
            lambda seconds: peer_raw_rate(peer_dir, a.cores, seconds),
            f"argon2 verify, argon2-cffi t=2 m=100MiB p=8, {a.cores} procs",
        )
        for u in plan.exact:
            res = await burst(aiohttp, target, login_of(u))
            side.evaluated.append(sum(1 for r in res if r[1] == "1"))
            for r in res:
                side.burst_statuses[r[0]] = side.burst_statuses.get(r[0], 0) + 1
            timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
            async with aiohttp.ClientSession(timeout=timeout) as s:
                st = (await post_once(s, target, login_of(u), password_of(u)))[0]
            side.after_burst[st] = side.after_burst.get(st, 0) + 1
        log(
            f"  {BURST} concurrent wrong passwords x {len(plan.exact)} fresh users: evaluated "
            f"{side.evaluated} (limit {LIMIT});"
            f" statuses {dict(sorted(side.burst_statuses.items()))};"
            f" right password after: {side.after_burst}"
        )
        statuses = await lock_account(aiohttp, target, login_of(plan.locked_hidden))
        log(f"  locking {login_of(plan.locked_hidden)}: answered {statuses}")
        side.visibility = await visibility(
            aiohttp, target, plan.pool, plan.locked_hidden, a.seconds
        )
        log(visibility_line(side.visibility))
    finally:
        server.stop()
    return side


async def run_portcullis(aiohttp, a, plan: Plan, work: Path) -> Side:
    side = Side("portcullis")
    log(f"\n== {side.name} ({a.bin}) ==")
    token = secrets.token_urlsafe(32)
    pdir = work / "portcullis"
    pdir.mkdir()
    server = Portcullis(a.bin, pdir, token)
    try:
        base = server.base
        target = PortcullisTarget(base)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        connector = aiohttp.TCPConnector(limit=16)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as s:
            t0 = time.monotonic()
            await admin(s, "POST", f"{base}/v1/orgs", token, {"id": ORG})
            lockout = f"{base}/v1/orgs/{ORG}/policy/lockout"
            # The peer's rule: per login name, 5 failures, locked 15 minutes, failures kept
            # until the lock (no window), not reset by a success; no per-address blocking.
            await admin(
                s,
                "PATCH",
                lockout,
                token,
                {
                    "max_password_attempts": LIMIT,
                    "lock_duration": COOLOFF_SECONDS,
                    "window": None,
                    "reset_after_success": False,
                    "scope": "login",
                    "reveal_lock": True,
                },
            )
            await admin(
                s, "PATCH", f"{base}/v1/orgs/{ORG}/policy/brute_force", token, {"enabled": False}
            )
            ids: dict = {}
            queue = list(range(plan.users))

            async def create() -> None:
                while queue:
                    i = queue.pop()
                    user = await admin(
                        s,
                        "POST",
                        f"{base}/v1/orgs/{ORG}/users",
                        token,
                        {"login": login_of(i), "password": password_of(i)},
                    )
                    ids[i] = user["id"]

            await asyncio.gather(*(create() for _ in range(8)))
            side.setup_seconds = time.monotonic() - t0
            log(f"  {plan.users} users created through the API in {side.setup_seconds:.0f} s")

            await common_scenarios(
                aiohttp,
                target,
                side,
                plan,
                a,
                lambda seconds: portcullis_raw_rate(a.cores, seconds),
                f"argon2id verify, its Hasher m=19MiB t=2 p=1, {a.cores} threads",
            )
            await admin(s, "PATCH", lockout, token, {"reveal_lock": False})
            side.locked_hidden = await drive(
                aiohttp,
                target,
                a.connections,
                a.seconds,
                401,
                fixed_maker(target, login_of(plan.locked), password_of(plan.locked)),
            )
            report("  same, reveal_lock false (401)", side.locked_hidden, "rej/s")
            await admin(s, "PATCH", lockout, token, {"reveal_lock": True})

            cursor = await last_event(s, base, token)
            for u in plan.exact:
                before = await hashes_total(s, base)
                res = await burst(aiohttp, target, login_of(u))
                side.evaluated.append(await hashes_total(s, base) - before)
                for r in res:
                    side.burst_statuses[r[0]] = side.burst_statuses.get(r[0], 0) + 1
                st = (await post_once(s, target, login_of(u), password_of(u)))[0]
                side.after_burst[st] = side.after_burst.get(st, 0) + 1
            events = await failed_events(s, base, token, cursor)
            side.evaluated_check = [events.get(ids[u], 0) for u in plan.exact]
            log(
                f"  {BURST} concurrent wrong passwords x {len(plan.exact)} fresh users: evaluated "
                f"{side.evaluated} (hash metric), {side.evaluated_check} (login.failed events)"
                f" (limit {LIMIT}); statuses {dict(sorted(side.burst_statuses.items()))};"
                f" right password after: {side.after_burst}"
            )
            if side.evaluated != side.evaluated_check:
                log("  WARNING: the hash metric and the events disagree")

            await admin(s, "PATCH", lockout, token, {"reveal_lock": False})
            statuses = await lock_account(aiohttp, target, login_of(plan.locked_hidden))
            lock = await admin(
                s,
                "GET",
                f"{base}/v1/orgs/{ORG}/users/{ids[plan.locked_hidden]}/lock",
                token,
                ok=(200, 404),
            )
            log(
                f"  locking {login_of(plan.locked_hidden)} (reveal_lock false):"
                f" answered {statuses};"
                f" lock in force: {bool(lock and lock.get('locked'))}"
            )
            side.visibility = await visibility(
                aiohttp, target, plan.pool, plan.locked_hidden, a.seconds
            )
            log(visibility_line(side.visibility))
    finally:
        server.stop()
    return side


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------


def table(peer: Side, pc: Side, a) -> str:
    rows = []

    def row(label: str, p, c, ratio="") -> None:
        rows.append((label, p, c, ratio))

    def r(x: float, y: float) -> str:
        return f"{x / y:.2f}" if y else "-"

    row(
        f"raw argon2 verify, {a.cores} procs/threads (hashes/s)", f"{peer.raw:.1f}", f"{pc.raw:.1f}"
    )
    pl, cl = peer.logins.per_second, pc.logins.per_second
    row(f"1. successful logins/s, {a.connections} connections", f"{pl:.1f}", f"{cl:.1f}")
    row(
        "   logins/s ÷ raw hashes/s",
        f"{pl / peer.raw:.2f}",
        f"{cl / pc.raw:.2f}",
        r(cl / pc.raw, pl / peer.raw),
    )
    row("   login p50 (ms)", f"{peer.logins.p50_ms:.1f}", f"{pc.logins.p50_ms:.1f}")
    row(
        f"2. locked account rejections/s, {a.connections} conns",
        f"{peer.locked.per_second:.1f} (429){bound(peer.locked)}",
        f"{pc.locked.per_second:.1f} (403){bound(pc.locked)}",
        r(pc.locked.per_second, peer.locked.per_second),
    )
    row("   rejection p50 (ms)", f"{peer.locked.p50_ms:.2f}", f"{pc.locked.p50_ms:.2f}")
    row(
        "   reveal_lock false: rejections/s, p50",
        "-",
        f"{pc.locked_hidden.per_second:.1f} (401), {pc.locked_hidden.p50_ms:.1f} ms",
    )
    pe = [max(0, e - LIMIT) for e in peer.evaluated]
    ce = [max(0, e - LIMIT) for e in pc.evaluated]
    row(
        f"3. evaluated beyond limit {LIMIT}, {BURST} at once x {len(pe)} users",
        f"{sum(pe)} (max {max(pe)}/user)",
        f"{sum(ce)} (max {max(ce)}/user)",
    )
    pv, cv = peer.visibility, pc.visibility
    row(
        "4. status: wrong password / locked",
        f"{fmt_st(pv['wrong'])} / {fmt_st(pv['locked'])}",
        f"{fmt_st(cv['wrong'])} / {fmt_st(cv['locked'])}",
    )
    row(
        "   p50 ms: wrong password / locked",
        f"{pv['wrong']['p50_ms']:.1f} / {pv['locked']['p50_ms']:.1f}",
        f"{cv['wrong']['p50_ms']:.1f} / {cv['locked']['p50_ms']:.1f}",
    )
    row(
        "   locked p50 ÷ wrong p50 (1.00 = no timing oracle)",
        r(pv["locked"]["p50_ms"], pv["wrong"]["p50_ms"]),
        r(cv["locked"]["p50_ms"], cv["wrong"]["p50_ms"]),
    )
    row(
        "   lock visible by status",
        yes(pv["wrong"]["statuses"] != pv["locked"]["statuses"]),
        yes(cv["wrong"]["statuses"] != cv["locked"]["statuses"]),
    )
    row("server errors (5xx), all scenarios", str(server_errors(peer)), str(server_errors(pc)))
    w = [
        max(len(x[i]) for x in rows + [("", "django-axes", "portcullis", "portcullis ÷ peer")])
        for i in range(4)
    ]
    out = [
        f"{'':<{w[0]}}  {'django-axes':>{w[1]}}  {'portcullis':>{w[2]}}"
        f"  {'portcullis ÷ peer':>{w[3]}}"
    ]
    out += [f"{a_:<{w[0]}}  {b:>{w[1]}}  {c:>{w[2]}}  {d:>{w[3]}}" for a_, b, c, d in rows]
    figures = [
        f for side in (peer, pc) for f in (side.logins, side.locked, side.locked_hidden) if f
    ]
    if any(bound(f) for f in figures):
        out.append(
            f"* the client used {100 * CLIENT_BOUND:.0f} % of a core or more: the figure is the"
            " client's ceiling, a lower bound for the server"
        )
    return "\n".join(out)


def bound(f: Figures) -> str:
    return " *" if f.driver_cpu >= CLIENT_BOUND else ""


def server_errors(side: Side) -> int:
    counts = [side.burst_statuses, side.after_burst]
    counts += [f.statuses for f in (side.logins, side.locked, side.locked_hidden) if f]
    counts += [v["statuses"] for v in side.visibility.values()]
    return sum(n for c in counts for status, n in c.items() if status >= 500)


def fmt_st(v: dict) -> str:
    return ",".join(str(s) for s in v["statuses"]) or "-"


def yes(b: bool) -> str:
    return "yes" if b else "no"


def as_json(side: Side) -> dict:
    d = {k: v for k, v in side.__dict__.items() if not isinstance(v, Figures)}
    for k in ("logins", "locked", "locked_hidden"):
        f = getattr(side, k)
        if f is not None:
            d[k] = dict(f.__dict__, per_second=f.per_second)
    return d


# --------------------------------------------------------------------------------------------


def parse_args(argv: list) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="scripts/bench-peer",
        description="portcullis and a Django + django-axes peer, one after the other, "
        "same users, same lockout rule, same client; prints a table of ratios.",
    )
    ap.add_argument(
        "--bin",
        type=Path,
        default=None,
        help="the portcullis binary (env PORTCULLIS_BIN; default " "target/release/portcullis)",
    )
    ap.add_argument(
        "--peer",
        type=Path,
        default=Path(os.environ.get("BENCH_PEER_DIR", "../shared/peers/django-axes")),
        help="the peer's folder, relative to the repository root (env BENCH_PEER_DIR;"
        " default: %(default)s); copied, never written",
    )
    ap.add_argument("--seconds", type=float, default=None, help="per scenario (default 10)")
    ap.add_argument("--users", type=int, default=None, help="users on each side (default 1000)")
    ap.add_argument(
        "--connections",
        type=int,
        default=16,
        help="concurrent connections for scenarios 1 and 2 (default 16)",
    )
    ap.add_argument(
        "--exact-users",
        type=int,
        default=None,
        help=f"fresh users hit by {BURST} wrong passwords at once (default 20)",
    )
    ap.add_argument(
        "--peer-workers",
        type=int,
        default=None,
        help="gunicorn sync workers (default: one per core)",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the figures there")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 2 s per scenario, 40 users, 3 fresh users",
    )
    ap.add_argument("--seed-peer", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    quick = a.quick
    a.seconds = a.seconds if a.seconds is not None else (2.0 if quick else 10.0)
    a.users = a.users if a.users is not None else (40 if quick else 1000)
    a.exact_users = a.exact_users if a.exact_users is not None else (3 if quick else 20)
    a.cores = len(os.sched_getaffinity(0))
    a.peer_workers = a.peer_workers or a.cores
    if a.bin is None:
        env_bin = os.environ.get("PORTCULLIS_BIN")
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
        a.bin = Path(env_bin) if env_bin else target / "release" / "portcullis"
    a.bin = a.bin.resolve()
    if not a.peer.is_absolute():
        a.peer = (REPO / a.peer).resolve()
    if not (0 < a.seconds <= 600):
        die("--seconds must be in (0, 600]")
    if not (1 <= a.connections <= 1024):
        die("--connections must be in [1, 1024]")
    if not (1 <= a.exact_users <= 1000):
        die("--exact-users must be in [1, 1000]")
    if not (1 <= a.users <= 100_000):
        die("--users must be in [1, 100000]")
    return a


def main(argv: list) -> None:
    a = parse_args(argv)
    if a.seed_peer:
        seed_peer(a.seed_peer[0], int(a.seed_peer[1]), int(a.seed_peer[2]))
        return
    if not (a.bin.is_file() and os.access(a.bin, os.X_OK)):
        die(
            f"no portcullis binary at {a.bin} (build it: cargo build --release -p "
            "portcullis-server, or pass --bin)"
        )
    plan = make_plan(a.users, a.exact_users, a.connections)

    def on_signal(signum, _frame):
        raise SystemExit(f"scripts/bench-peer: stopped by signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    import aiohttp

    log(
        f"scripts/bench-peer: {a.users} users per side, {a.seconds:g} s per scenario, "
        f"{a.connections} connections, {a.cores} cores, lockout: {LIMIT} failures per login "
        f"name, {COOLOFF_SECONDS // 60} min"
    )
    work = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    try:
        peer = asyncio.run(run_peer(aiohttp, a, plan, work))
        pc = asyncio.run(run_portcullis(aiohttp, a, plan, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log("\n" + table(peer, pc, a))
    if a.json:
        a.json.write_text(json.dumps({"peer": as_json(peer), "portcullis": as_json(pc)}, indent=1))
        log(f"\nfigures written to {a.json}")


if __name__ == "__main__":
    main(sys.argv[1:])
