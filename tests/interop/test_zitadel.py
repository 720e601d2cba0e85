"""ZITADEL lockout, password complexity, password age and login policies, driven by the official
`zitadel-client` (4.1.9).

The SDK only wraps the v2 Connect services (`Zitadel.settings.get_lockout_settings(...)` etc., the
organization in the body's `ctx`). The v1 REST (grpc-gateway) policies, where all writes live, are
called through the SDK's own `ApiClient` (`param_serialize` / `call_api` / `response_deserialize`),
with the organization in the `x-zitadel-orgid` header, as the dialect notes show.

Errors: `zitadel_client.exceptions.ApiError` for any non-2xx answer (v1 through
`response_deserialize`, v2 inside the generated methods), with `.code` = HTTP status and
`.response_body` = the parsed JSON (`{"code": <gRPC code>, "message": ..., "details": [...]}`).
"""

from __future__ import annotations

import pytest
from zitadel_client.exceptions import ApiError
from zitadel_client.models import (
    SettingsServiceGetLockoutSettingsRequest,
    SettingsServiceGetLoginSettingsRequest,
    SettingsServiceGetPasswordComplexitySettingsRequest,
    SettingsServiceGetPasswordExpirySettingsRequest,
)

from clients import AGE, COMPLEXITY, LOCKOUT, LOGIN, V1, ctx, policy_of, v2

GRPC_INVALID_ARGUMENT = 3
GRPC_NOT_FOUND = 5
GRPC_ALREADY_EXISTS = 6
GRPC_PERMISSION_DENIED = 7
GRPC_FAILED_PRECONDITION = 9
GRPC_UNAUTHENTICATED = 16

def grpc_error(info, status: int, code: int) -> dict:
    exc = info.value
    assert isinstance(exc, ApiError)
    body = exc.response_body
    assert exc.code == status, (exc.code, body)
    assert isinstance(body, dict), body
    assert body.get("code") == code, body
    assert body.get("message"), body
    return body


# --------------------------------------------------------------------------------------------
# Lockout
# --------------------------------------------------------------------------------------------


def test_lockout_inherited_default(base_url, org):
    api = V1(base_url, org.admin_key, org.id)
    answer = api.get(LOCKOUT)
    pol = policy_of(answer)
    assert pol.get("isDefault") is True, answer
    assert answer.get("isDefault") is True, answer  # the deprecated top-level copy
    # uint64 are strings in protojson.
    assert pol["maxPasswordAttempts"] == "10", pol
    assert pol["maxOtpAttempts"] == "10", pol
    details = pol.get("details", {})
    assert details.get("sequence") is None or isinstance(details["sequence"], str), details

    default = policy_of(api.get("/management/v1/policies/default/lockout"))
    assert default["maxPasswordAttempts"] == "10"


def test_lockout_default_org_is_the_key_organization(base_url, org):
    # Without x-zitadel-orgid, the organization is the caller's.
    api = V1(base_url, org.admin_key, org=None)
    api.add(LOCKOUT, {"maxPasswordAttempts": 6, "maxOtpAttempts": 2})
    assert org.section("lockout")["max_password_attempts"] == 6


