"""Shared harness of the browser suite.

- `smtp_sink`: an SMTP server (aiosmtpd) on 127.0.0.1 that keeps every mail it receives, with an
  event-driven `wait_for_mail` and `link_in` to pull a link out of a mail.
- `server`: one release server per test (SQLite in the test's temporary directory, a chosen root
  token, cheap argon2 settings) that delivers its mails to the test's own `smtp_sink`, with a
  small `/v1` client (`server.api`) for the setup a page test needs.
- `browser`: Debian's Chromium, headless, through Debian's chromedriver (explicit paths: Selenium
  Manager never runs, and nothing is downloaded), 1280x900, no implicit wait: wait with
  `wait_css`, `wait_text`, `wait_path` (explicit WebDriverWait).
- `shot(name)`: a numbered screenshot in `tests/browser/screenshots/<test>/NN-name.png`, kept
  after the run for people to look at. A failing test gets a last one (`NN-failure.png`) with
  its page source (`NN-failure.html`), and its report shows the browser console and the tail
  of the server's log.
- `assert_accessible(driver, context)`: runs axe-core (tests/browser/node_modules, `npm ci`) in
  the page and fails on every `serious` or `critical` violation; milder ones are printed.

The portcullis binary is looked up only when a test asks for `server`, so the harness's own
tests (test_harness.py) run without it.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import pytest
import requests
from aiosmtpd.controller import Controller
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE / "screenshots"
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"

# Debian's packages (`apt-get install chromium chromium-driver`); a browser download does not
# work on these machines, so nothing else is looked for.
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1280, 900)

ROOT_TOKEN = "browser-root-token-0123456789abcdef"
STARTUP_TIMEOUT = 30.0
HTTP_TIMEOUT = 30.0
WAIT = 10.0  # seconds an explicit wait for the page waits by default
MAIL_WAIT = 15.0  # seconds wait_for_mail waits by default (the server's sender looks every second)

# A password that satisfies the built-in default policy (15..128 code points, not in the
# blocklist, not containing the login).
GOOD_PASSWORD = "correct horse battery staple 9"

# Belt and braces: with the explicit driver path Selenium Manager is not asked at all; should a
# code path ask it anyway, it must not try the network.
os.environ["SE_OFFLINE"] = "true"


def new_login() -> str:
    return "user-" + uuid.uuid4().hex[:12]


# --------------------------------------------------------------------------------------------
# The SMTP sink
# --------------------------------------------------------------------------------------------


@dataclass
class Mail:
    """One received mail: the envelope recipients (the server sends administrators' mails as
    Bcc, so `to` is the envelope, not the header) and the decoded text (CRLF turned to LF)."""

    to: list[str]
    sender: str
    subject: str
    body: str
    message: email.message.EmailMessage = field(repr=False)


class SmtpSink:
    """Keeps every mail delivered to it; `wait_for_mail` wakes on each arrival."""

    def __init__(self) -> None:
        self.mailbox: list[Mail] = []
        self._arrived = threading.Condition()
        self._controller = _Controller(self, hostname="127.0.0.1", port=0)

    # aiosmtpd handler hook: called on the sink's own event-loop thread for each DATA.
    async def handle_DATA(self, server, session, envelope) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain", "html"))
        mail = Mail(
            to=list(envelope.rcpt_tos),
            sender=envelope.mail_from,
            subject=str(message.get("Subject", "")),
            body=part.get_content().replace("\r\n", "\n") if part is not None else "",
            message=message,
        )
        with self._arrived:
            self.mailbox.append(mail)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    @property
    def host(self) -> str:
        return self._controller.hostname

    @property
    def port(self) -> int:
        return self._controller.port

    def start(self) -> "SmtpSink":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def wait_for_mail(
        self, predicate: Optional[Callable[[Mail], bool]] = None, timeout: float = MAIL_WAIT
    ) -> Mail:
        """The first mail received (before or during the wait) that `predicate` accepts (any
        mail without one); fails after `timeout` seconds, listing what did arrive."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for mail in self.mailbox:
                    if predicate is None or predicate(mail):
                        return mail
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = [(m.to, m.subject) for m in self.mailbox] or "no mail at all"
                    raise AssertionError(
                        f"no matching mail within {timeout}s; received: {got}"
                    )
                self._arrived.wait(remaining)


class _Controller(Controller):
    """aiosmtpd's Controller on a port the system picks (`port=0`): the port is read back from
    the bound socket before the controller's start-up probe connects to it."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


_URL = re.compile(r"https?://[^\s<>\"']+")


def link_in(mail: Mail, path: str) -> str:
    """The first URL in the mail's body whose path starts with `path` (e.g. "/unblock")."""
    urls = [u.rstrip(".,;:!?)]}") for u in _URL.findall(mail.body)]
    for url in urls:
        if urlsplit(url).path.startswith(path):
            return url
    raise AssertionError(
        f"no link to {path}… in the mail {mail.subject!r}; links: {urls}; body:\n{mail.body}"
    )


