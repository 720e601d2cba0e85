"""Controls for the harness: the native helpers the dialect tests lean on, against `/v1` alone.

When a cross-dialect test fails and these pass, the fault is in the dialect, not in the harness.
"""

from __future__ import annotations

from conftest import GOOD_PASSWORD, new_login


def test_policy_document_has_every_section(org):
    policy = org.policy()
    for section in ("password", "lockout", "brute_force", "session", "tokens", "api_keys", "mfa", "features"):
        assert policy[section]["is_default"] is True, section
        assert "details" in policy[section] and "value" in policy[section], section
    assert org.native.default_password_policy(org.id)["id"] == "default"


def test_native_lockout_is_enforced(org):
    user = new_login()
    org.native.create_user(org.id, user)
    org.native.patch_section(org.id, "lockout", {"max_password_attempts": 3})
    for _ in range(3):
        r = org.native.login(org.id, user, "wrong password, definitely")
        assert r.status_code == 401 and r.json()["code"] == "invalid_credentials", r.text
    r = org.native.login(org.id, user, GOOD_PASSWORD)
    assert r.status_code == 403 and r.json()["code"] == "account_locked", r.text


def test_native_min_length_is_enforced_on_password_change(org):
    user = new_login()
    org.native.create_user(org.id, user)
    session = org.native.session_token(org.id, user, GOOD_PASSWORD)
    pw = org.native.default_password_policy(org.id)
    pw["min_length"] = 20
    org.native.request("PUT", f"/v1/orgs/{org.id}/password-policies/default", json_body=pw, expect=200)
    r = org.native.change_own_password(session, GOOD_PASSWORD, "nineteen chars 1234")
    assert r.status_code == 400, r.text
    assert "password.too_short" in [v["code"] for v in r.json()["violations"]]
    r = org.native.change_own_password(session, GOOD_PASSWORD, "twenty chars exactly")
    assert r.status_code == 200, r.text


def test_auditor_key_cannot_write_natively(org):
    r = org.native.request(
        "PATCH", f"/v1/orgs/{org.id}/policy/lockout", token=org.auditor_key,
        json_body={"max_password_attempts": 3},
    )
    assert r.status_code == 403, r.text
    r = org.native.request("GET", f"/v1/orgs/{org.id}/policy", token=org.auditor_key)
    assert r.status_code == 200, r.text