def test_lockout_add_update_reset_lifecycle(base_url, org):
    api = V1(base_url, org.admin_key, org.id)

    answer = api.add(LOCKOUT, {"maxPasswordAttempts": 5, "maxOtpAttempts": 3})
    assert "details" in answer, answer
    pol = policy_of(api.get(LOCKOUT))
    assert not pol.get("isDefault", False), pol  # false is omitted
    assert pol["maxPasswordAttempts"] == "5"
    assert pol["maxOtpAttempts"] == "3"
    native = org.policy()["lockout"]
    assert native["is_default"] is False
    assert native["value"]["enabled"] is True
    assert native["value"]["max_password_attempts"] == 5
    assert native["value"]["max_otp_attempts"] == 3

    # Add again: a custom policy exists.
    with pytest.raises(ApiError) as info:
        api.add(LOCKOUT, {"maxPasswordAttempts": 4, "maxOtpAttempts": 3})
    grpc_error(info, 409, GRPC_ALREADY_EXISTS)

    # Update; protojson accepts a string for a uint32 on input.
    api.update(LOCKOUT, {"maxPasswordAttempts": "4", "maxOtpAttempts": 3})
    assert policy_of(api.get(LOCKOUT))["maxPasswordAttempts"] == "4"
    assert org.section("lockout")["max_password_attempts"] == 4

    # Update that changes nothing: FailedPrecondition.
    with pytest.raises(ApiError) as info:
        api.update(LOCKOUT, {"maxPasswordAttempts": 4, "maxOtpAttempts": 3})
    grpc_error(info, 400, GRPC_FAILED_PRECONDITION)

    # Reset: back to the default, then nothing to reset or update.
    api.reset(LOCKOUT)
    pol = policy_of(api.get(LOCKOUT))
    assert pol.get("isDefault") is True
    assert pol["maxPasswordAttempts"] == "10"
    assert org.policy()["lockout"]["is_default"] is True
    with pytest.raises(ApiError) as info:
        api.reset(LOCKOUT)
    grpc_error(info, 404, GRPC_NOT_FOUND)
    with pytest.raises(ApiError) as info:
        api.update(LOCKOUT, {"maxPasswordAttempts": 3})
    grpc_error(info, 404, GRPC_NOT_FOUND)
    assert org.policy()["lockout"]["is_default"] is True


def test_lockout_zero_attempts_means_off(base_url, org):
    api = V1(base_url, org.admin_key, org.id)
    api.add(LOCKOUT, {"maxPasswordAttempts": 0, "maxOtpAttempts": 0})
    lockout = org.section("lockout")
    assert lockout["enabled"] is False
    assert lockout["max_otp_attempts"] == 0
    pol = policy_of(api.get(LOCKOUT))
    # Zero values are omitted by protojson.
    assert "maxPasswordAttempts" not in pol, pol
    assert "maxOtpAttempts" not in pol, pol

    settings = v2(base_url, org.admin_key).settings.get_lockout_settings(
        SettingsServiceGetLockoutSettingsRequest(ctx=ctx(org.id))
    ).settings
    assert settings.max_password_attempts in (None, "0", 0)


def test_lockout_v2_reads_the_same_values(base_url, org):
    z = v2(base_url, org.admin_key)
    req = SettingsServiceGetLockoutSettingsRequest(ctx=ctx(org.id))
    inherited = z.settings.get_lockout_settings(req).settings
    assert str(inherited.max_password_attempts) == "10"
    assert inherited.resource_owner_type == "RESOURCE_OWNER_TYPE_INSTANCE"

    V1(base_url, org.admin_key, org.id).add(LOCKOUT, {"maxPasswordAttempts": 7, "maxOtpAttempts": 2})
    answer = z.settings.get_lockout_settings(req)
    assert answer.settings.max_password_attempts == "7"
    assert answer.settings.max_otp_attempts == "2"
    assert answer.settings.resource_owner_type == "RESOURCE_OWNER_TYPE_ORG"
    assert answer.details is not None and answer.details.resource_owner == org.id


@pytest.mark.parametrize(
    "body",
    [
        {"maxPasswordAttempts": 1001, "maxOtpAttempts": 3},
        {"maxPasswordAttempts": 5, "maxOtpAttempts": 1001},
    ],
)
def test_lockout_out_of_range(base_url, org, body):
    api = V1(base_url, org.admin_key, org.id)
    before = api.get(LOCKOUT)
    native_before = org.policy()
    with pytest.raises(ApiError) as info:
        api.add(LOCKOUT, body)
    grpc_error(info, 400, GRPC_INVALID_ARGUMENT)
    # Update without a custom policy: an error either way (invalid, or nothing to update).
    with pytest.raises(ApiError) as info:
        api.update(LOCKOUT, body)
    assert info.value.code in (400, 404), info.value.response_body
    assert api.get(LOCKOUT) == before
    assert org.policy() == native_before

    # Same with a custom policy in place: update is refused, the custom value stays.
    api.add(LOCKOUT, {"maxPasswordAttempts": 5, "maxOtpAttempts": 3})
    custom = api.get(LOCKOUT)
    native_custom = org.policy()
    with pytest.raises(ApiError) as info:
        api.update(LOCKOUT, body)
    grpc_error(info, 400, GRPC_INVALID_ARGUMENT)
    assert api.get(LOCKOUT) == custom
    assert org.policy() == native_custom