@pytest.fixture
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


# --------------------------------------------------------------------------------------------
# The native API (setup only: the pages are what the tests look at)
# --------------------------------------------------------------------------------------------


class ApiError(AssertionError):
    pass


class Api:
    """A small `/v1` client (requests), with the root token unless another is given."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.token = token
        self.http = requests.Session()

    def as_token(self, token: str) -> "Api":
        """The same server with another bearer token (an API key's, a session's)."""
        return Api(self.base_url, token)

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
            raise ApiError(
                f"{method} {path}: expected {expect}, got {r.status_code}: {r.text[:2000]}"
            )
        return r

    def create_org(self, org_id: Optional[str] = None, name: Optional[str] = None) -> dict:
        """POST /v1/orgs -> the organization ({"id", "name", ...}); a UUID id by default."""
        org_id = org_id or str(uuid.uuid4())
        return self.request(
            "POST", "/v1/orgs", json_body={"id": org_id, "name": name or f"org {org_id}"},
            expect=201,
        ).json()

    def create_user(
        self, org: str, login: Optional[str] = None, password: Optional[str] = GOOD_PASSWORD, *,
        email: Optional[str] = None, roles: Optional[list] = None, **extra,
    ) -> dict:
        """POST /v1/orgs/{org}/users -> the user ({"id", "login", ...}); a new login by default."""
        body = {"login": login or new_login(), "password": password, **extra}
        if email is not None:
            body["email"] = email
        if roles is not None:
            body["roles"] = roles
        return self.request("POST", f"/v1/orgs/{org}/users", json_body=body, expect=201).json()

    def create_api_key(self, org: str, name: str = "browser", roles: Optional[list] = None) -> dict:
        """POST /v1/orgs/{org}/api-keys -> {"id", "key" (the secret), ...}."""
        body: dict = {"name": name}
        if roles is not None:
            body["roles"] = roles
        out = self.request("POST", f"/v1/orgs/{org}/api-keys", json_body=body, expect=201).json()
        assert out.get("id") and out.get("key"), out
        return out

    def policy(self, org: str) -> dict:
        """The effective policy: {section: {is_default, details, value}} for every section."""
        return self.request("GET", f"/v1/orgs/{org}/policy", expect=200).json()

    def put_section(self, org: str, section: str, value: dict) -> dict:
        """Replaces one section (fields left out take the built-in defaults)."""
        return self.request(
            "PUT", f"/v1/orgs/{org}/policy/{section}", json_body=value, expect=200
        ).json()

    def patch_section(self, org: str, section: str, patch: dict) -> dict:
        """Changes the given fields of one section, keeping the others in force."""
        return self.request(
            "PATCH", f"/v1/orgs/{org}/policy/{section}", json_body=patch, expect=200
        ).json()

    def outbox(self, org: str) -> list:
        """Every mail of the organization's outbox ({id, kind, recipient, subject, body,
        status, ...}), oldest first, all pages."""
        items: list = []
        after: Optional[str] = None
        while True:
            params = {"limit": 500, **({"after": after} if after is not None else {})}
            page = self.request("GET", f"/v1/orgs/{org}/outbox", params=params, expect=200).json()
            items += page["items"]
            after = page.get("next_after")
            if not after:
                return items

    def login(self, org: str, login: str, password: str) -> requests.Response:
        """POST /v1/orgs/{org}/login without a token (the answer is returned whatever it is)."""
        return self.request(
            "POST", f"/v1/orgs/{org}/login", token="",
            json_body={"login": login, "password": password},
        )


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


@dataclass
class Server:
    base_url: str
    root_token: str
    api: Api
    sink: SmtpSink
    proc: subprocess.Popen = field(repr=False)
    workdir: Path = field(repr=False)
    stderr_path: Path = field(repr=False)

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def mailbox(self) -> list[Mail]:
        return self.sink.mailbox

    def wait_for_mail(
        self, predicate: Optional[Callable[[Mail], bool]] = None, timeout: float = MAIL_WAIT
    ) -> Mail:
        return self.sink.wait_for_mail(predicate, timeout)

    @staticmethod
    def link_in(mail: Mail, path: str) -> str:
        return link_in(mail, path)

    def stderr_tail(self, lines: int = 40) -> str:
        try:
            tail = self.stderr_path.read_text(errors="replace").splitlines()[-lines:]
            return "\n".join(tail) or "<empty>"
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


def start_server(workdir: Path, sink: SmtpSink) -> Server:
    """Starts a release server on a fresh SQLite file in `workdir`, delivering to `sink`.

    PORTCULLIS_PUBLIC_URL is left unset: the server's mailed links then point at itself.
    """
    stderr_path = workdir / "stderr.log"
    # An outer PORTCULLIS_* configuration must not leak into the server under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_")}
    env.update(
        {
            "PORTCULLIS_BOOTSTRAP_TOKEN": ROOT_TOKEN,
            "PORTCULLIS_HASHING__ARGON2_MEMORY_KIB": "64",
            "PORTCULLIS_HASHING__ARGON2_ITERATIONS": "1",
            "PORTCULLIS_LOG_LEVEL": "warn",
            "PORTCULLIS_SMTP__HOST": sink.host,
            "PORTCULLIS_SMTP__PORT": str(sink.port),
            "PORTCULLIS_SMTP__TLS": "none",
            "PORTCULLIS_SMTP__INTERVAL_SECS": "1",
            "PORTCULLIS_SMTP__FROM": "Portcullis <portcullis@browser.test>",
        }
    )
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [
                str(_binary()), "serve",
                "--listen", "127.0.0.1:0",
                "--database-url", f"sqlite://{workdir}/p.db",
            ],
            cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
        )

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
            stop_server(proc)
            pytest.fail(
                f"portcullis did not print `listening on <addr>` (exit {proc.returncode}); "
                f"stdout: {seen!r}\nstderr:\n" + stderr_path.read_text(errors="replace")[-4000:],
                pytrace=False,
            )
        seen.append(line)
        if line.startswith("listening on "):
            addr = line[len("listening on "):].strip()

    base_url = f"http://{addr}"
    return Server(
        base_url=base_url, root_token=ROOT_TOKEN, api=Api(base_url, ROOT_TOKEN), sink=sink,
        proc=proc, workdir=workdir, stderr_path=stderr_path,
    )


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def server(tmp_path, smtp_sink) -> Server:
    """A fresh server for this test alone (its own database and mailbox)."""
    srv = start_server(tmp_path, smtp_sink)
    yield srv
    stop_server(srv.proc)


# --------------------------------------------------------------------------------------------
# The browser
# --------------------------------------------------------------------------------------------


def chromium_options(profile_dir: str) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root on CI
        "--disable-gpu",
        "--disable-dev-shm-usage",
        # This machine's network is closed: without these Chromium keeps connecting to Google's
        # services, and hangs or fails at start.
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile_dir}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--force-device-scale-factor=1",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    # The console (CSP reports, script errors) is read when a test fails.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


@pytest.fixture
def browser() -> WebDriver:
    """Headless Chromium (Debian's) for this test alone, with a fresh profile."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.fail(
                f"{path} is missing: apt-get install chromium chromium-driver", pytrace=False
            )
    profile = tempfile.mkdtemp(prefix="portcullis-chromium-")
    driver = None
    try:
        driver = webdriver.Chrome(
            options=chromium_options(profile), service=Service(executable_path=CHROMEDRIVER)
        )
        driver.implicitly_wait(0)
        driver.set_window_size(*WINDOW)
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(60)  # axe.run on a large page
        yield driver
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: WebDriver, condition, timeout: float = WAIT, message: str = ""):
    """WebDriverWait(driver, timeout).until(condition): the condition's first truthy answer."""
    return WebDriverWait(driver, timeout).until(condition, message)


