"""One canonical policy, six doors: a value written through one dialect is read back, converted,
through every other dialect that exposes it and through `/v1`, and it is enforced by logins and
password changes on `/v1`.
"""

from __future__ import annotations

import pytest
from sailpoint.password_policies.models import PasswordPolicyV3Dto
from zitadel_client.models import (
    SettingsServiceGetLockoutSettingsRequest,
    SettingsServiceGetPasswordComplexitySettingsRequest,
    SettingsServiceGetPasswordExpirySettingsRequest,
)

from clients import (
    AGE,
    COMPLEXITY,
    LOCKOUT,
    V1,
    Huawei,
    PlusAuth,
    ctx,
    huawei_admin,
    policy_of,
    scw,
    sp,
    v2,
)
from conftest import GOOD_PASSWORD, new_login


class Doors:
    """Every dialect's client for one organization, with its admin credentials."""

    def __init__(self, base_url, org):
        self.org = org
        self.scaleway = scw(base_url, org.admin_key, org.id)
        self.zitadel = V1(base_url, org.admin_key, org.id)
        self.zitadel2 = v2(base_url, org.admin_key)
        self.huawei = Huawei(huawei_admin(base_url, org), org.id)
        self.sailpoint = sp(base_url, org.admin_key)
        self.plusauth = PlusAuth(base_url, org.admin_key)

    def zitadel2_lockout(self):
        return self.zitadel2.settings.get_lockout_settings(
            SettingsServiceGetLockoutSettingsRequest(ctx=ctx(self.org.id))
        ).settings

    def plusauth_settings(self) -> dict:
        return self.plusauth.get(self.org.id)


@pytest.fixture
def doors(base_url, org) -> Doors:
    return Doors(base_url, org)


def test_huawei_lockout_is_read_everywhere_and_enforced(doors, org):
    user = new_login()
    org.native.create_user(org.id, user)

    doors.huawei.set_login(login_failed_times=3)

    # Read back through every door.
    lockout = org.section("lockout")
    assert lockout["enabled"] is True and lockout["max_password_attempts"] == 3
    assert policy_of(doors.zitadel.get(LOCKOUT))["maxPasswordAttempts"] == "3"
    assert doors.zitadel2_lockout().max_password_attempts == "3"
    assert doors.scaleway.get_organization_security_settings().login_attempts_before_locked == 3
    # PlusAuth's write range is 5..250, but a read reports the canonical value.
    ab = doors.plusauth_settings()["policies"]["account_blocking"]
    assert ab["enabled"] is True and ab["allowed_attempts"] == 3
    assert doors.huawei.login()["login_failed_times"] == 3

    # Enforced: three failures lock the account, then even the right password is refused.
    for _ in range(3):
        r = org.native.login(org.id, user, "wrong password, definitely")
        assert r.status_code == 401, r.text
        assert r.json()["code"] == "invalid_credentials"
    r = org.native.login(org.id, user, GOOD_PASSWORD)
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "account_locked"


def test_lockout_switched_off_by_scaleway_is_not_enforced(doors, org):
    user = new_login()
    org.native.create_user(org.id, user)
    doors.huawei.set_login(login_failed_times=3)
    doors.scaleway.update_organization_security_settings(login_attempts_before_locked=0)

    assert org.section("lockout")["enabled"] is False
    assert "maxPasswordAttempts" not in policy_of(doors.zitadel.get(LOCKOUT))
    assert doors.plusauth_settings()["policies"]["account_blocking"]["enabled"] is False

    for _ in range(4):
        assert org.native.login(org.id, user, "wrong password, definitely").status_code == 401
    r = org.native.login(org.id, user, GOOD_PASSWORD)
    assert r.status_code == 200, r.text


def test_sailpoint_min_length_is_read_everywhere_and_enforced(doors, org):
    user = new_login()
    org.native.create_user(org.id, user)
    session = org.native.session_token(org.id, user, GOOD_PASSWORD)

    default = doors.sailpoint.get_password_policy_by_id_v1(id="default")
    default.min_length = 20
    doors.sailpoint.set_password_policy_v1(id="default", password_policy_v3_dto=default)

    assert org.native.default_password_policy(org.id)["min_length"] == 20
    assert policy_of(doors.zitadel.get(COMPLEXITY))["minLength"] == "20"
    assert doors.zitadel2.settings.get_password_complexity_settings(
        SettingsServiceGetPasswordComplexitySettingsRequest(ctx=ctx(org.id))
    ).settings.min_length == "20"
    assert doors.huawei.password()["minimum_password_length"] == 20
    assert doors.plusauth_settings()["policies"]["password"]["min"] == 20

    short = "nineteen chars 1234"  # 19 code points
    assert len(short) == 19
    r = org.native.change_own_password(session, GOOD_PASSWORD, short)
    assert r.status_code == 400, r.text
    codes = [v["code"] for v in r.json()["violations"]]
    assert "password.too_short" in codes, r.text

    long_enough = "twenty chars exactly"  # 20 code points
    assert len(long_enough) == 20
    r = org.native.change_own_password(session, GOOD_PASSWORD, long_enough)
    assert r.status_code == 200, r.text
    assert org.native.login(org.id, user, long_enough).status_code == 200


