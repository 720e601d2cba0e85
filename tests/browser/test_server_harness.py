"""Controls for the `server` fixture, against the release binary (PORTCULLIS_BIN): its setup
client works, and its mails reach the test's SMTP sink (the `PORTCULLIS_SMTP__*` wiring), so a
page test that waits for a mail waits for something that can come.

When a page test fails and these pass, the fault is in the page, not in the harness.
"""

from __future__ import annotations

from conftest import new_login, wait_css


def test_lock_mail_reaches_the_sink(server, browser, shot):
    api = server.api
    org = api.create_org()["id"]
    login = new_login()
    api.create_user(org, login, email="locked@browser.test")
    api.patch_section(org, "lockout", {"max_password_attempts": 2, "notify_user": True})
    for _ in range(2):
        r = api.login(org, login, "wrong password, definitely")
        assert r.status_code == 401, r.text

    mail = server.wait_for_mail(lambda m: m.to == ["locked@browser.test"])
    assert mail.subject and mail.body.startswith("Hello,"), mail
    assert [(m["kind"], m["recipient"]) for m in api.outbox(org)] == [
        ("account_locked", "locked@browser.test")
    ]
    # An organization-scoped key works with the same client.
    key = api.create_api_key(org, roles=["org_admin"])["key"]
    assert api.as_token(key).policy(org)["lockout"]["value"]["notify_user"] is True

    # The browser reaches the server (its base URL is one a page test can open).
    browser.get(server.url("/healthz"))
    assert wait_css(browser, "body").text.strip(), browser.page_source
    shot("healthz")
