"""Huawei Cloud IAM OS-SECURITYPOLICY (login, password and protect policies), driven by the official
`huaweicloudsdkiam` / `huaweicloudsdkcore` (3.1.219).

`GET|PUT /v3.0/OS-SECURITYPOLICY/domains/{domain_id}/login-policy|password-policy|protect-policy`,
AK/SK signed (`SDK-HMAC-SHA256`) with access keys from `POST /v1/orgs/{org}/access-keys`.

SDK notes: `IamClient.new_builder().with_credentials(GlobalCredentials(ak, sk, domain_id))
.with_endpoints([base_url]).build()` (no region, so no domain lookup). Errors:
`huaweicloudsdkcore.exceptions.exceptions.ClientRequestException` (status < 500) with
`.status_code`, `.error_code`, `.error_msg`, `.request_id`. `client.preset_headers` adds headers
before signing; a preset `X-Sdk-Date` is used as is by the signer (how the stale-date tests are
built).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import quote, urlsplit

import pytest
import requests
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkiam.v3 import AllowUserBody

from clients import Huawei, ceil_div, default_password_policy, iam
from clients import huawei_admin as admin_client

INVALID_VALUE = "IAM.0072"
FORBIDDEN = "IAM.0002"
NOT_FOUND = "IAM.0004"
UNAUTHENTICATED = "IAM.0001"


@pytest.fixture
def hw(base_url, org) -> Huawei:
    return Huawei(admin_client(base_url, org), org.id)


def check_error(info, status: int, code: str) -> ClientRequestException:
    exc = info.value
    assert isinstance(exc, ClientRequestException), repr(exc)
    assert exc.status_code == status, str(exc)
    assert exc.error_code == code, str(exc)
    assert exc.error_msg, str(exc)
    return exc


# --------------------------------------------------------------------------------------------
# Reads and writes
# --------------------------------------------------------------------------------------------


def test_read_reports_the_inherited_policy(hw, org):
    policy = org.policy()
    login = hw.login()
    lockout = policy["lockout"]["value"]
    session = policy["session"]["value"]
    assert login["login_failed_times"] == lockout["max_password_attempts"] == 10
    assert login["lockout_duration"] == ceil_div(lockout["lock_duration"], 60) == 15
    assert login["session_timeout"] == ceil_div(session["idle_timeout"], 60) == 60
    assert login["account_validity_period"] == session["account_validity_days"] == 0
    assert login["show_recent_login_info"] is False
    assert login["custom_info_for_login"] in ("", None)

    pw = hw.password()
    default = default_password_policy(policy)
    assert pw["minimum_password_length"] == default["min_length"] == 15
    assert pw["maximum_password_length"] == default["max_length"] == 128
    assert pw["number_of_recent_passwords_disallowed"] == default["history"] == 0
    assert pw["minimum_password_age"] == 0
    assert pw["password_validity_period"] == 0  # expiration off
    assert pw["maximum_consecutive_identical_chars"] == 0
    assert pw["password_not_username_or_invert"] is True  # check_account_attributes with login
    assert isinstance(pw["password_requirements"], str) and pw["password_requirements"]


def test_update_login_policy_then_read_back(hw, org):
    want = {
        "login_failed_times": 5,
        "lockout_duration": 20,
        "period_with_login_failures": 30,
        "session_timeout": 120,
        "account_validity_period": 90,
        "show_recent_login_info": True,
        "custom_info_for_login": "Authorized use only",
    }
    out = hw.set_login(**want)
    assert {k: out[k] for k in want} == want
    got = hw.login()
    assert {k: got[k] for k in want} == want

    policy = org.policy()
    lockout, session = policy["lockout"]["value"], policy["session"]["value"]
    assert lockout["enabled"] is True
    assert lockout["max_password_attempts"] == 5
    assert lockout["lock_duration"] == 20 * 60
    assert lockout["window"] == 30 * 60
    assert session["idle_timeout"] == 120 * 60
    assert session["account_validity_days"] == 90
    assert session["show_recent_login_info"] is True
    assert session["login_banner"] == "Authorized use only"


def test_partial_login_update_keeps_the_rest(hw, org):
    before = hw.login()
    native_before = org.policy()
    out = hw.set_login(login_failed_times=4)
    assert out == {**before, "login_failed_times": 4}
    after = org.policy()
    assert after["lockout"]["value"] == {**native_before["lockout"]["value"], "max_password_attempts": 4}
    assert after["session"] == native_before["session"]  # not written, still inherited


def test_update_password_policy_then_read_back(hw, org):
    want = {
        "minimum_password_length": 10,
        "password_char_combination": 3,
        "maximum_consecutive_identical_chars": 4,
        "number_of_recent_passwords_disallowed": 5,
        "minimum_password_age": 60,
        "password_validity_period": 90,
        "password_not_username_or_invert": True,
    }
    out = hw.set_password(**want)
    assert {k: out[k] for k in want} == want
    got = hw.password()
    assert {k: got[k] for k in want} == want
    assert got["maximum_password_length"] == 128
    assert got["password_requirements"]

    pw = org.native.default_password_policy(org.id)
    assert pw["min_length"] == 10
    assert pw["min_character_types"] == 3
    assert pw["max_repeated_chars"] == 4
    assert pw["history"] == 5
    assert pw["min_age"] == 3600
    assert pw["expiration_enabled"] is True
    assert pw["max_age_days"] == 90
    assert pw["check_account_attributes"] is True

    # 0 turns expiration off; not-username off.
    out = hw.set_password(password_validity_period=0, password_not_username_or_invert=False)
    assert out["password_validity_period"] == 0
    assert out["password_not_username_or_invert"] is False
    pw = org.native.default_password_policy(org.id)
    assert pw["expiration_enabled"] is False
    assert pw["min_length"] == 10  # partial body: the rest kept


def test_protect_policy_round_trip(hw):
    want = {
        "operation_protection": True,
        "allow_user": {
            "manage_accesskey": True,
            "manage_email": False,
            "manage_mobile": True,
            "manage_password": False,
        },
        "admin_check": "on",
        "scene": "email",
        "email": "security@example.com",
        "mobile": "+33-600000000",
    }
    out = hw.set_protect(
        operation_protection=True,
        allow_user=AllowUserBody(**want["allow_user"]),
        admin_check="on",
        scene="email",
        email="security@example.com",
        mobile="+33-600000000",
    )
    # The PUT answer has allow_user, operation_protection, admin_check and scene.
    for k in ("allow_user", "operation_protection", "admin_check", "scene"):
        assert out[k] == want[k], (k, out)
    got = hw.protect()
    assert {k: got[k] for k in want} == want


# --------------------------------------------------------------------------------------------
# Ranges
# --------------------------------------------------------------------------------------------

LOGIN_INVALID = [
    ("login_failed_times", 2), ("login_failed_times", 11),
    ("lockout_duration", 14), ("lockout_duration", 31),
    ("period_with_login_failures", 14), ("period_with_login_failures", 61),
    ("session_timeout", 14), ("session_timeout", 1441),
    ("account_validity_period", -1), ("account_validity_period", 3651),
]
PASSWORD_INVALID = [
    ("minimum_password_length", 5), ("minimum_password_length", 33),
    ("password_char_combination", 1), ("password_char_combination", 5),
    ("maximum_consecutive_identical_chars", -1), ("maximum_consecutive_identical_chars", 33),
    ("number_of_recent_passwords_disallowed", -1), ("number_of_recent_passwords_disallowed", 11),
    ("minimum_password_age", -1), ("minimum_password_age", 1441),
    ("password_validity_period", -1), ("password_validity_period", 181),
]


@pytest.mark.parametrize("name, value", LOGIN_INVALID, ids=[f"{n}={v}" for n, v in LOGIN_INVALID])
def test_login_policy_out_of_range(hw, org, name, value):
    before = hw.snapshot()
    native_before = org.policy()
    with pytest.raises(ClientRequestException) as info:
        # A valid field alongside must not be applied either.
        hw.set_login(show_recent_login_info=True, **{name: value})
    check_error(info, 400, INVALID_VALUE)
    assert hw.snapshot() == before
    assert org.policy() == native_before


@pytest.mark.parametrize(
    "name, value", PASSWORD_INVALID, ids=[f"{n}={v}" for n, v in PASSWORD_INVALID]
)
def test_password_policy_out_of_range(hw, org, name, value):
    before = hw.snapshot()
    native_before = org.policy()
    with pytest.raises(ClientRequestException) as info:
        hw.set_password(password_not_username_or_invert=False, **{name: value})
    check_error(info, 400, INVALID_VALUE)
    assert hw.snapshot() == before
    assert org.policy() == native_before


def test_protect_policy_invalid_admin_check(hw, org):
    before = hw.protect()
    with pytest.raises(ClientRequestException) as info:
        hw.set_protect(operation_protection=True, admin_check="sometimes", scene="email")
    check_error(info, 400, INVALID_VALUE)
    assert hw.protect() == before


# --------------------------------------------------------------------------------------------
# Other organizations, permissions
# --------------------------------------------------------------------------------------------


def test_another_domain_is_not_found(base_url, org, other_org):
    key = org.native.create_access_key(org.id, "a", roles=["org_admin"])
    other = Huawei(iam(base_url, key["id"], key["secret"], org.id), other_org.id)
    native_before = other_org.policy()
    for call in (
        other.login,
        other.password,
        other.protect,
        lambda: other.set_login(login_failed_times=3),
        lambda: other.set_password(minimum_password_length=8),
        lambda: other.set_protect(operation_protection=False),
    ):
        with pytest.raises(ClientRequestException) as info:
            call()
        check_error(info, 404, NOT_FOUND)
    assert other_org.policy() == native_before


def test_read_only_access_key_reads_but_cannot_write(base_url, org):
    key = org.native.create_access_key(org.id, "auditor", roles=["org_auditor"])
    hw = Huawei(iam(base_url, key["id"], key["secret"], org.id), org.id)
    before = hw.snapshot()
    assert before[0]["login_failed_times"] == 10
    native_before = org.policy()
    for call in (
        lambda: hw.set_login(login_failed_times=3),
        lambda: hw.set_password(minimum_password_length=8),
        lambda: hw.set_protect(operation_protection=True),
    ):
        with pytest.raises(ClientRequestException) as info:
            call()
        check_error(info, 403, FORBIDDEN)
    assert hw.snapshot() == before
    assert org.policy() == native_before


# --------------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------------


def test_wrong_secret_is_refused(base_url, org):
    key = org.native.create_access_key(org.id, "k", roles=["org_admin"])
    hw = Huawei(iam(base_url, key["id"], key["secret"] + "x", org.id), org.id)
    with pytest.raises(ClientRequestException) as info:
        hw.login()
    check_error(info, 401, UNAUTHENTICATED)


def test_unknown_access_key_is_refused(base_url, org):
    hw = Huawei(iam(base_url, "AKUNKNOWN0000000000", "secret-secret-secret", org.id), org.id)
    with pytest.raises(ClientRequestException) as info:
        hw.login()
    check_error(info, 401, UNAUTHENTICATED)


def sdk_date(delta: dt.timedelta) -> str:
    return (dt.datetime.now(dt.timezone.utc) + delta).strftime("%Y%m%dT%H%M%SZ")


@pytest.mark.parametrize("minutes", [-20, 20])
def test_stale_sdk_date_is_refused(base_url, org, minutes):
    client = admin_client(base_url, org)
    # The signer keeps a preset X-Sdk-Date and signs it: a correct signature of a stale date.
    client.preset_headers = {"X-Sdk-Date": sdk_date(dt.timedelta(minutes=minutes))}
    with pytest.raises(ClientRequestException) as info:
        Huawei(client, org.id).login()
    check_error(info, 401, UNAUTHENTICATED)


@pytest.mark.parametrize("minutes", [-10, 10])
def test_sdk_date_within_15_minutes_is_accepted(base_url, org, minutes):
    client = admin_client(base_url, org)
    client.preset_headers = {"X-Sdk-Date": sdk_date(dt.timedelta(minutes=minutes))}
    assert Huawei(client, org.id).login()["login_failed_times"] == 10


# An independent SDK-HMAC-SHA256 signer (the algorithm of the dialect notes, section 3), to build
# requests the SDK would never send.


def sign(method: str, url: str, headers: dict, body: bytes, ak: str, sk: str) -> dict:
    parts = urlsplit(url)
    headers = {**headers, "Host": parts.netloc}
    path = "/".join(quote(seg, safe="~") for seg in parts.path.split("/"))
    if not path.endswith("/"):
        path += "/"
    query = "&".join(sorted(parts.query.split("&"))) if parts.query else ""
    signed = sorted(k.lower() for k in headers if "_" not in k)
    lower = {k.lower(): str(v).strip() for k, v in headers.items()}
    canonical_headers = "".join(f"{h}:{lower[h]}\n" for h in signed)
    canonical = "\n".join(
        [method, path, query, canonical_headers, ";".join(signed), hashlib.sha256(body).hexdigest()]
    )
    string_to_sign = "\n".join(
        ["SDK-HMAC-SHA256", lower["x-sdk-date"], hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signature = hmac.new(sk.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        **headers,
        "Authorization": f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={';'.join(signed)}, "
        f"Signature={signature}",
    }


def signed_put(base_url, org, key, body: dict, *, tamper=None):
    url = f"{base_url}/v3.0/OS-SECURITYPOLICY/domains/{org.id}/login-policy"
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json;charset=utf-8",
        "X-Sdk-Date": sdk_date(dt.timedelta(0)),
        "X-Domain-Id": org.id,
    }
    headers = sign("PUT", url, headers, raw, key["id"], key["secret"])
    if tamper == "signature":
        auth = headers["Authorization"]
        last = auth[-1]
        headers["Authorization"] = auth[:-1] + ("0" if last != "0" else "1")
    elif tamper == "body":
        raw = raw.replace(b"4", b"5")
    elif tamper == "date":
        headers["X-Sdk-Date"] = sdk_date(dt.timedelta(minutes=-1))
    return requests.put(url, data=raw, headers=headers, timeout=30)


def test_independently_signed_request_is_accepted(base_url, org):
    key = org.native.create_access_key(org.id, "k", roles=["org_admin"])
    r = signed_put(base_url, org, key, {"login_policy": {"login_failed_times": 4}})
    assert r.status_code == 200, r.text
    assert r.json()["login_policy"]["login_failed_times"] == 4
    assert org.section("lockout")["max_password_attempts"] == 4


@pytest.mark.parametrize("tamper", ["signature", "body", "date"])
def test_tampered_request_is_refused(base_url, org, tamper):
    key = org.native.create_access_key(org.id, "k", roles=["org_admin"])
    native_before = org.policy()
    r = signed_put(base_url, org, key, {"login_policy": {"login_failed_times": 4}}, tamper=tamper)
    assert r.status_code == 401, r.text
    assert r.json()["error_code"] == UNAUTHENTICATED, r.text
    assert org.policy() == native_before


def test_x_auth_token_with_an_api_key_is_accepted(base_url, org):
    url = f"{base_url}/v3.0/OS-SECURITYPOLICY/domains/{org.id}/login-policy"
    r = requests.get(url, headers={"X-Auth-Token": org.admin_key}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["login_policy"]["login_failed_times"] == 10
    r = requests.get(url, headers={"X-Auth-Token": "bogus-token"}, timeout=30)
    assert r.status_code == 401, r.text
    assert r.json()["error_code"] == UNAUTHENTICATED
