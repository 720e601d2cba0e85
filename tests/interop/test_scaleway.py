"""Scaleway IAM organization security settings, driven by the official `scaleway` SDK (2.12.0).

`GET|PATCH /iam/v1alpha1/organizations/{organization_id}/security-settings`, `x-auth-token`.

SDK notes:
- `IamV1Alpha1API(client)` validates credentials locally (access key `^SCW[A-Z0-9]{17}$`, secret key
  and organization id UUIDs). Our API keys are not UUIDs, so the API is built with
  `IamV1Alpha1API(client, bypass_validation=True)` (an argument of `scaleway_core.api.API.__init__`,
  which skips `Client.validate()` altogether).
- Errors: `scaleway_core.api.ScalewayException` (a dataclass holding `.response`; `.status_code`;
  `str(e)` is the body). `ValidationError` (a subclass) only for `{"message": "Validation Error"}`.
- The SDK sends a `{}` body on GET.
"""

from __future__ import annotations

import json

import pytest
from scaleway_core.api import ScalewayException

from clients import default_password_policy, scw, scw_dict as as_dict


def error_body(exc: ScalewayException) -> dict:
    return json.loads(str(exc))


def expected_from_native(policy: dict) -> dict:
    """What Scaleway must report for a native policy (section 6 of the dialect notes)."""
    pw = default_password_policy(policy)
    lockout = policy["lockout"]["value"]
    return {
        "enforce_password_renewal": pw["renew_on_first_login"],
        "login_attempts_before_locked": lockout["max_password_attempts"] if lockout["enabled"] else 0,
        "grace_period_duration": f"{pw['grace_period']}s",
        "max_login_session_duration": f"{policy['session']['value']['max_session_duration']}s",
        "max_api_key_expiration_duration": f"{policy['api_keys']['value']['max_expiration']}s",
    }


def test_read_reports_the_inherited_policy(base_url, org):
    api = scw(base_url, org.admin_key, org.id)
    got = as_dict(api.get_organization_security_settings())
    assert got == expected_from_native(org.policy())
    # The built-in defaults, as documented in docs/policy-reference.md.
    assert got == {
        "enforce_password_renewal": False,
        "login_attempts_before_locked": 10,
        "grace_period_duration": "0s",
        "max_login_session_duration": "43200s",
        "max_api_key_expiration_duration": "0s",
    }


def test_explicit_organization_id_argument(base_url, org, other_org):
    # The organization comes from the method argument before the client's default.
    api = scw(base_url, org.admin_key, other_org.id)
    got = api.get_organization_security_settings(organization_id=org.id)
    assert as_dict(got) == expected_from_native(org.policy())


def test_update_then_read_back(base_url, org):
    api = scw(base_url, org.admin_key, org.id)
    out = api.update_organization_security_settings(
        enforce_password_renewal=True,
        grace_period_duration="3600s",
        login_attempts_before_locked=7,
        max_login_session_duration="7200s",
        max_api_key_expiration_duration="2592000s",
    )
    want = {
        "enforce_password_renewal": True,
        "login_attempts_before_locked": 7,
        "grace_period_duration": "3600s",
        "max_login_session_duration": "7200s",
        "max_api_key_expiration_duration": "2592000s",
    }
    assert as_dict(out) == want
    assert as_dict(api.get_organization_security_settings()) == want

    policy = org.policy()
    pw = default_password_policy(policy)
    assert pw["renew_on_first_login"] is True
    assert pw["grace_period"] == 3600
    assert policy["lockout"]["value"]["enabled"] is True
    assert policy["lockout"]["value"]["max_password_attempts"] == 7
    assert policy["session"]["value"]["max_session_duration"] == 7200
    assert policy["api_keys"]["value"]["max_expiration"] == 2592000
    for section in ("password", "lockout", "session", "api_keys"):
        assert policy[section]["is_default"] is False, section


def test_partial_update_changes_only_the_named_field(base_url, org):
    api = scw(base_url, org.admin_key, org.id)
    before = as_dict(api.get_organization_security_settings())
    native_before = org.policy()

    out = api.update_organization_security_settings(max_login_session_duration="86400s")
    assert as_dict(out) == {**before, "max_login_session_duration": "86400s"}

    after = org.policy()
    assert after["session"]["value"]["max_session_duration"] == 86400
    # Other sections were not written (still inherited, same stored value).
    for section in ("password", "lockout", "api_keys"):
        assert after[section] == native_before[section], section


def test_zero_attempts_turns_lockout_off_and_back_on(base_url, org):
    api = scw(base_url, org.admin_key, org.id)
    out = api.update_organization_security_settings(login_attempts_before_locked=0)
    assert out.login_attempts_before_locked == 0
    lockout = org.section("lockout")
    assert lockout["enabled"] is False
    assert api.get_organization_security_settings().login_attempts_before_locked == 0

    out = api.update_organization_security_settings(login_attempts_before_locked=4)
    assert out.login_attempts_before_locked == 4
    lockout = org.section("lockout")
    assert lockout["enabled"] is True
    assert lockout["max_password_attempts"] == 4