# --------------------------------------------------------------------------------------------
# Password complexity and age (both in the one canonical `password` section)
# --------------------------------------------------------------------------------------------


def test_complexity_and_age(base_url, org):
    api = V1(base_url, org.admin_key, org.id)
    z = v2(base_url, org.admin_key)

    inherited = policy_of(api.get(COMPLEXITY))
    assert inherited.get("isDefault") is True
    assert inherited["minLength"] == "15"
    age = policy_of(api.get(AGE))
    assert age.get("isDefault") is True
    assert "maxAgeDays" not in age, age  # expiration off reads 0, omitted

    api.add(
        COMPLEXITY,
        {"minLength": "12", "hasUppercase": True, "hasLowercase": True, "hasNumber": True, "hasSymbol": False},
    )
    pol = policy_of(api.get(COMPLEXITY))
    assert pol["minLength"] == "12"
    assert pol["hasUppercase"] is True and pol["hasLowercase"] is True and pol["hasNumber"] is True
    assert "hasSymbol" not in pol, pol
    assert not pol.get("isDefault", False)
    native = org.native.default_password_policy(org.id)
    assert native["min_length"] == 12
    # Writing true sets the class minimum to 1 when it was 0.
    assert native["min_uppercase"] == 1 and native["min_lowercase"] == 1 and native["min_digits"] == 1
    assert native["min_special"] == 0

    settings = z.settings.get_password_complexity_settings(
        SettingsServiceGetPasswordComplexitySettingsRequest(ctx=ctx(org.id))
    ).settings
    assert settings.min_length == "12"
    assert settings.requires_uppercase is True and settings.requires_number is True
    assert not settings.requires_symbol
    assert settings.resource_owner_type == "RESOURCE_OWNER_TYPE_ORG"

    # The password section is custom now, so adding an age policy conflicts; update works.
    with pytest.raises(ApiError) as info:
        api.add(AGE, {"maxAgeDays": 30, "expireWarnDays": 5})
    grpc_error(info, 409, GRPC_ALREADY_EXISTS)
    api.update(AGE, {"maxAgeDays": 30, "expireWarnDays": 5})
    age = policy_of(api.get(AGE))
    assert age["maxAgeDays"] == "30" and age["expireWarnDays"] == "5"
    native = org.native.default_password_policy(org.id)
    assert native["expiration_enabled"] is True
    assert native["max_age_days"] == 30 and native["expire_warn_days"] == 5
    assert native["min_length"] == 12  # the age write kept the complexity

    expiry = z.settings.get_password_expiry_settings(
        SettingsServiceGetPasswordExpirySettingsRequest(ctx=ctx(org.id))
    ).settings
    assert expiry.max_age_days == "30" and expiry.expire_warn_days == "5"

    # maxAgeDays 0 turns expiration off.
    api.update(AGE, {"maxAgeDays": 0, "expireWarnDays": 0})
    assert org.native.default_password_policy(org.id)["expiration_enabled"] is False
    assert "maxAgeDays" not in policy_of(api.get(AGE))

    # Unsetting a class: false sets the minimum to 0.
    api.update(COMPLEXITY, {"minLength": 12, "hasUppercase": False, "hasLowercase": True,
                            "hasNumber": True, "hasSymbol": False})
    assert org.native.default_password_policy(org.id)["min_uppercase"] == 0

    # Reset puts back only the policy's own fields (docs/dialects/zitadel.md): the age fields
    # still differ from the default, so the password section stays the organization's own.
    api.reset(COMPLEXITY)
    native = org.native.default_password_policy(org.id)
    assert native["min_length"] == 15 and native["min_lowercase"] == 0 and native["min_digits"] == 0
    assert policy_of(api.get(COMPLEXITY))["minLength"] == "15"
    # Resetting age too makes the section equal to the default: it is inherited again.
    api.reset(AGE)
    assert org.policy()["password"]["is_default"] is True
    assert policy_of(api.get(AGE)).get("isDefault") is True
    assert policy_of(api.get(COMPLEXITY)).get("isDefault") is True
    with pytest.raises(ApiError) as info:
        api.reset(AGE)
    grpc_error(info, 404, GRPC_NOT_FOUND)


