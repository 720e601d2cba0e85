"""Shared harness of the interop suite.

One release server per test session (SQLite in a temporary directory, a chosen root token, cheap
argon2 settings), a native `/v1` client with the root token, and factories for fresh
organizations with an `org_admin` and an `org_auditor` API key, so that every test works on its own
organizations and the tests are independent of each other and of their order.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest
import requests

from clients import V3Driver, default_password_policy, password_policies

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ROOT_TOKEN = "interop-root-token-0123456789abcdef"
STARTUP_TIMEOUT = 30.0
HTTP_TIMEOUT = 30.0

# A password that satisfies the built-in default policy (15..128 code points, not in the
# blocklist, not containing the login).
GOOD_PASSWORD = "correct horse battery staple 9"


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


@dataclass
class Server:
    base_url: str
    root_token: str
    proc: subprocess.Popen
    workdir: Path
    stderr_path: Path

    def stderr_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no stderr>"


def _binary() -> Path:
    override = os.environ.get("PORTCULLIS_BIN")
    path = Path(override).resolve() if override else REPO / "target" / "release" / "portcullis"
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"the portcullis binary is not at {path}: build it with "
            "`cargo build --release -p portcullis-server` or set PORTCULLIS_BIN",
            pytrace=False,
        )
    return path


def start_server(workdir: Path) -> Server:
    """Starts a release server on a fresh SQLite file in `workdir` (see the module header)."""
    stderr_path = workdir / "stderr.log"
    env = {
        k: v
        for k, v in os.environ.items()
        # An outer PORTCULLIS_* configuration must not leak into the server under test.
        if not k.startswith("PORTCULLIS_")
    }
    env.update(
        {
            "PORTCULLIS_BOOTSTRAP_TOKEN": ROOT_TOKEN,
            "PORTCULLIS_HASHING__ARGON2_MEMORY_KIB": "64",
            "PORTCULLIS_HASHING__ARGON2_ITERATIONS": "1",
            "PORTCULLIS_LOG_LEVEL": "warn",
        }
    )
    stderr = open(stderr_path, "wb")
    proc = subprocess.Popen(
        [
            str(_binary()),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            f"sqlite://{workdir}/p.db",
        ],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
    )
    stderr.close()

    lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def pump() -> None:
        # Reads stdout to its end so that the server never blocks on a full pipe.
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw.decode("utf-8", errors="replace").rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, name="portcullis-stdout", daemon=True).start()

    addr = None
    seen = []
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while addr is None:
        remaining = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(remaining, 0.01))
        except queue.Empty:
            line = ""
        if line is None or remaining <= 0:
            proc.kill()
            proc.wait()
            pytest.fail(
                "portcullis did not print `listening on <addr>` "
                f"(exit {proc.returncode}); stdout: {seen!r}\nstderr:\n"
                + stderr_path.read_text(errors="replace")[-4000:],
                pytrace=False,
            )
        seen.append(line)
        if line.startswith("listening on "):
            addr = line[len("listening on ") :].strip()

    return Server(
        base_url=f"http://{addr}",
        root_token=ROOT_TOKEN,
        proc=proc,
        workdir=workdir,
        stderr_path=stderr_path,
    )


def stop_server(srv: Server) -> None:
    srv.proc.terminate()
    try:
        srv.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        srv.proc.kill()
        srv.proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    srv = start_server(tmp_path_factory.mktemp("portcullis"))
    yield srv
    stop_server(srv)


# --------------------------------------------------------------------------------------------
# The native API
# --------------------------------------------------------------------------------------------


class NativeError(AssertionError):
    pass


class Native:
    """A small `/v1` client (requests) with the root token unless another token is given."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.token = token
        self.http = requests.Session()

    def request(
        self, method: str, path: str, *, token: Optional[str] = None, json_body: Any = None,
        expect: Optional[int] = None, **kw,
    ) -> requests.Response:
        headers = kw.pop("headers", {})
        tok = self.token if token is None else token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        r = self.http.request(
            method, self.base_url + path, json=json_body, headers=headers,
            timeout=HTTP_TIMEOUT, **kw,
        )
        if expect is not None and r.status_code != expect:
            raise NativeError(
                f"{method} {path}: expected {expect}, got {r.status_code}: {r.text[:2000]}"
            )
        return r

    # -- organizations, users, keys -------------------------------------------------------

    def create_org(self, org_id: Optional[str] = None, name: Optional[str] = None) -> dict:
        org_id = org_id or str(uuid.uuid4())
        return self.request(
            "POST", "/v1/orgs", json_body={"id": org_id, "name": name or f"org {org_id}"},
            expect=201,
        ).json()

    def create_user(
        self, org: str, login: str, password: Optional[str] = GOOD_PASSWORD,
        roles: Optional[list] = None, **extra,
    ) -> dict:
        body = {"login": login, "password": password, **extra}
        if roles is not None:
            body["roles"] = roles
        return self.request("POST", f"/v1/orgs/{org}/users", json_body=body, expect=201).json()

    def create_api_key(
        self, org: str, name: str = "interop", roles: Optional[list] = None, **extra
    ) -> dict:
        """POST /v1/orgs/{org}/api-keys -> {"id", "key" (the secret), ...}."""
        body = {"name": name, **extra}
        if roles is not None:
            body["roles"] = roles
        out = self.request(
            "POST", f"/v1/orgs/{org}/api-keys", json_body=body, expect=201
        ).json()
        assert out.get("id") and out.get("key"), out
        return out

    def create_access_key(self, org: str, name: str = "interop-ak", roles: Optional[list] = None) -> dict:
        """POST /v1/orgs/{org}/access-keys -> 201 {"id": AK, "secret": SK, ...} (Huawei AK/SK)."""
        body: dict = {"name": name}
        if roles is not None:
            body["roles"] = roles
        out = self.request(
            "POST", f"/v1/orgs/{org}/access-keys", json_body=body, expect=201
        ).json()
        assert out.get("id") and out.get("secret"), out
        return out

    # -- policy ---------------------------------------------------------------------------

    def policy(self, org: str) -> dict:
        """The effective policy: {section: {is_default, details, value}} for every section."""
        return self.request("GET", f"/v1/orgs/{org}/policy", expect=200).json()

    def section(self, org: str, name: str) -> dict:
        """The value in force of one section."""
        return self.policy(org)[name]["value"]

    def password_policies(self, org: str) -> list:
        return password_policies(self.policy(org))

    def default_password_policy(self, org: str) -> dict:
        return default_password_policy(self.policy(org))

    def patch_section(self, org: str, name: str, patch: dict) -> dict:
        return self.request(
            "PATCH", f"/v1/orgs/{org}/policy/{name}", json_body=patch, expect=200
        ).json()

    # -- logins and passwords -------------------------------------------------------------

    def login(self, org: str, login: str, password: str) -> requests.Response:
        return self.request(
            "POST", f"/v1/orgs/{org}/login", token="",
            json_body={"login": login, "password": password},
        )

    def session_token(self, org: str, login: str, password: str) -> str:
        r = self.login(org, login, password)
        assert r.status_code == 200, r.text
        return r.json()["session"]["token"]

    def change_own_password(self, session_token: str, current: str, new: str) -> requests.Response:
        return self.request(
            "POST", "/v1/self/password", token=session_token,
            json_body={"current_password": current, "new_password": new},
        )