def wait_css(driver: WebDriver, css: str, timeout: float = WAIT) -> WebElement:
    """The first element matching `css` once it is visible."""
    return wait_for(
        driver, EC.visibility_of_element_located(("css selector", css)), timeout,
        f"no visible element {css!r} on {driver.current_url}",
    )


def wait_clickable(driver: WebDriver, css: str, timeout: float = WAIT) -> WebElement:
    """The first element matching `css` once it is visible and enabled."""
    return wait_for(
        driver, EC.element_to_be_clickable(("css selector", css)), timeout,
        f"no clickable element {css!r} on {driver.current_url}",
    )


def wait_text(driver: WebDriver, css: str, text: str, timeout: float = WAIT) -> WebElement:
    """The first element matching `css` once its text contains `text`."""
    wait_for(
        driver, EC.text_to_be_present_in_element(("css selector", css), text), timeout,
        f"no {css!r} containing {text!r} on {driver.current_url}",
    )
    return driver.find_element("css selector", css)


def wait_path(driver: WebDriver, path: str, timeout: float = WAIT) -> str:
    """The current URL once its path is `path` (query and fragment ignored)."""
    return wait_for(
        driver, lambda d: d.current_url if urlsplit(d.current_url).path == path else None,
        timeout, f"the browser did not reach {path} (at {driver.current_url})",
    )