def test_age_first_then_complexity_conflicts(base_url, org):
    api = V1(base_url, org.admin_key, org.id)
    api.add(AGE, {"maxAgeDays": 90, "expireWarnDays": 10})
    with pytest.raises(ApiError) as info:
        api.add(COMPLEXITY, {"minLength": 20})
    grpc_error(info, 409, GRPC_ALREADY_EXISTS)


@pytest.mark.parametrize(
    "path, body",
    [
        (COMPLEXITY, {"minLength": 0}),
        (COMPLEXITY, {"minLength": 4097}),
        (AGE, {"maxAgeDays": 3651, "expireWarnDays": 0}),
        (AGE, {"maxAgeDays": 10, "expireWarnDays": 10}),  # warning not before expiry
    ],
    ids=["minLength=0", "minLength=4097", "maxAgeDays=3651", "expireWarnDays>=maxAgeDays"],
)
def test_password_out_of_range(base_url, org, path, body):
    api = V1(base_url, org.admin_key, org.id)
    before = (api.get(COMPLEXITY), api.get(AGE))
    native_before = org.policy()
    with pytest.raises(ApiError) as info:
        api.add(path, body)
    grpc_error(info, 400, GRPC_INVALID_ARGUMENT)
    assert (api.get(COMPLEXITY), api.get(AGE)) == before
    assert org.policy() == native_before


# --------------------------------------------------------------------------------------------
# Login policy
# --------------------------------------------------------------------------------------------


def test_login_policy(base_url, org):
    api = V1(base_url, org.admin_key, org.id)
    inherited = policy_of(api.get(LOGIN))
    assert inherited.get("isDefault") is True
    assert not inherited.get("allowRegister", False)
    assert not inherited.get("forceMfa", False)
    # forgot_password_enabled defaults to false: the reset link is hidden.
    assert inherited.get("hidePasswordReset") is True

    body = {
        "allowUsernamePassword": True,
        "allowRegister": True,
        "allowExternalIdp": True,
        "forceMfa": True,
        "hidePasswordReset": False,
        "passwordlessType": "PASSWORDLESS_TYPE_ALLOWED",
        "defaultRedirectUri": "https://example.com/cb",
        "passwordCheckLifetime": "864000s",
        "mfaInitSkipLifetime": "3600s",
        "secondFactors": ["SECOND_FACTOR_TYPE_OTP"],
    }
    api.add(LOGIN, body)
    pol = policy_of(api.get(LOGIN))
    for k, v in body.items():
        if v is False:
            assert k not in pol, (k, pol)
        else:
            assert pol.get(k) == v, (k, pol)
    assert not pol.get("isDefault", False)

    policy = org.policy()
    assert policy["features"]["is_default"] is False
    assert policy["features"]["value"]["register_enabled"] is True
    assert policy["features"]["value"]["forgot_password_enabled"] is True
    assert policy["mfa"]["value"]["required"] is True

    login = v2(base_url, org.admin_key).settings.get_login_settings(
        SettingsServiceGetLoginSettingsRequest(ctx=ctx(org.id))
    ).settings
    assert login.allow_register is True
    assert login.force_mfa is True
    assert not login.hide_password_reset

    with pytest.raises(ApiError) as info:
        api.add(LOGIN, body)
    grpc_error(info, 409, GRPC_ALREADY_EXISTS)

    api.update(LOGIN, {**body, "allowRegister": False})
    assert org.section("features")["register_enabled"] is False
    api.reset(LOGIN)
    assert org.policy()["features"]["is_default"] is True
    assert policy_of(api.get(LOGIN)).get("isDefault") is True


# --------------------------------------------------------------------------------------------
# Instance defaults (admin API)
# --------------------------------------------------------------------------------------------


