"""The console and the hosted pages in headless Chromium, as people use them (issue 15):

- an administrator signs in with the bootstrap key, sets lockout to 3 attempts in the policy form
  (after a field error for an out-of-range value), a user is locked by three wrong passwords on
  the hosted login, the administrator sees the lock on the attacks page and lifts it, and the
  user signs in;
- the unblock link of the lock mail, opened in the browser, lifts a lock;
- a reset link sets a new password, a violation shown first;
- a second factor is enrolled through the QR page with a code computed from the secret, and the
  next sign-in asks for a code;
- the compliance page applies a preset after showing its changes.

Every page visited passes axe-core (no serious or critical violation), and each step leaves a
screenshot under tests/browser/screenshots/<test>/.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
from urllib.parse import parse_qs, urlsplit

from selenium.webdriver.common.by import By

from conftest import (
    GOOD_PASSWORD,
    assert_accessible,
    new_login,
    wait_clickable,
    wait_css,
    wait_path,
    wait_text,
)


def type_into(browser, css: str, text: str) -> None:
    field = wait_css(browser, css)
    field.clear()
    field.send_keys(text)


def console_sign_in(browser, server, shot) -> None:
    browser.get(server.url("/console/"))
    wait_path(browser, "/console/signin")
    assert_accessible(browser, "console sign-in")
    shot("console-sign-in")
    type_into(browser, "#f-key", server.root_token)
    wait_clickable(browser, "#key-sign-in").click()
    wait_path(browser, "/console/orgs")
    # The page never holds the key, and neither does any URL.
    assert server.root_token not in browser.page_source
    assert server.root_token not in browser.current_url


def hosted_sign_in(browser, server, org: str, login: str, password: str) -> None:
    browser.get(server.url(f"/orgs/{org}/login"))
    type_into(browser, "#f-login", login)
    type_into(browser, "#f-password", password)
    wait_clickable(browser, "#sign-in").click()


def totp(secret: str, period: int = 30, digits: int = 6, at: float | None = None) -> str:
    """RFC 6238 with SHA-1, the algorithm of the otpauth URI the server shows."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // period)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    number = (int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF) % 10**digits
    return str(number).zfill(digits)


def test_lockout_set_in_the_console_locks_on_the_hosted_login_and_is_lifted(server, browser, shot):
    api = server.api
    org = api.create_org("acme", "Acme Corporation")["id"]
    login = new_login()
    api.create_user(org, login)

    console_sign_in(browser, server, shot)
    assert_accessible(browser, "organizations")
    shot("organizations")
    browser.find_element(By.LINK_TEXT, org).click()
    wait_path(browser, f"/console/orgs/{org}/policy")
    assert_accessible(browser, "policy")

    # Out of range first: the service's violation shows next to the field, nothing written.
    type_into(browser, "#lockout-max_password_attempts", "0")
    wait_clickable(browser, "#save-lockout").click()
    error = wait_css(browser, "#lockout-max_password_attempts-error")
    assert "1" in error.text and "1000" in error.text, error.text
    field = browser.find_element(By.CSS_SELECTOR, "#lockout-max_password_attempts")
    assert field.get_attribute("aria-invalid") == "true"
    assert_accessible(browser, "policy with a field error")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", error)
    shot("policy-field-error")
    assert api.policy(org)["lockout"]["is_default"] is True

    type_into(browser, "#lockout-max_password_attempts", "3")
    reveal = browser.find_element(By.CSS_SELECTOR, "#lockout-reveal_lock")
    if not reveal.is_selected():
        reveal.click()
    wait_clickable(browser, "#save-lockout").click()
    wait_text(browser, "#title-lockout", "custom")
    shot("policy-saved")
    lockout = api.policy(org)["lockout"]
    assert lockout["value"]["max_password_attempts"] == 3 and lockout["value"]["reveal_lock"]

    # The user, in another browser session: three wrong passwords lock the account.
    browser.delete_all_cookies()
    for attempt in range(3):
        hosted_sign_in(browser, server, org, login, f"wrong password number {attempt}")
        wait_text(browser, ".alert", "wrong")
    shot("hosted-login-wrong")
    assert_accessible(browser, "hosted login with an error")
    hosted_sign_in(browser, server, org, login, GOOD_PASSWORD)
    wait_text(browser, ".alert", "locked")
    shot("hosted-login-locked")

    # The administrator sees the lock on the attacks page and lifts it.
    browser.delete_all_cookies()
    console_sign_in(browser, server, shot)
    browser.get(server.url(f"/console/orgs/{org}/attacks"))
    row = wait_css(browser, f"#locks tr[data-login='{login}']")
    assert "3" in row.text, row.text
    assert_accessible(browser, "attacks")
    shot("attacks-locked")
    row.find_element(By.CSS_SELECTOR, "button").click()
    wait_css(browser, "#no-locks")
    shot("attacks-lifted")

    # The user signs in.
    browser.delete_all_cookies()
    hosted_sign_in(browser, server, org, login, GOOD_PASSWORD)
    wait_path(browser, f"/orgs/{org}/account")
    wait_text(browser, "#account-login", login)
    assert_accessible(browser, "account")
    shot("account")


