"""Round trips keep meaning, through each vendor's official client (docs/dialects/README.md,
"Round trips keep meaning"): writing back exactly what a dialect's read answered changes nothing.

Property-style: for several organization states set up through the native API (the root token),
and for every policy kind a dialect has, the client's GET answer is sent back with the client's own
write call, then

- the client's next GET equals the first,
- the native policy (`GET /v1/orgs/{org}/policy`) is byte-identical,
- its `ETag` (the organization's policy version) is unchanged,
- the organization's event count (`GET /v1/orgs/{org}/events`) did not grow.

The states are those of crates/server/tests/e2e/roundtrip.rs (inherited defaults; a lock until
unlocked with no window; custom values in every mapped field; own copies equal to the defaults),
plus lockout and password expiration switched off with their values kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from huaweicloudsdkiam.v3 import (
    AllowUserBody,
    LoginPolicyOption,
    PasswordPolicyOption,
    ProtectPolicyOption,
)
from zitadel_client.exceptions import ApiError

from clients import (
    AGE,
    COMPLEXITY,
    LOCKOUT,
    LOGIN,
    V1,
    Huawei,
    PlusAuth,
    huawei_admin,
    scw,
    scw_dict,
    sp,
)

# --------------------------------------------------------------------------------------------
# Organization states (native API, root token)
# --------------------------------------------------------------------------------------------

SECTIONS = ("lockout", "session", "mfa", "features", "brute_force", "tokens", "api_keys")


def _defaults(org) -> None:
    """Inherits everything."""


def _until_unlocked(org) -> None:
    n = org.native
    n.patch_section(org.id, "lockout", {"window": None, "lock_duration": None})
    n.patch_section(org.id, "session", {"idle_timeout": None})


def _custom(org) -> None:
    n = org.native
    for section, patch in [
        # 3 attempts is below PlusAuth's write range, 90 s is not whole minutes for Huawei and the
        # window is PlusAuth's largest value.
        ("lockout", {"max_password_attempts": 3, "max_otp_attempts": 4, "window": 7_776_000,
                     "lock_duration": 90, "reset_after_success": False,
                     "allow_self_unblock": False, "notify_user": False}),
        ("session", {"max_session_duration": 7201, "idle_timeout": 61, "account_validity_days": 30,
                     "show_recent_login_info": True, "login_banner": "Authorized use only"}),
        ("mfa", {"required": True}),
        ("features", {"register_enabled": True, "forgot_password_enabled": False,
                      "user_self_deletion": True, "force_email_verification": True}),
        ("brute_force", {"max_attempts": 7, "window": 600, "block_duration": 900,
                         "allowlist": ["192.0.2.0/24"], "notify_admin": True}),
        ("tokens", {"access_token": 901, "refresh_token": 86_401, "id_token": 601}),
        ("api_keys", {"max_expiration": 86_401}),
    ]:
        n.patch_section(org.id, section, patch)
    base = f"/v1/orgs/{org.id}/password-policies"
    n.request(
        "PUT", f"{base}/default", expect=200,
        json_body={
            "name": "Default", "is_default": True, "description": "house rules",
            "min_length": 4, "max_length": 64, "min_uppercase": 2, "min_lowercase": 1,
            "min_digits": 1, "min_special": 1, "min_letters": 2, "min_character_types": 3,
            "max_repeated_chars": 2, "required_chars": "#", "check_blocklist": False,
            "check_account_attributes": True, "account_attributes": ["login", "email"],
            "attribute_min_word_length": 4, "history": 12, "min_age": 90,
            "expiration_enabled": True, "max_age_days": 45, "expire_warn_days": 7,
            "renew_on_first_login": True, "grace_period": 86_401, "hash_algorithm": "bcrypt",
        },
    )
    n.request(
        "POST", base, expect=201,
        json_body={"id": "contractors", "name": "Contractors", "sources": ["ldap"],
                   "min_length": 20, "expiration_enabled": False, "max_age_days": 30},
    )


def _own_defaults(org) -> None:
    """Own copies of every section, equal to the instance defaults."""
    for section in SECTIONS:
        org.native.patch_section(org.id, section, {})


def _switched_off(org) -> None:
    """Lockout and password expiration off, their values kept (reads show 0 for them)."""
    n = org.native
    n.patch_section(org.id, "lockout", {"enabled": False, "max_password_attempts": 5,
                                        "lock_duration": 120})
    default = n.request("GET", f"/v1/orgs/{org.id}/password-policies/default", expect=200).json()
    default.update({"expiration_enabled": False, "max_age_days": 60, "expire_warn_days": 3})
    n.request("PUT", f"/v1/orgs/{org.id}/password-policies/default", json_body=default, expect=200)


STATES = {
    "defaults": _defaults,
    "until_unlocked": _until_unlocked,
    "custom": _custom,
    "own_defaults": _own_defaults,
    "switched_off": _switched_off,
}


@pytest.fixture
def state_org(make_org):
    """Factory: state_org(name, before=None) -> Org in that state; `before(org)` runs first
    (credentials made before the state, e.g. while API keys have no maximum lifetime)."""

    def make(name: str, before=None):
        org = make_org()
        extra = before(org) if before else None
        STATES[name](org)
        return org, extra

    return make


# --------------------------------------------------------------------------------------------
# What must not move
# --------------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    policy: bytes
    etag: str
    events: int


def snapshot(org) -> Snapshot:
    n = org.native
    r = n.request("GET", f"/v1/orgs/{org.id}/policy", expect=200)
    etag = r.headers.get("ETag")
    assert etag, r.headers
    count, after = 0, 0
    while True:
        page = n.request(
            "GET", f"/v1/orgs/{org.id}/events", params={"after": after, "limit": 500}, expect=200
        ).json()["items"]
        count += len(page)
        if page:
            after = page[-1]["sequence"]
        if len(page) < 500:
            break
    return Snapshot(policy=r.content, etag=etag, events=count)


def assert_unchanged(org, before: Snapshot, what: str) -> None:
    after = snapshot(org)
    assert after.policy.decode() == before.policy.decode(), f"{what}: the native policy changed"
    assert after.etag == before.etag, f"{what}: the policy ETag changed"
    assert after.events == before.events, f"{what}: {after.events - before.events} new event(s)"


def cases(kinds, xfail=None):
    """Every (state, kind) pair; `xfail` maps (state, kind) to a finding (strict xfail)."""
    xfail = xfail or {}
    out = []
    for state in STATES:
        for kind in kinds:
            marks = ()
            if (state, kind) in xfail:
                marks = pytest.mark.xfail(strict=True, reason=xfail[(state, kind)])
            out.append(pytest.param(state, kind, id=f"{state}-{kind}", marks=marks))
    return out


# --------------------------------------------------------------------------------------------
# Scaleway: update_organization_security_settings
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state, kind", cases(["security_settings"]))
def test_scaleway_round_trip(base_url, state_org, state, kind):
    org, _ = state_org(state)
    api = scw(base_url, org.admin_key, org.id)
    got = api.get_organization_security_settings()
    before = snapshot(org)
    out = api.update_organization_security_settings(**scw_dict(got))
    assert scw_dict(out) == scw_dict(got)
    assert api.get_organization_security_settings() == got
    assert_unchanged(org, before, f"Scaleway update_organization_security_settings ({state})")


# --------------------------------------------------------------------------------------------
# ZITADEL: the v1 policies through the SDK's ApiClient (add while inherited, else update)
# --------------------------------------------------------------------------------------------

ZITADEL = {"lockout": LOCKOUT, "complexity": COMPLEXITY, "age": AGE, "login": LOGIN}


@pytest.mark.parametrize("state, kind", cases(list(ZITADEL)))
def test_zitadel_round_trip(base_url, state_org, state, kind):
    org, _ = state_org(state)
    api = V1(base_url, org.admin_key, org.id)
    path = ZITADEL[kind]
    got = api.get(path)
    before = snapshot(org)
    message = got["policy"]
    if got.get("isDefault") is True:
        # A client writes the policy it read: an add while the organization inherits it.
        api.add(path, message)
    else:
        try:
            api.update(path, message)
        except ApiError as e:
            # ZITADEL refuses an update that changes nothing (FailedPrecondition, NotChanged).
            assert e.code == 400 and e.response_body.get("code") == 9, (e.code, e.response_body)
    assert api.get(path) == got
    assert_unchanged(org, before, f"ZITADEL write {path} ({state})")


# --------------------------------------------------------------------------------------------
# Huawei: update_domain_login|password|protect_policy (AK/SK)
# --------------------------------------------------------------------------------------------


def _option(cls, shown: dict) -> dict:
    """The fields of a GET answer the client's write option can carry (the password option has
    no `maximum_password_length` or `password_requirements`: the SDK cannot send them)."""
    return {k: v for k, v in shown.items() if k in cls.openapi_types}


def _huawei_write(hw: Huawei, kind: str, shown: dict):
    if kind == "login":
        return hw.set_login(**_option(LoginPolicyOption, shown))
    if kind == "password":
        return hw.set_password(**_option(PasswordPolicyOption, shown))
    fields = _option(ProtectPolicyOption, shown)
    if isinstance(fields.get("allow_user"), dict):
        fields["allow_user"] = AllowUserBody(**fields["allow_user"])
    return hw.set_protect(**fields)


@pytest.mark.parametrize("state, kind", cases(["login", "password", "protect"]))
def test_huawei_round_trip(base_url, state_org, state, kind):
    org, client = state_org(state, before=lambda o: huawei_admin(base_url, o))
    hw = Huawei(client, org.id)
    read = {"login": hw.login, "password": hw.password, "protect": hw.protect}[kind]
    got = read()
    before = snapshot(org)
    _huawei_write(hw, kind, got)
    assert read() == got
    assert_unchanged(org, before, f"Huawei update_domain_{kind}_policy ({state})")


# --------------------------------------------------------------------------------------------
# SailPoint: set_password_policy_v1 (2.x) and set_password_policy (1.x, /v3)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state, kind", cases(["v1"]))
def test_sailpoint_v1_round_trip(base_url, state_org, state, kind):
    org, _ = state_org(state)
    api = sp(base_url, org.admin_key)
    policies = api.list_password_policies_v1()
    assert policies
    for listed in policies:
        got = api.get_password_policy_by_id_v1(id=listed.id)
        assert got == listed
        before = snapshot(org)
        out = api.set_password_policy_v1(id=got.id, password_policy_v3_dto=got)
        assert out == got, listed.id
        assert api.get_password_policy_by_id_v1(id=got.id) == got, listed.id
        assert_unchanged(org, before, f"SailPoint 2.x set_password_policy_v1 {got.id} ({state})")


@pytest.mark.parametrize("state, kind", cases(["v3"]))
def test_sailpoint_v3_round_trip(base_url, state_org, run_v3, state, kind):
    org, _ = state_org(state)
    [listed] = run_v3([{"op": "list"}], token=org.admin_key)
    assert listed["ok"] and listed["data"], listed
    for policy in listed["data"]:
        pid = policy["id"]
        [got] = run_v3([{"op": "get", "id": pid}], token=org.admin_key)
        assert got["ok"], got
        before = snapshot(org)
        put, again = run_v3(
            [{"op": "set", "id": pid, "dto": got["data"]}, {"op": "get", "id": pid}],
            token=org.admin_key,
        )
        assert put["ok"] and put["status"] == 200, put
        assert put["data"] == got["data"], pid
        assert again["data"] == got["data"], pid
        assert_unchanged(org, before, f"SailPoint 1.x set_password_policy {pid} ({state})")


# --------------------------------------------------------------------------------------------
# PlusAuth: PATCH settings (requests, the JS client's wire format)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state, kind", cases(["settings"]))
def test_plusauth_round_trip(base_url, state_org, state, kind):
    org, _ = state_org(state)
    pa = PlusAuth(base_url, org.admin_key)
    got = pa.get(org.id)
    before = snapshot(org)
    assert pa.patch(org.id, got) == got
    assert pa.get(org.id) == got
    assert_unchanged(org, before, f"PlusAuth PATCH settings ({state})")
