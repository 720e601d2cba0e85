"""Controls for the browser harness itself, on small static pages: no portcullis binary needed.

- Chromium renders a page served with a strict Content-Security-Policy, and the policy is in
  force (the page's inline script is refused, and the console shows it);
- axe-core runs in such a page all the same (WebDriver evaluation is not subject to the page's
  CSP): an accessible form passes `assert_accessible`, and a page with an unlabelled input and an
  image without alt text fails it, naming the rules `label` and `image-alt`;
- the SMTP sink receives a mail sent with smtplib (quoted-printable or base64 body decoded),
  `wait_for_mail` wakes when it arrives and fails when none does, and `link_in` picks the link
  with the asked path, which the browser then opens.

When a page test fails and these pass, the fault is in the page, not in the harness.
"""

from __future__ import annotations

import smtplib
import threading
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from conftest import (
    AccessibilityError,
    assert_accessible,
    console_log,
    link_in,
    wait_css,
    wait_path,
    wait_text,
)

CSP = "default-src 'self'; frame-ancestors 'none'"

ACCESSIBLE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in (harness)</title></head>
<body>
<main>
  <h1>Sign in</h1>
  <form method="post" action="/form">
    <p><label for="login">Login</label>
       <input id="login" name="login" autocomplete="username"></p>
    <p><label for="password">Password</label>
       <input id="password" name="password" type="password" autocomplete="current-password"></p>
    <button type="submit">Sign in</button>
  </form>
</main>
<script>document.documentElement.dataset.inlineScript = "ran";</script>
</body>
</html>
"""

INACCESSIBLE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Broken (harness)</title></head>
<body>
<main>
  <h1>Search</h1>
  <img src="/logo.svg" width="64" height="64">
  <form><input name="q" type="text"> <button type="submit">Go</button></form>
</main>
</body>
</html>
"""

UNBLOCK = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Unblock (harness)</title></head>
<body><main><h1>Unblock your account</h1></main></body>
</html>
"""

LOGO = """<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">
<circle cx="32" cy="32" r="28" fill="#1d4ed8"/></svg>
"""

PAGES = {
    "/form": ("text/html; charset=utf-8", ACCESSIBLE),
    "/broken": ("text/html; charset=utf-8", INACCESSIBLE),
    "/unblock": ("text/html; charset=utf-8", UNBLOCK),
    "/logo.svg": ("image/svg+xml", LOGO),
}


class _Pages(BaseHTTPRequestHandler):
    """Serves PAGES, each with the strict CSP header."""

    def do_GET(self) -> None:
        page = PAGES.get(urlsplit(self.path).path)
        if page is None:
            self.send_error(404)
            return
        content_type, text = page
        body = text.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def site():
    """The base URL of a local server of PAGES."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=httpd.serve_forever, name="static-pages", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_accessible_page_passes_under_a_strict_csp(browser, site, shot):
    browser.get(site + "/form")
    wait_css(browser, "#login")
    assert browser.title == "Sign in (harness)"
    # The CSP is in force: the page's own inline script was refused...
    assert browser.execute_script("return document.documentElement.dataset.inlineScript") is None
    assert any("Content Security Policy" in c["message"] for c in console_log(browser)), (
        "the console shows no CSP refusal"
    )
    # ...and axe, injected through WebDriver, runs all the same.
    violations = assert_accessible(browser, "the accessible form")
    assert browser.execute_script("return typeof axe.run") == "function"
    assert not [v for v in violations if v["impact"] in ("serious", "critical")], violations
    shot("accessible-form")


def test_inaccessible_page_fails_naming_the_rules(browser, site, shot):
    browser.get(site + "/broken")
    wait_css(browser, "img")
    assert browser.execute_script(
        "const i = document.querySelector('img'); return i.complete && i.naturalWidth"
    ) == 64, "the same-origin image did not load under the CSP"
    shot("inaccessible-page")
    with pytest.raises(AccessibilityError) as failed:
        assert_accessible(browser, "the broken page")
    message = str(failed.value)
    assert "the broken page" in message, message
    for rule, target in (("label", "input"), ("image-alt", "img")):
        assert f"- {rule} [" in message, message
        found = [v for v in failed.value.violations if v["id"] == rule]
        assert found and found[0]["impact"] in ("serious", "critical"), failed.value.violations
        assert any(target in t for t in found[0]["targets"]), found


def test_smtp_sink_receives_and_link_in_extracts(smtp_sink, browser, site, shot):
    # A long link and a non-ASCII word: the body goes quoted-printable or base64, as a real
    # mailer's may, and must come back decoded. The first link has another path; the wanted one
    # ends a sentence (the full stop is not part of it).
    link = f"{site}/unblock?token=" + "aB3-_" * 30
    msg = EmailMessage()
    msg["From"] = "Portcullis <portcullis@browser.test>"
    msg["To"] = "someone@browser.test"
    msg["Subject"] = "Your account is locked"
    msg.set_content(f"Grüße,\n\nSign in at {site}/form once it is lifted.\nLift it: {link}.\n")

    def send() -> None:
        with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
            smtp.send_message(msg)

    # Sent while wait_for_mail already waits: it must wake on the arrival.
    timer = threading.Timer(0.3, send)
    timer.start()
    try:
        mail = smtp_sink.wait_for_mail(lambda m: m.subject == "Your account is locked", timeout=10)
    finally:
        timer.join()
    assert mail.to == ["someone@browser.test"]
    assert mail.message["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    assert mail.body.startswith("Grüße,"), mail.body
    assert link_in(mail, "/unblock") == link
    assert link_in(mail, "/form") == f"{site}/form"
    with pytest.raises(AssertionError, match="no link to /reset-password"):
        link_in(mail, "/reset-password")
    with pytest.raises(AssertionError, match="no matching mail within"):
        smtp_sink.wait_for_mail(lambda m: m.subject == "never sent", timeout=0.3)
    assert len(smtp_sink.mailbox) == 1

    browser.get(link)
    wait_text(browser, "h1", "Unblock your account")
    wait_path(browser, "/unblock")
    shot("unblock-link")
