"""PlusAuth tenant settings. PlusAuth has no Python client (its official client,
`@plusauth/plusauth-rest-js`, is a JavaScript package that is not even on npm), so these tests follow
its wire format with plain `requests`: the same method, path and headers as the JS client sends
(`Accept`, `Content-Type: application/json`, `X-Requested-With: XMLHttpRequest`,
`Authorization: Bearer`).

`GET|PATCH /api/v1/tenants/{tenant_id}/settings`; PATCH is a deep merge answering the full settings;
errors are `{error, error_description, status}`.
"""

from __future__ import annotations

import copy

import pytest
import requests

from clients import PlusAuth, default_password_policy


def check_error(r: requests.Response, status: int, error: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error, body
    assert body["status"] == status, body
    assert body["error_description"], body
    return body


def deep_merge(base: dict, patch: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


@pytest.fixture
def pa(base_url, org) -> PlusAuth:
    return PlusAuth(base_url, org.admin_key)


def test_read_reports_the_inherited_policy(pa, org):
    s = pa.get(org.id)
    policy = org.policy()
    pw = default_password_policy(policy)
    p = s["policies"]["password"]
    assert p["min"] == pw["min_length"] == 15
    assert p["max"] == pw["max_length"] == 128
    assert p["history"] == 0
    ab = s["policies"]["account_blocking"]
    assert ab["enabled"] is True
    assert ab["allowed_attempts"] == 10
    assert ab["block_duration"] == 900
    assert ab["reset_after_success"] is True
    assert ab["allow_user_unblock"] is False
    assert ab["notification"] is False
    bf = s["policies"]["brute_force"]
    assert bf["enabled"] is True
    assert bf["allowed_attempts"] == 10
    assert bf["duration"] == 3600 and bf["block_duration"] == 3600
    assert bf["white_list"] == []
    assert s["ttl"]["session"] == 43200
    assert s["ttl"]["access_token"] == 3600
    assert s["ttl"]["refresh_token"] == 2592000
    assert s["hash_function"] == "argon2"
    assert s["register_enabled"] is False
    assert s["forgot_password_enabled"] is False
    assert s["force_email_verification"] is False
    assert s["user_self_deletion"] == {"enabled": False}


def test_patch_deep_merges_and_answers_the_full_settings(pa, org):
    before = pa.get(org.id)
    patch = {"policies": {"brute_force": {"enabled": True, "allowed_attempts": 5}}, "ttl": {"session": 7200}}
    out = pa.patch(org.id, patch)
    assert out == deep_merge(before, patch)
    assert pa.get(org.id) == out

    policy = org.policy()
    assert policy["brute_force"]["value"]["max_attempts"] == 5
    assert policy["session"]["value"]["max_session_duration"] == 7200
    assert policy["lockout"]["is_default"] is True  # not named, not written

    out2 = pa.patch(org.id, {"policies": {"account_blocking": {"allowed_attempts": 6, "reset_after_success": False}}})
    assert out2["policies"]["brute_force"]["allowed_attempts"] == 5  # the earlier patch stays
    assert out2["policies"]["account_blocking"]["allowed_attempts"] == 6
    lockout = org.section("lockout")
    assert lockout["max_password_attempts"] == 6 and lockout["reset_after_success"] is False


def test_password_and_hash_function(pa, org):
    out = pa.patch(
        org.id,
        {"policies": {"password": {"min": 12, "history": 3, "upper_case": 1, "lower_case": 2,
                                   "number": 1, "custom_chars": "!@#"}}},
    )
    assert out["policies"]["password"]["min"] == 12
    pw = org.native.default_password_policy(org.id)
    assert pw["min_length"] == 12 and pw["history"] == 3
    assert pw["min_uppercase"] == 1 and pw["min_lowercase"] == 2 and pw["min_digits"] == 1
    assert pw["required_chars"] == "!@#"

    out = pa.patch(org.id, {"hash_function": "bcrypt", "policies": {"password": {"max": 72}}})
    assert out["hash_function"] == "bcrypt" and out["policies"]["password"]["max"] == 72
    pw = org.native.default_password_policy(org.id)
    assert pw["hash_algorithm"] == "bcrypt" and pw["max_length"] == 72

    out = pa.patch(org.id, {"hash_function": "argon2"})
    assert out["hash_function"] == "argon2"
    assert org.native.default_password_policy(org.id)["hash_algorithm"] == "argon2id"


def test_features_and_mfa(pa, org):
    out = pa.patch(
        org.id,
        {"register_enabled": True, "forgot_password_enabled": True, "force_email_verification": True,
         "user_self_deletion": {"enabled": True}, "mfa_enforcement": "enforced"},
    )
    assert out["register_enabled"] is True and out["mfa_enforcement"] == "enforced"
    policy = org.policy()
    f = policy["features"]["value"]
    assert f["register_enabled"] and f["forgot_password_enabled"] and f["force_email_verification"]
    assert f["user_self_deletion"] is True
    assert policy["mfa"]["value"]["required"] is True


def test_unknown_tenant_settings_are_stored_as_set(pa, org):
    patch = {
        "branding": {"display_name": "Acme"},
        "environment_variables": {"A": "1"},
        "extra_scopes": ["profile", "email"],
        "ciba": {"delivery_mode": "poll", "notifier_endpoint": "https://example.com/ciba"},
        "authenticator": {"bind_sim": True},
    }
    out = pa.patch(org.id, patch)
    for k, v in patch.items():
        assert out[k] == v, k
    got = pa.get(org.id)
    for k, v in patch.items():
        assert got[k] == v, k
    stored = org.section("features")["tenant_settings"]
    for k, v in patch.items():
        assert stored[k] == v, k

    out = pa.patch(org.id, {"environment_variables": {"B": "2"}})
    assert out["environment_variables"] == {"A": "1", "B": "2"}
    assert out["branding"] == {"display_name": "Acme"}


INVALID = [
    {"policies": {"account_blocking": {"allowed_attempts": 4}}},
    {"policies": {"account_blocking": {"allowed_attempts": 251}}},
    {"policies": {"account_blocking": {"block_duration": 59}}},
    {"policies": {"account_blocking": {"block_duration": 630720001}}},
    {"policies": {"account_blocking": {"duration": 59}}},
    {"policies": {"account_blocking": {"duration": 7776001}}},
    {"policies": {"brute_force": {"allowed_attempts": 4}}},
    {"policies": {"brute_force": {"allowed_attempts": 51}}},
    {"policies": {"password": {"history": 11}}},
    {"hash_function": "pbkdf2"},
]


def _id(patch: dict) -> str:
    def flat(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from flat(v, prefix + k + ".")
            else:
                yield f"{prefix}{k}={v}"
    return ",".join(flat(patch))


@pytest.mark.parametrize("patch", INVALID, ids=[_id(p) for p in INVALID])
def test_out_of_range_is_refused_and_changes_nothing(pa, org, patch):
    before = pa.get(org.id)
    native_before = org.policy()
    # A valid change alongside must not be applied either.
    r = pa.patch_raw(org.id, deep_merge({"register_enabled": True}, patch))
    check_error(r, 400, "invalid_request")
    assert pa.get(org.id) == before
    assert org.policy() == native_before


def test_read_reports_canonical_values_outside_the_write_range(pa, org):
    org.native.patch_section(org.id, "lockout", {"max_password_attempts": 3})
    assert pa.get(org.id)["policies"]["account_blocking"]["allowed_attempts"] == 3


def test_another_tenant_is_not_found(pa, other_org):
    native_before = other_org.policy()
    check_error(pa.get_raw(other_org.id), 404, "entity_not_found")
    check_error(pa.patch_raw(other_org.id, {"register_enabled": True}), 404, "entity_not_found")
    assert other_org.policy() == native_before


def test_auditor_reads_but_cannot_write(base_url, org):
    auditor = PlusAuth(base_url, org.auditor_key)
    before = auditor.get(org.id)
    native_before = org.policy()
    check_error(auditor.patch_raw(org.id, {"register_enabled": True}), 401, "missing_scope")
    assert auditor.get(org.id) == before
    assert org.policy() == native_before


def test_missing_and_bad_tokens(base_url, org):
    check_error(PlusAuth(base_url, None).get_raw(org.id), 401, "missing_token")
    check_error(PlusAuth(base_url, "bogus").get_raw(org.id), 401, "unauthorized_user")
    check_error(PlusAuth(base_url, "bogus").patch_raw(org.id, {"register_enabled": True}), 401, "unauthorized_user")
