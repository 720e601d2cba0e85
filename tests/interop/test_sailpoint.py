"""SailPoint Identity Security Cloud password policies, driven by the official `sailpoint` SDKs.

- 2.x (2.1.72, this venv): `sailpoint.PasswordPoliciesApi`, paths `/password-policies/v1[/{id}]`.
- 1.x (1.4.2, module `sailpoint.v3`, paths `/v3/password-policies[/{id}]`) cannot be installed beside
  2.x: it runs in tests/interop/.venv-sailpoint1 (made by scripts/test) through
  sailpoint1_driver.py in a subprocess; PORTCULLIS_SAILPOINT1_PYTHON names that interpreter.

Errors (2.x): `sailpoint.exceptions.BadRequestException` (400), `UnauthorizedException` (401),
`ForbiddenException` (403), `NotFoundException` (404), all `ApiException` with `.status`, `.body`.
The caller's organization is its key's organization.
"""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from sailpoint.exceptions import (
    ApiException,
    BadRequestException,
    ForbiddenException,
    NotFoundException,
    UnauthorizedException,
)
from sailpoint.password_policies.models import PasswordPolicyV3Dto

from clients import sp

BOOLEANS = (
    "defaultPolicy", "enablePasswdExpiration", "requireStrongAuthn", "requireStrongAuthOffNetwork",
    "requireStrongAuthUntrustedGeographies", "useAccountAttributes", "useDictionary",
    "useIdentityAttributes", "validateAgainstAccountId", "validateAgainstAccountName",
)


@pytest.fixture
def api(base_url, org):
    return sp(base_url, org.admin_key)


def header(response, name: str) -> str:
    """A response header, by case-insensitive name (the SDK hands a plain dict over)."""
    found = {k.lower(): v for k, v in (response.headers or {}).items()}
    assert name.lower() in found, response.headers
    return found[name.lower()]


def ids(policies) -> list:
    return [p.id for p in policies]


def error_text(exc: ApiException) -> str:
    body = json.loads(exc.body)
    assert body.get("messages"), body
    text = body["messages"][0]["text"]
    assert text, body
    assert str(body.get("detailCode", "")).startswith(str(exc.status)), body
    return text


def native_pp(org, pid: str) -> dict:
    return org.native.request("GET", f"/v1/orgs/{org.id}/password-policies/{pid}", expect=200).json()


# --------------------------------------------------------------------------------------------
# 2.x: /password-policies/v1
# --------------------------------------------------------------------------------------------


def test_list_and_get_the_default_policy(api, org):
    r = api.list_password_policies_v1_with_http_info(count=True)
    assert r.status_code == 200
    assert header(r, "X-Total-Count") == "1"
    # The SDK hands the headers over as a plain dict: SailPoint's documented exact-case lookup
    # works only when the server writes the name in its canonical case.
    assert dict(r.headers).get("X-Total-Count") == "1", r.headers
    [p] = r.data
    assert p.id == "default"
    assert p.name == "Default"
    assert p.default_policy is True
    assert p.min_length == 15 and p.max_length == 128
    assert p.min_character_types == -1  # canonical 0 = off
    assert p.max_repeated_chars == -1
    assert p.min_upper == 0 and p.min_lower == 0 and p.min_numeric == 0 and p.min_special == 0
    assert p.use_dictionary is True  # check_blocklist
    assert p.enable_passwd_expiration is False
    assert p.password_expiration == 90
    assert p.source_ids in ([], None)
    assert isinstance(p.date_created, int)

    got = api.get_password_policy_by_id_v1(id="default")
    assert got == p