def test_admin_lockout_default(base_url, server, make_org):
    admin = V1(base_url, server.root_token, org=None)
    original = policy_of(admin.get("/admin/v1/policies/lockout"))
    try:
        admin.update(
            "/admin/v1/policies/password/lockout", {"maxPasswordAttempts": 8, "maxOtpAttempts": 4}
        )
        assert policy_of(admin.get("/admin/v1/policies/lockout"))["maxPasswordAttempts"] == "8"
        org = make_org()
        pol = policy_of(V1(base_url, org.admin_key, org.id).get(LOCKOUT))
        assert pol.get("isDefault") is True and pol["maxPasswordAttempts"] == "8"
        instance = v2(base_url, server.root_token).settings.get_lockout_settings(
            SettingsServiceGetLockoutSettingsRequest(ctx=ctx(instance=True))
        ).settings
        assert instance.max_password_attempts == "8"

        # An organization administrator cannot change the instance default.
        with pytest.raises(ApiError) as info:
            V1(base_url, org.admin_key, org=None).update(
                "/admin/v1/policies/password/lockout", {"maxPasswordAttempts": 3}
            )
        assert info.value.code in (403, 404)
        assert policy_of(admin.get("/admin/v1/policies/lockout"))["maxPasswordAttempts"] == "8"
    finally:
        admin.update(
            "/admin/v1/policies/password/lockout",
            {
                "maxPasswordAttempts": int(original.get("maxPasswordAttempts", "0")),
                "maxOtpAttempts": int(original.get("maxOtpAttempts", "0")),
            },
        )
    assert policy_of(admin.get("/admin/v1/policies/lockout"))["maxPasswordAttempts"] == original[
        "maxPasswordAttempts"
    ]


# --------------------------------------------------------------------------------------------
# Other organizations, permissions, authentication
# --------------------------------------------------------------------------------------------


def test_another_organization_is_not_found(base_url, org, other_org):
    api = V1(base_url, org.admin_key, other_org.id)
    native_before = other_org.policy()
    for call in (
        lambda: api.get(LOCKOUT),
        lambda: api.add(LOCKOUT, {"maxPasswordAttempts": 3, "maxOtpAttempts": 3}),
        lambda: api.get(COMPLEXITY),
        lambda: api.add(COMPLEXITY, {"minLength": 20}),
        lambda: api.reset(LOGIN),
    ):
        with pytest.raises(ApiError) as info:
            call()
        grpc_error(info, 404, GRPC_NOT_FOUND)
    assert other_org.policy() == native_before

    z = v2(base_url, org.admin_key)
    with pytest.raises(ApiError) as info:
        z.settings.get_lockout_settings(SettingsServiceGetLockoutSettingsRequest(ctx=ctx(other_org.id)))
    assert info.value.code == 404


def test_auditor_reads_but_cannot_write(base_url, org):
    api = V1(base_url, org.auditor_key, org.id)
    assert policy_of(api.get(LOCKOUT))["maxPasswordAttempts"] == "10"
    assert policy_of(api.get(COMPLEXITY))["minLength"] == "15"
    settings = v2(base_url, org.auditor_key).settings.get_lockout_settings(
        SettingsServiceGetLockoutSettingsRequest(ctx=ctx(org.id))
    ).settings
    assert settings.max_password_attempts == "10"

    native_before = org.policy()
    for call in (
        lambda: api.add(LOCKOUT, {"maxPasswordAttempts": 3, "maxOtpAttempts": 3}),
        lambda: api.add(COMPLEXITY, {"minLength": 20}),
        lambda: api.add(LOGIN, {"allowRegister": True}),
    ):
        with pytest.raises(ApiError) as info:
            call()
        grpc_error(info, 403, GRPC_PERMISSION_DENIED)
    assert org.policy() == native_before

    # With a custom policy in place (written by the admin), update and reset are refused too.
    V1(base_url, org.admin_key, org.id).add(LOCKOUT, {"maxPasswordAttempts": 4, "maxOtpAttempts": 4})
    native_before = org.policy()
    for call in (
        lambda: api.update(LOCKOUT, {"maxPasswordAttempts": 3, "maxOtpAttempts": 3}),
        lambda: api.reset(LOCKOUT),
    ):
        with pytest.raises(ApiError) as info:
            call()
        grpc_error(info, 403, GRPC_PERMISSION_DENIED)
    assert org.policy() == native_before


@pytest.mark.parametrize("token", ["not-a-valid-token", "pck_" + "A" * 43])
def test_bad_token_is_unauthenticated(base_url, org, token):
    with pytest.raises(ApiError) as info:
        V1(base_url, token, org.id).get(LOCKOUT)
    grpc_error(info, 401, GRPC_UNAUTHENTICATED)
    with pytest.raises(ApiError) as info:
        v2(base_url, token).settings.get_lockout_settings(
            SettingsServiceGetLockoutSettingsRequest(ctx=ctx(org.id))
        )
    assert info.value.code == 401