@pytest.mark.parametrize(
    "given, emitted",
    [
        ("3600.2s", "3601s"),  # a fraction rounds up
        ("600.000000000s", "600s"),  # the Go SDK's "%d.%09ds"
        ("7201.999s", "7202s"),
    ],
)
def test_durations_accept_fractions_and_round_up(base_url, org, given, emitted):
    api = scw(base_url, org.admin_key, org.id)
    out = api.update_organization_security_settings(max_login_session_duration=given)
    assert out.max_login_session_duration == emitted
    assert org.section("session")["max_session_duration"] == int(emitted[:-1])


def test_zero_means_no_maximum_for_api_keys(base_url, org):
    api = scw(base_url, org.admin_key, org.id)
    api.update_organization_security_settings(max_api_key_expiration_duration="86400s")
    assert org.section("api_keys")["max_expiration"] == 86400
    out = api.update_organization_security_settings(max_api_key_expiration_duration="0s")
    assert out.max_api_key_expiration_duration == "0s"
    assert org.section("api_keys")["max_expiration"] == 0


INVALID = [
    ("login_attempts_before_locked", 1001),
    ("grace_period_duration", "31536001s"),
    ("max_login_session_duration", "599s"),
    ("max_login_session_duration", "15552001s"),
    ("max_api_key_expiration_duration", "315360001s"),
    ("grace_period_duration", "-1s"),
    ("max_login_session_duration", "two hours"),  # not a duration at all
]


@pytest.mark.parametrize("field_name, value", INVALID, ids=[f"{f}={v}" for f, v in INVALID])
def test_out_of_range_is_refused_and_changes_nothing(base_url, org, field_name, value):
    api = scw(base_url, org.admin_key, org.id)
    before = as_dict(api.get_organization_security_settings())
    native_before = org.policy()

    with pytest.raises(ScalewayException) as info:
        # A valid change alongside: it must not be applied either.
        api.update_organization_security_settings(
            enforce_password_renewal=True, **{field_name: value}
        )
    exc = info.value
    assert exc.status_code == 400, str(exc)
    body = error_body(exc)
    assert body["type"] == "invalid_arguments", body
    assert body["message"], body
    names = [d["argument_name"] for d in body["details"]]
    assert field_name in names, body
    for d in body["details"]:
        assert d["reason"] == "constraint", body
        assert d["help_message"], body

    assert as_dict(api.get_organization_security_settings()) == before
    assert org.policy() == native_before


def test_several_violations_are_all_reported(base_url, org):
    api = scw(base_url, org.admin_key, org.id)
    with pytest.raises(ScalewayException) as info:
        api.update_organization_security_settings(
            login_attempts_before_locked=5000, max_login_session_duration="1s"
        )
    body = error_body(info.value)
    names = {d["argument_name"] for d in body["details"]}
    assert names >= {"login_attempts_before_locked", "max_login_session_duration"}, body


def test_another_organization_is_not_found(base_url, org, other_org):
    api = scw(base_url, org.admin_key, other_org.id)
    native_before = other_org.policy()
    for call in (
        lambda: api.get_organization_security_settings(),
        lambda: api.update_organization_security_settings(login_attempts_before_locked=3),
    ):
        with pytest.raises(ScalewayException) as info:
            call()
        assert info.value.status_code == 404, str(info.value)
        body = error_body(info.value)
        assert body["type"] == "not_found", body
        assert body["resource"] == "organization", body
    assert other_org.policy() == native_before


def test_unknown_organization_is_not_found_for_the_instance_admin(base_url, server):
    api = scw(base_url, server.root_token, "00000000-0000-4000-8000-000000000000")
    with pytest.raises(ScalewayException) as info:
        api.get_organization_security_settings()
    assert info.value.status_code == 404
    assert error_body(info.value)["type"] == "not_found"


def test_auditor_reads_but_cannot_write(base_url, org):
    api = scw(base_url, org.auditor_key, org.id)
    before = as_dict(api.get_organization_security_settings())
    assert before == expected_from_native(org.policy())
    native_before = org.policy()

    with pytest.raises(ScalewayException) as info:
        api.update_organization_security_settings(login_attempts_before_locked=3)
    assert info.value.status_code == 403, str(info.value)
    body = error_body(info.value)
    assert body["type"] == "permissions_denied", body
    assert body["message"], body
    assert org.policy() == native_before


def test_instance_admin_writes_any_organization(base_url, server, org):
    api = scw(base_url, server.root_token, org.id)
    out = api.update_organization_security_settings(login_attempts_before_locked=9)
    assert out.login_attempts_before_locked == 9
    assert org.section("lockout")["max_password_attempts"] == 9


@pytest.mark.parametrize("secret", ["not-a-key", "pck_" + "0" * 43, ""])
def test_bad_token_is_denied_authentication(base_url, org, secret):
    api = scw(base_url, secret or "x", org.id)
    if not secret:
        api.client.secret_key = None  # the SDK then sends no x-auth-token at all
    with pytest.raises(ScalewayException) as info:
        api.get_organization_security_settings()
    assert info.value.status_code == 401, str(info.value)
    body = error_body(info.value)
    assert body["type"] == "denied_authentication", body