def test_create_update_delete(api, org):
    dto = PasswordPolicyV3Dto(
        name="contractors",
        description="for contractors",
        min_length=12,
        max_length=64,
        min_upper=1,
        min_numeric=1,
        min_special=1,
        min_character_types=3,
        max_repeated_chars=3,
        source_ids=["src-1", "src-2"],
        enable_passwd_expiration=True,
        password_expiration=60,
        first_expiration_reminder=7,
        use_dictionary=True,
    )
    r = api.create_password_policy_v1_with_http_info(password_policy_v3_dto=dto)
    assert r.status_code == 200
    created = r.data
    assert created.id, "an id is generated when absent"
    assert created.name == "contractors" and created.default_policy is False
    assert created.min_length == 12 and created.min_character_types == 3
    assert created.source_ids == ["src-1", "src-2"]

    n = native_pp(org, created.id)
    assert n["is_default"] is False
    assert n["description"] == "for contractors"
    assert n["min_length"] == 12 and n["max_length"] == 64
    assert n["min_uppercase"] == 1 and n["min_digits"] == 1 and n["min_special"] == 1
    assert n["min_character_types"] == 3 and n["max_repeated_chars"] == 3
    assert n["sources"] == ["src-1", "src-2"]
    assert n["expiration_enabled"] is True
    assert n["max_age_days"] == 60 and n["expire_warn_days"] == 7
    assert n["check_blocklist"] is True
    assert n["check_account_attributes"] is False

    assert api.get_password_policy_by_id_v1(id=created.id) == created
    listed = api.list_password_policies_v1_with_http_info(count=True)
    assert header(listed, "X-Total-Count") == "2"
    assert set(ids(listed.data)) == {"default", created.id}

    # A field SailPoint does not name (history) survives a SailPoint PUT.
    n["history"] = 5
    org.native.request(
        "PUT", f"/v1/orgs/{org.id}/password-policies/{created.id}", json_body=n, expect=200
    )

    # PUT replaces every SailPoint-named field: the ones left out take their defaults.
    replaced = api.set_password_policy_v1(
        id=created.id,
        password_policy_v3_dto=PasswordPolicyV3Dto(id=created.id, name="contractors v2", min_length=20),
    )
    assert replaced.id == created.id
    assert replaced.name == "contractors v2"
    assert replaced.min_length == 20
    assert replaced.min_upper == 0
    assert replaced.min_character_types == -1
    assert replaced.max_repeated_chars == -1
    assert replaced.enable_passwd_expiration is False
    assert replaced.use_dictionary is False
    assert replaced.source_ids in ([], None)
    assert api.get_password_policy_by_id_v1(id=created.id) == replaced
    n = native_pp(org, created.id)
    assert n["min_uppercase"] == 0 and n["sources"] == [] and n["check_blocklist"] is False
    assert n["history"] == 5

    r = api.delete_password_policy_v1_with_http_info(id=created.id)
    assert r.status_code == 204
    with pytest.raises(NotFoundException) as info:
        api.get_password_policy_by_id_v1(id=created.id)
    assert info.value.status == 404
    error_text(info.value)
    assert ids(api.list_password_policies_v1()) == ["default"]


def test_create_with_a_chosen_id(api, org):
    pid = "chosen-" + uuid.uuid4().hex[:8]
    created = api.create_password_policy_v1(
        password_policy_v3_dto=PasswordPolicyV3Dto(id=pid, name="chosen", min_length=16)
    )
    assert created.id == pid
    assert native_pp(org, pid)["min_length"] == 16


def test_update_default_policy_keeps_it_default(api, org):
    default = api.get_password_policy_by_id_v1(id="default")
    default.min_length = 18
    default.min_character_types = 2
    out = api.set_password_policy_v1(id="default", password_policy_v3_dto=default)
    assert out.default_policy is True and out.min_length == 18 and out.min_character_types == 2
    pw = org.native.default_password_policy(org.id)
    assert pw["id"] == "default" and pw["min_length"] == 18 and pw["min_character_types"] == 2


def test_delete_default_policy_is_refused(api, org):
    native_before = org.policy()
    with pytest.raises(BadRequestException) as info:
        api.delete_password_policy_v1(id="default")
    assert info.value.status == 400
    error_text(info.value)
    assert org.policy() == native_before
    assert ids(api.list_password_policies_v1()) == ["default"]


def test_pagination(api, org):
    for i in range(3):
        api.create_password_policy_v1(
            password_policy_v3_dto=PasswordPolicyV3Dto(name=f"p{i}", min_length=15 + i)
        )
    everything = ids(api.list_password_policies_v1())
    assert len(everything) == 4 and len(set(everything)) == 4
    page1 = api.list_password_policies_v1_with_http_info(limit=2, offset=0, count=True)
    page2 = api.list_password_policies_v1_with_http_info(limit=2, offset=2, count=True)
    page3 = api.list_password_policies_v1(limit=2, offset=4)
    assert header(page1, "X-Total-Count") == "4" and header(page2, "X-Total-Count") == "4"
    assert ids(page1.data) + ids(page2.data) == everything
    assert page3 == []
    assert api.list_password_policies_v1(limit=250) and len(api.list_password_policies_v1(limit=250)) == 4


def test_limit_over_250_is_refused_by_the_server(api):
    # The SDK refuses limit=251 locally (pydantic le=250); its serializer is called directly to
    # send it anyway, then the SDK's own response handling raises.
    params = api._list_password_policies_v1_serialize(
        limit=251, offset=None, count=None, x_sail_point_experimental=None,
        _request_auth=None, _content_type=None, _headers=None, _host_index=0,
    )
    response = api.api_client.call_api(*params)
    response.read()
    with pytest.raises(BadRequestException) as info:
        api.api_client.response_deserialize(
            response_data=response, response_types_map={"200": "List[PasswordPolicyV3Dto]"}
        )
    assert info.value.status == 400
    error_text(info.value)