def test_the_unblock_link_of_the_lock_mail_lifts_the_lock(server, browser, shot):
    api = server.api
    org = api.create_org()["id"]
    login = new_login()
    api.create_user(org, login, email="locked@browser.test")
    api.patch_section(
        org,
        "lockout",
        {"max_password_attempts": 2, "notify_user": True, "allow_self_unblock": True},
    )
    for _ in range(2):
        assert api.login(org, login, "not my password at all").status_code == 401
    assert api.login(org, login, GOOD_PASSWORD).status_code != 200  # locked

    mail = server.wait_for_mail(lambda m: m.to == ["locked@browser.test"])
    link = server.link_in(mail, "/unblock")
    assert link.startswith(server.base_url + "/unblock?token="), link
    browser.get(link)
    assert_accessible(browser, "unblock")
    shot("unblock-link")
    # Opening the link changed nothing; the button does.
    assert api.login(org, login, GOOD_PASSWORD).status_code != 200
    wait_clickable(browser, "#unblock-form button").click()
    wait_text(browser, "h1", "Account unlocked")
    shot("unblock-done")
    assert api.login(org, login, GOOD_PASSWORD).status_code == 200
    # The link works once.
    browser.get(link)
    wait_clickable(browser, "#unblock-form button").click()
    wait_text(browser, "h1", "Link not valid")


def test_a_reset_link_sets_a_new_password_after_showing_a_violation(server, browser, shot):
    api = server.api
    org = api.create_org()["id"]
    login = new_login()
    api.create_user(org, login, email="forgetful@browser.test")
    api.patch_section(org, "features", {"forgot_password_enabled": True})

    browser.get(server.url(f"/orgs/{org}/login"))
    browser.find_element(By.LINK_TEXT, "Forgot your password?").click()
    wait_path(browser, f"/orgs/{org}/forgot-password")
    assert_accessible(browser, "forgot password")
    type_into(browser, "#f-login", login)
    wait_clickable(browser, "#forgot-form button").click()
    wait_text(browser, "h1", "Check your mail")
    shot("forgot-sent")

    mail = server.wait_for_mail(lambda m: m.to == ["forgetful@browser.test"])
    link = server.link_in(mail, "/reset-password")
    browser.get(link)
    assert_accessible(browser, "reset password")
    type_into(browser, "#f-new_password", "short")
    wait_clickable(browser, "#set-password").click()
    error = wait_css(browser, "#f-new_password-error li")
    assert "15" in error.text, error.text
    assert_accessible(browser, "reset password with a violation")
    shot("reset-violation")

    new_password = "a much longer brand new passphrase 7"
    type_into(browser, "#f-new_password", new_password)
    wait_clickable(browser, "#set-password").click()
    wait_text(browser, "h1", "Password set")
    shot("reset-done")
    assert api.login(org, login, new_password).status_code == 200
    assert api.login(org, login, GOOD_PASSWORD).status_code == 401