def console_log(driver: WebDriver) -> list[dict]:
    """The browser console since the last call ({level, message, timestamp})."""
    try:
        return driver.get_log("browser")
    except Exception:  # a dead session: nothing to tell
        return []


# --------------------------------------------------------------------------------------------
# Screenshots
# --------------------------------------------------------------------------------------------


class Shots:
    """Numbered screenshots of one test in screenshots/<test name>/ (emptied at its start)."""

    def __init__(self, test_name: str):
        self.dir = SCREENSHOTS / re.sub(r"[^A-Za-z0-9._-]+", "_", test_name).strip("_")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.count = 0

    def take(self, driver: WebDriver, name: str) -> Path:
        self.count += 1
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{self.count:02d}-{re.sub(r'[^A-Za-z0-9._-]+', '-', name)}.png"
        if not driver.save_screenshot(str(path)):
            raise AssertionError(f"the screenshot {path} could not be taken")
        return path


@pytest.fixture
def shots(request) -> Shots:
    return Shots(request.node.name)


@pytest.fixture
def shot(browser, shots) -> Callable[[str], Path]:
    """shot(name) -> the path of a new numbered screenshot of the browser's page."""
    return lambda name: shots.take(browser, name)


# --------------------------------------------------------------------------------------------
# Accessibility (axe-core)
# --------------------------------------------------------------------------------------------


class AccessibilityError(AssertionError):
    """Serious or critical axe violations; `violations` holds every one axe found."""

    def __init__(self, message: str, violations: list[dict]):
        super().__init__(message)
        self.violations = violations


_AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(
  (r) => done({violations: r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    targets: v.nodes.map((n) => n.target.map((t) => [].concat(t).join(' >>> ')).join(' >> ')),
  }))}),
  (e) => done({error: String(e && e.stack || e)}));
"""

_axe_source: Optional[str] = None


def _describe(v: dict) -> str:
    return f"{v['id']} [{v['impact']}] {v['help']} ({v['helpUrl']})\n" + "".join(
        f"      {t}\n" for t in v["targets"]
    )


def assert_accessible(driver: WebDriver, context_name: str) -> list[dict]:
    """Runs axe-core on the current page and fails on every `serious` or `critical` violation
    (rule id, help, target selectors); `minor` and `moderate` ones are printed. Answers every
    violation found.

    The script goes in through WebDriver (DevTools evaluation), so the page's
    Content-Security-Policy does not stop it (test_harness.py checks that).
    """
    global _axe_source
    if _axe_source is None:
        if not AXE_JS.is_file():
            pytest.fail(f"{AXE_JS} is missing: run `npm ci` in tests/browser", pytrace=False)
        _axe_source = AXE_JS.read_text(encoding="utf-8")
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(_axe_source)
    out = driver.execute_async_script(_AXE_RUN)
    if "error" in out:
        raise AssertionError(
            f"axe.run failed on {context_name} ({driver.current_url}): {out['error']}"
        )
    violations = out["violations"]
    blocking = [v for v in violations if v["impact"] in ("serious", "critical")]
    milder = [v for v in violations if v not in blocking]
    if milder:
        print(f"axe on {context_name}: {len(milder)} minor/moderate violation(s), not failed:")
        for v in milder:
            print("  - " + _describe(v), end="")
    if blocking:
        raise AccessibilityError(
            f"axe found {len(blocking)} serious/critical violation(s) on {context_name} "
            f"({driver.current_url}):\n" + "".join("  - " + _describe(v) for v in blocking),
            violations,
        )
    return violations


# --------------------------------------------------------------------------------------------
# Reports: a failing test's last screenshot, browser console and server log
# --------------------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call" and rep.failed:
        driver = item.funcargs.get("browser")
        if isinstance(driver, WebDriver):
            shots = item.funcargs.get("shots") or Shots(item.name)
            try:
                png = shots.take(driver, "failure")
                png.with_suffix(".html").write_text(driver.page_source, encoding="utf-8")
                rep.sections.append(("browser", f"at {driver.current_url}\nscreenshot: {png}"))
            except Exception as e:  # the browser may be what failed
                rep.sections.append(("browser", f"no failure screenshot: {e!r}"))
            console = console_log(driver)
            if console:
                rep.sections.append(
                    ("browser console", "\n".join(f"{c['level']} {c['message']}" for c in console))
                )
        srv = item.funcargs.get("server")
        if isinstance(srv, Server):
            rep.sections.append(("portcullis stderr (last lines)", srv.stderr_tail()))
    return rep