INVALID = [
    {"min_length": 0},
    {"min_length": 5000},
    {"max_length": 5000},
    {"min_length": 30, "max_length": 20},
    {"min_character_types": 5},
    {"max_repeated_chars": 129},
    {"min_upper": 65},
    {"enable_passwd_expiration": True, "password_expiration": 3651},
]


@pytest.mark.parametrize("fields", INVALID, ids=[",".join(f"{k}={v}" for k, v in d.items()) for d in INVALID])
def test_out_of_range_create_is_refused(api, org, fields):
    native_before = org.policy()
    with pytest.raises(BadRequestException) as info:
        api.create_password_policy_v1(
            password_policy_v3_dto=PasswordPolicyV3Dto(name="bad", **{"min_length": 15, **fields})
        )
    assert info.value.status == 400
    error_text(info.value)
    assert ids(api.list_password_policies_v1()) == ["default"]
    assert org.policy() == native_before


@pytest.mark.parametrize("fields", INVALID, ids=[",".join(f"{k}={v}" for k, v in d.items()) for d in INVALID])
def test_out_of_range_update_is_refused(api, org, fields):
    default = api.get_password_policy_by_id_v1(id="default")
    native_before = org.policy()
    bad = default.model_copy(update=fields)
    with pytest.raises(BadRequestException) as info:
        api.set_password_policy_v1(id="default", password_policy_v3_dto=bad)
    assert info.value.status == 400
    error_text(info.value)
    assert api.get_password_policy_by_id_v1(id="default") == default
    assert org.policy() == native_before


def test_another_organizations_policy_is_not_found(base_url, org, other_org):
    theirs = sp(base_url, other_org.admin_key).create_password_policy_v1(
        password_policy_v3_dto=PasswordPolicyV3Dto(id="b-" + uuid.uuid4().hex[:8], name="theirs", min_length=20)
    )
    mine = sp(base_url, org.admin_key)
    native_before = other_org.policy()
    for call in (
        lambda: mine.get_password_policy_by_id_v1(id=theirs.id),
        lambda: mine.set_password_policy_v1(
            id=theirs.id, password_policy_v3_dto=PasswordPolicyV3Dto(id=theirs.id, name="x", min_length=16)
        ),
        lambda: mine.delete_password_policy_v1(id=theirs.id),
        lambda: mine.get_password_policy_by_id_v1(id="no-such-policy"),
    ):
        with pytest.raises(NotFoundException) as info:
            call()
        assert info.value.status == 404
        error_text(info.value)
    assert other_org.policy() == native_before
    assert theirs.id not in ids(mine.list_password_policies_v1())


def test_auditor_reads_but_cannot_write(base_url, org):
    auditor = sp(base_url, org.auditor_key)
    default = auditor.get_password_policy_by_id_v1(id="default")
    assert ids(auditor.list_password_policies_v1()) == ["default"]
    native_before = org.policy()
    for call in (
        lambda: auditor.create_password_policy_v1(
            password_policy_v3_dto=PasswordPolicyV3Dto(name="x", min_length=16)
        ),
        lambda: auditor.set_password_policy_v1(id="default", password_policy_v3_dto=default),
        lambda: auditor.delete_password_policy_v1(id="default"),
    ):
        with pytest.raises(ForbiddenException) as info:
            call()
        assert info.value.status == 403
        error_text(info.value)
    assert org.policy() == native_before


def test_client_credentials_token(base_url, org):
    api = sp(base_url, client_id=org.admin["id"], client_secret=org.admin["key"])
    assert api.api_client.configuration.access_token, "the SDK fetched no token from /oauth/token"
    assert ids(api.list_password_policies_v1()) == ["default"]
    created = api.create_password_policy_v1(
        password_policy_v3_dto=PasswordPolicyV3Dto(name="via oauth", min_length=16)
    )
    assert native_pp(org, created.id)["name"] == "via oauth"


def test_client_credentials_with_a_wrong_secret(base_url, org):
    r = requests.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": org.admin["id"], "client_secret": "nope"},
        timeout=30,
    )
    assert r.status_code in (400, 401), r.text
    # The SDK only prints the failure and keeps access_token None (2.x then cannot even build a
    # request: "Bearer " + None is a TypeError inside ApiClient.param_serialize).
    api = sp(base_url, client_id=org.admin["id"], client_secret="nope")
    assert api.api_client.configuration.access_token is None
    # An unknown client id is refused the same way.
    r = requests.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "key_unknown", "client_secret": org.admin["key"]},
        timeout=30,
    )
    assert r.status_code in (400, 401), r.text


@pytest.mark.parametrize("token", ["not-a-token", "pck_" + "f" * 64])
def test_bad_token_is_unauthorized(base_url, token):
    with pytest.raises(UnauthorizedException) as info:
        sp(base_url, token).list_password_policies_v1()
    assert info.value.status == 401