def test_totp_enrollment_through_the_qr_page_and_the_code_step(server, browser, shot):
    api = server.api
    org = api.create_org()["id"]
    login = new_login()
    api.create_user(org, login)

    hosted_sign_in(browser, server, org, login, GOOD_PASSWORD)
    wait_path(browser, f"/orgs/{org}/account")
    browser.get(server.url(f"/orgs/{org}/mfa"))
    wait_clickable(browser, "#start-totp").click()
    qr = wait_css(browser, "#totp-qr svg")
    assert qr.size["width"] > 100, qr.size
    secret = wait_css(browser, "#totp-secret").text.strip()
    uri = browser.find_element(By.CSS_SELECTOR, "input[name=uri]").get_attribute("value")
    params = parse_qs(urlsplit(uri).query)
    assert params["secret"] == [secret], uri
    assert params.get("algorithm", ["SHA1"]) == ["SHA1"] and params.get("digits", ["6"]) == ["6"]
    assert_accessible(browser, "totp enrollment")
    shot("totp-qr")

    type_into(browser, "#f-code", "000000" if totp(secret) != "000000" else "111111")
    wait_clickable(browser, "#confirm-totp").click()
    wait_css(browser, "#f-code-error")
    shot("totp-wrong-code")

    type_into(browser, "#f-code", totp(secret))
    wait_clickable(browser, "#confirm-totp").click()
    codes = wait_css(browser, "#recovery-codes")
    recovery = [li.text.strip() for li in codes.find_elements(By.TAG_NAME, "li")]
    assert len(recovery) == 10 and all(recovery), recovery
    assert_accessible(browser, "recovery codes")
    shot("totp-recovery-codes")

    # The next sign-in asks for a code: a recovery code (it works once) completes it.
    browser.delete_all_cookies()
    hosted_sign_in(browser, server, org, login, GOOD_PASSWORD)
    wait_css(browser, "#code-form")
    assert_accessible(browser, "second factor step")
    shot("code-step")
    type_into(browser, "#f-code", recovery[0])
    wait_clickable(browser, "#verify").click()
    wait_path(browser, f"/orgs/{org}/account")
    shot("signed-in-with-a-recovery-code")

    # Removing the factor asks for the password: a wrong one is shown under the field.
    browser.get(server.url(f"/orgs/{org}/mfa"))
    type_into(browser, "#remove-totp #f-password", "not my password at all")
    wait_clickable(browser, "#remove-totp button").click()
    wait_css(browser, "#f-password-error")
    assert_accessible(browser, "second factor removal refused")
    type_into(browser, "#remove-totp #f-password", GOOD_PASSWORD)
    wait_clickable(browser, "#remove-totp button").click()
    wait_text(browser, "h1", "Second factor removed")
    shot("second-factor-removed")


def test_the_compliance_page_applies_a_preset_after_showing_its_changes(server, browser, shot):
    api = server.api
    org = api.create_org()["id"]
    api.patch_section(org, "lockout", {"max_password_attempts": 1000})

    console_sign_in(browser, server, shot)
    browser.get(server.url(f"/console/orgs/{org}/compliance"))
    wait_css(browser, "section[id^=standard-]")
    assert_accessible(browser, "compliance")
    shot("compliance-report")
    failing = browser.find_elements(By.CSS_SELECTOR, "button[id^=preview-]")
    assert failing, "a policy with 1000 attempts fails some standard"
    standard = failing[0].get_attribute("id").removeprefix("preview-")
    # Failing rules come first in each report.
    rows = browser.find_elements(By.CSS_SELECTOR, f"#standard-{standard} tr.rule")
    statuses = [r.get_attribute("data-status") for r in rows]
    assert statuses and statuses[0] == "fail", statuses
    failing[0].click()
    changes = wait_css(browser, "#preset-changes")
    assert "lockout" in changes.text, changes.text
    assert_accessible(browser, "preset changes")
    shot("compliance-preview")
    assert api.policy(org)["lockout"]["value"]["max_password_attempts"] == 1000, "a dry run"
    wait_clickable(browser, "#confirm-apply").click()
    wait_text(browser, "h1", "Preset applied")
    shot("compliance-applied")
    report = api.request(
        "GET", f"/v1/orgs/{org}/compliance", params={"standard": standard}, expect=200
    ).json()
    assert report["summary"]["fail"] == 0, report["summary"]