@pytest.fixture(scope="session")
def native(server: Server) -> Native:
    return Native(server.base_url, server.root_token)


@pytest.fixture(scope="session")
def base_url(server: Server) -> str:
    return server.base_url


# --------------------------------------------------------------------------------------------
# Fresh organizations
# --------------------------------------------------------------------------------------------


@dataclass
class Org:
    """A fresh organization with an org_admin and an org_auditor API key."""

    id: str
    admin: dict  # {"id", "key", ...} with roles ["org_admin"]
    auditor: dict  # {"id", "key", ...} with roles ["org_auditor"]
    native: Native = field(repr=False)

    @property
    def admin_key(self) -> str:
        return self.admin["key"]

    @property
    def auditor_key(self) -> str:
        return self.auditor["key"]

    def policy(self) -> dict:
        return self.native.policy(self.id)

    def section(self, name: str) -> dict:
        return self.native.section(self.id, name)


@pytest.fixture
def make_org(native: Native):
    """Factory: make_org() -> Org, a new organization with a UUID id and two API keys."""

    def make(name: Optional[str] = None) -> Org:
        org = native.create_org(name=name)
        org_id = org["id"]
        admin = native.create_api_key(org_id, "interop admin", roles=["org_admin"])
        auditor = native.create_api_key(org_id, "interop auditor", roles=["org_auditor"])
        return Org(id=org_id, admin=admin, auditor=auditor, native=native)

    return make


@pytest.fixture
def org(make_org) -> Org:
    return make_org()


@pytest.fixture
def other_org(make_org) -> Org:
    return make_org()


def new_login() -> str:
    return "user-" + uuid.uuid4().hex[:12]


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True, default=str)


# --------------------------------------------------------------------------------------------
# SailPoint 1.x (the driver subprocess, see clients.V3Driver)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def v3_driver():
    driver = V3Driver()
    yield driver
    driver.close()


@pytest.fixture
def run_v3(base_url, v3_driver):
    def run(ops: list, *, token=None, client_id=None, client_secret=None) -> list:
        results = v3_driver.run(
            {"base_url": base_url, "access_token": token, "client_id": client_id,
             "client_secret": client_secret, "ops": ops}
        )
        assert len(results) == len(ops), results
        return results

    return run