# --------------------------------------------------------------------------------------------
# 1.x: /v3/password-policies, with the real 1.x SDK in its own venv
# --------------------------------------------------------------------------------------------


def ok(result: dict, status: int = 200):
    assert result["ok"] is True, result
    assert result["status"] == status, result
    return result["data"]


def failed(result: dict, exception: str, status: int) -> dict:
    assert result["ok"] is False, result
    assert result["module"] == "sailpoint.v3.exceptions", result
    assert result["exception"] == exception, result
    assert result["status"] == status, result
    body = json.loads(result["body"])
    assert body["messages"][0]["text"], body
    return body


def test_v3_layout_with_the_1x_sdk(base_url, org, other_org, run_v3):
    pid = "v3-" + uuid.uuid4().hex[:8]
    theirs = "b-" + uuid.uuid4().hex[:8]
    sp(base_url, other_org.admin_key).create_password_policy_v1(
        password_policy_v3_dto=PasswordPolicyV3Dto(id=theirs, name="theirs", min_length=20)
    )
    dto = {"id": pid, "name": "v3 policy", "minLength": 14, "maxLength": 40, "minUpper": 1,
           "minCharacterTypes": 2, "sourceIds": ["s1"]}
    first = run_v3(
        [
            {"op": "list", "count": True},
            {"op": "get", "id": "default"},
            {"op": "create", "dto": dto},
            {"op": "get", "id": pid},
        ],
        token=org.admin_key,
    )
    listed, default, created, got = first

    data = ok(listed)
    assert [p["id"] for p in data] == ["default"]
    assert {k.lower(): v for k, v in listed["headers"].items()}["x-total-count"] == "1"
    d = ok(default)
    assert d["defaultPolicy"] is True and d["minLength"] == 15 and d["minCharacterTypes"] == -1

    c = ok(created)
    assert c["id"] == pid and c["minLength"] == 14 and c["minUpper"] == 1 and c["sourceIds"] == ["s1"]
    # 1.x parses dateCreated as a datetime: epoch milliseconds must land in this century.
    assert c["dateCreated"][:2] == "20", c
    assert ok(got) == c
    n = native_pp(org, pid)
    assert n["min_length"] == 14 and n["max_length"] == 40 and n["min_character_types"] == 2

    second = run_v3(
        [
            {"op": "set", "id": pid, "dto": {"id": pid, "name": "v3 policy", "minLength": 22}},
            {"op": "list", "limit": 1, "offset": 1, "count": True},
            {"op": "create", "dto": {"name": "bad", "minLength": 0}},
            {"op": "set", "id": "default", "dto": {"id": "default", "name": "Default", "defaultPolicy": True, "minCharacterTypes": 5}},
            {"op": "get", "id": theirs},
        ],
        token=org.admin_key,
    )
    replaced, page, bad_create, bad_set, other = second
    r = ok(replaced)
    assert r["minLength"] == 22 and r.get("minUpper", 0) == 0 and r.get("minCharacterTypes") == -1
    n = native_pp(org, pid)
    assert n["min_length"] == 22 and n["min_uppercase"] == 0 and n["sources"] == []

    assert len(ok(page)) == 1
    assert {k.lower(): v for k, v in page["headers"].items()}["x-total-count"] == "2"

    failed(bad_create, "BadRequestException", 400)
    failed(bad_set, "BadRequestException", 400)
    assert native_pp(org, "default")["min_character_types"] == 0
    assert len(org.native.password_policies(org.id)) == 2
    failed(other, "NotFoundException", 404)

    del_default, deleted, gone = run_v3(
        [{"op": "delete", "id": "default"}, {"op": "delete", "id": pid}, {"op": "get", "id": pid}],
        token=org.admin_key,
    )
    failed(del_default, "BadRequestException", 400)
    ok(deleted, 204)
    failed(gone, "NotFoundException", 404)
    assert [p["id"] for p in org.native.password_policies(org.id)] == ["default"]


def test_v3_layout_auditor_and_client_credentials(base_url, org, run_v3):
    auditor = run_v3(
        [
            {"op": "list"},
            {"op": "create", "dto": {"name": "x", "minLength": 16}},
        ],
        token=org.auditor_key,
    )
    assert [p["id"] for p in ok(auditor[0])] == ["default"]
    failed(auditor[1], "ForbiddenException", 403)

    via_oauth = run_v3(
        [{"op": "token"}, {"op": "list"}],
        client_id=org.admin["id"],
        client_secret=org.admin["key"],
    )
    assert via_oauth[0]["data"], "the 1.x SDK fetched no token from /oauth/token"
    assert [p["id"] for p in ok(via_oauth[1])] == ["default"]