def test_a_password_set_by_the_administrator_must_be_changed_checked_while_typed(
    server, browser, shot
):
    api = server.api
    org = api.create_org()["id"]
    login = new_login()
    user = api.create_user(org, login)
    default = api.request("GET", f"/v1/orgs/{org}/password-policies/default", expect=200).json()
    default["renew_on_first_login"] = True
    api.request(
        "PUT", f"/v1/orgs/{org}/password-policies/default", json_body=default, expect=200
    )

    # The administrator sets a password on the users page: with `renew_on_first_login`, the
    # user must change it.
    console_sign_in(browser, server, shot)
    browser.get(server.url(f"/console/orgs/{org}/users"))
    row = wait_css(browser, f"#users tr[data-login='{login}']")
    assert_accessible(browser, "users")
    row.find_element(By.TAG_NAME, "summary").click()
    temporary = "temporary passphrase from the admin"
    type_into(browser, f"#pw-{user['id']}", temporary)
    row.find_element(By.CSS_SELECTOR, "details button").click()
    wait_path(browser, f"/console/orgs/{org}/users")
    shot("users-password-set")

    browser.delete_all_cookies()
    hosted_sign_in(browser, server, org, login, temporary)
    wait_path(browser, f"/orgs/{org}/password")
    wait_text(browser, ".notice", "must be changed")
    rules = wait_css(browser, "ul.rules")
    assert "between 15 and 128 characters" in rules.text, rules.text
    assert_accessible(browser, "password change required")

    # The page's script asks the dry run while the new password is typed.
    type_into(browser, "#f-current_password", temporary)
    type_into(browser, "#f-new_password", "short")
    live = wait_css(browser, "#f-new_password-live li[data-code]")
    assert "15" in live.text, live.text
    shot("password-change-live-check")
    field = wait_css(browser, "#f-new_password")
    field.send_keys(" but now long enough to pass")
    wait_text(browser, "#f-new_password-live", "meets every rule")

    wait_clickable(browser, "#change-password").click()
    wait_path(browser, f"/orgs/{org}/account")
    sessions = wait_css(browser, "#sessions")
    assert "this session" in sessions.text, sessions.text
    assert_accessible(browser, "account with sessions")
    shot("account-sessions")
    assert api.login(org, login, "short but now long enough to pass").status_code == 200


def test_the_console_shows_where_a_users_sessions_come_from_and_ends_them(server, browser, shot):
    api = server.api
    org = api.create_org()["id"]
    login = new_login()
    user = api.create_user(org, login)
    for agent in ("Phone browser/2.0", "Laptop browser/5.1"):
        answer = api.request(
            "POST", f"/v1/orgs/{org}/login", token="",
            json_body={"login": login, "password": GOOD_PASSWORD},
            headers={"User-Agent": agent}, expect=200,
        )
        assert "token" in answer.json()["session"]

    console_sign_in(browser, server, shot)
    browser.get(server.url(f"/console/orgs/{org}/users"))
    row = wait_css(browser, f"#users tr[data-login='{login}']")
    row.find_element(By.LINK_TEXT, "Sessions").click()
    wait_path(browser, f"/console/orgs/{org}/users/{user['id']}/sessions")
    table = wait_css(browser, "#sessions")
    assert len(table.find_elements(By.CSS_SELECTOR, "tbody tr")) == 2, table.text
    assert "Phone browser/2.0" in table.text and "Laptop browser/5.1" in table.text, table.text
    assert_accessible(browser, "a user's sessions")
    shot("user-sessions")
    wait_clickable(browser, "#end-all").click()
    wait_text(browser, ".notice", "No live session")
    assert api.request("GET", f"/v1/orgs/{org}/users/{user['id']}/sessions", expect=200).json()[
        "items"
    ] == []

    # Organization-wide: nothing happens until the box is ticked.
    browser.get(server.url(f"/console/orgs/{org}/users"))
    wait_clickable(browser, "#sign-everyone-out").click()
    wait_text(browser, ".notice", "Nobody was signed out")
    assert_accessible(browser, "users with the organization-wide actions")
    wait_clickable(browser, "#confirm-passwords").click()
    wait_clickable(browser, "#expire-every-password").click()
    wait_path(browser, f"/console/orgs/{org}/users")
    shot("every-password-expired")
    answer = api.login(org, login, GOOD_PASSWORD)
    assert answer.status_code == 200 and answer.json()["password_change_required"] is True