def test_zitadel_password_age_is_read_by_sailpoint_and_huawei(doors, org):
    doors.zitadel.add(AGE, {"maxAgeDays": 60, "expireWarnDays": 7})
    default = doors.sailpoint.get_password_policy_by_id_v1(id="default")
    assert default.enable_passwd_expiration is True
    assert default.password_expiration == 60
    assert default.first_expiration_reminder == 7
    assert doors.huawei.password()["password_validity_period"] == 60
    pw = org.native.default_password_policy(org.id)
    assert pw["expiration_enabled"] is True and pw["max_age_days"] == 60

    # Huawei turns it off (0); ZITADEL then reads 0 (omitted), SailPoint reads disabled.
    doors.huawei.set_password(password_validity_period=0)
    assert "maxAgeDays" not in policy_of(doors.zitadel.get(AGE))
    assert doors.zitadel2.settings.get_password_expiry_settings(
        SettingsServiceGetPasswordExpirySettingsRequest(ctx=ctx(org.id))
    ).settings.max_age_days in (None, "0", 0)
    assert doors.sailpoint.get_password_policy_by_id_v1(id="default").enable_passwd_expiration is False


def test_plusauth_password_rules_reach_sailpoint_and_zitadel(doors, org):
    doors.plusauth.patch(org.id, {"policies": {"password": {"min": 16, "upper_case": 1, "number": 2}}})
    default = doors.sailpoint.get_password_policy_by_id_v1(id="default")
    assert default.min_length == 16 and default.min_upper == 1 and default.min_numeric == 2
    complexity = policy_of(doors.zitadel.get(COMPLEXITY))
    assert complexity["minLength"] == "16"
    assert complexity.get("hasUppercase") is True and complexity.get("hasNumber") is True
    assert "hasSymbol" not in complexity


def test_scaleway_session_duration_is_plusauth_ttl_session(doors, org):
    doors.scaleway.update_organization_security_settings(max_login_session_duration="7200s")
    assert doors.plusauth_settings()["ttl"]["session"] == 7200
    doors.plusauth.patch(org.id, {"ttl": {"session": 5400}})
    out = doors.scaleway.get_organization_security_settings()
    assert out.max_login_session_duration == "5400s"
    assert org.section("session")["max_session_duration"] == 5400


def test_huawei_write_keeps_what_plusauth_set(doors, org):
    doors.plusauth.patch(
        org.id,
        {"policies": {"account_blocking": {"allowed_attempts": 50, "reset_after_success": False,
                                           "allow_user_unblock": True, "notification": True}}},
    )
    # Outside Huawei's 3..10, still reported as is.
    assert doors.huawei.login()["login_failed_times"] == 50

    doors.huawei.set_login(login_failed_times=4, lockout_duration=20)
    lockout = org.section("lockout")
    assert lockout["max_password_attempts"] == 4 and lockout["lock_duration"] == 1200
    assert lockout["reset_after_success"] is False
    assert lockout["allow_self_unblock"] is True
    assert lockout["notify_user"] is True
    ab = doors.plusauth_settings()["policies"]["account_blocking"]
    assert ab["allowed_attempts"] == 4 and ab["block_duration"] == 1200
    assert ab["reset_after_success"] is False and ab["allow_user_unblock"] is True


def test_native_values_are_converted_rounding_up(doors, org):
    org.native.patch_section(org.id, "lockout", {"lock_duration": 1000, "window": 3601})
    org.native.patch_section(org.id, "session", {"idle_timeout": 90})
    login = doors.huawei.login()
    assert login["lockout_duration"] == 17  # 1000 s = 16.7 min
    assert login["period_with_login_failures"] == 61  # outside 15..60, reported anyway
    assert login["session_timeout"] == 2  # 90 s = 1.5 min

    ab = doors.plusauth_settings()["policies"]["account_blocking"]
    assert ab["block_duration"] == 1000 and ab["duration"] == 3601

    # Scaleway's grace period is seconds: the default policy's grace_period, as set natively.
    pw = org.native.default_password_policy(org.id)
    pw["grace_period"] = 1234
    org.native.request("PUT", f"/v1/orgs/{org.id}/password-policies/default", json_body=pw, expect=200)
    assert doors.scaleway.get_organization_security_settings().grace_period_duration == "1234s"


def test_sailpoint_named_policy_is_not_the_default(doors, org):
    # A second SailPoint policy does not change what the default-policy dialects report.
    doors.sailpoint.create_password_policy_v1(
        password_policy_v3_dto=PasswordPolicyV3Dto(name="contractors", min_length=30, source_ids=["hr"])
    )
    assert doors.huawei.password()["minimum_password_length"] == 15
    assert policy_of(doors.zitadel.get(COMPLEXITY))["minLength"] == "15"
    assert doors.plusauth_settings()["policies"]["password"]["min"] == 15


def test_zitadel_lockout_reset_is_seen_everywhere(doors, org):
    doors.zitadel.add(LOCKOUT, {"maxPasswordAttempts": 7, "maxOtpAttempts": 2})
    assert doors.huawei.login()["login_failed_times"] == 7
    assert doors.scaleway.get_organization_security_settings().login_attempts_before_locked == 7
    doors.zitadel.reset(LOCKOUT)
    assert org.policy()["lockout"]["is_default"] is True
    assert doors.huawei.login()["login_failed_times"] == 10
    assert doors.plusauth_settings()["policies"]["account_blocking"]["allowed_attempts"] == 10
