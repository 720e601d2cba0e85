"""Thin wrappers around the vendors' official Python clients, pointed at the server under test,
plus helpers on the native policy document. Shared by the per-vendor modules and the
cross-dialect tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any, Optional

import pytest
import requests
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkiam.v3 import (
    IamClient,
    LoginPolicyOption,
    PasswordPolicyOption,
    ProtectPolicyOption,
    ShowDomainLoginPolicyRequest,
    ShowDomainPasswordPolicyRequest,
    ShowDomainProtectPolicyRequest,
    UpdateDomainLoginPolicyRequest,
    UpdateDomainLoginPolicyRequestBody,
    UpdateDomainPasswordPolicyRequest,
    UpdateDomainPasswordPolicyRequestBody,
    UpdateDomainProtectPolicyRequest,
    UpdateDomainProtectPolicyRequestBody,
)
from sailpoint import ApiClient, Configuration, ConfigurationParams, PasswordPoliciesApi
from scaleway import Client
from scaleway.iam.v1alpha1 import IamV1Alpha1API

# zitadel-client 4.1.9 imports authlib.jose, which warns on import; authlib installs an "always"
# filter for its warning class when first imported, so the ignore filter goes in after it.
from authlib.deprecate import AuthlibDeprecationWarning  # noqa: E402  (a zitadel-client dependency)

warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)
from zitadel_client import Zitadel  # noqa: E402
from zitadel_client.models import SettingsServiceRequestContext  # noqa: E402

# --------------------------------------------------------------------------------------------
# The native policy document
# --------------------------------------------------------------------------------------------


def password_policies(policy: dict) -> list:
    """The named password policies of a full native policy document.

    The `password` section's value is the list of policies (the running server answers a bare
    list; a `{"policies": [...]}` object is accepted too).
    """
    value = policy["password"]["value"]
    return value["policies"] if isinstance(value, dict) else value


def default_password_policy(policy: dict) -> dict:
    pols = password_policies(policy)
    defaults = [p for p in pols if p.get("is_default")]
    assert len(defaults) == 1, pols
    return defaults[0]


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# --------------------------------------------------------------------------------------------
# Scaleway (scaleway 2.12.0)
# --------------------------------------------------------------------------------------------

SCW_ACCESS_KEY = "SCWXXXXXXXXXXXXXXXXX"
SCW_FIELDS = (
    "enforce_password_renewal",
    "login_attempts_before_locked",
    "grace_period_duration",
    "max_login_session_duration",
    "max_api_key_expiration_duration",
)


def scw(base_url: str, secret_key: str, org_id: str) -> IamV1Alpha1API:
    """The IAM API with our API key as the secret key.

    Our keys are not UUIDs, so local credential validation is skipped with
    `bypass_validation=True` (scaleway_core.api.API.__init__).
    """
    client = Client(
        access_key=SCW_ACCESS_KEY,
        secret_key=secret_key,
        api_url=base_url,
        default_organization_id=org_id,
    )
    return IamV1Alpha1API(client, bypass_validation=True)


def scw_dict(settings) -> dict:
    return {f: getattr(settings, f) for f in SCW_FIELDS}


# --------------------------------------------------------------------------------------------
# ZITADEL (zitadel-client 4.1.9): v2 through the SDK, v1 REST through the SDK's ApiClient
# --------------------------------------------------------------------------------------------

LOCKOUT = "/management/v1/policies/lockout"
COMPLEXITY = "/management/v1/policies/password/complexity"
AGE = "/management/v1/policies/password/age"
LOGIN = "/management/v1/policies/login"


class V1:
    """The v1 REST API through the SDK's ApiClient."""

    def __init__(self, base_url: str, token: str, org: Optional[str] = None):
        self.z = Zitadel.with_access_token(base_url, token)
        self.org = org

    def call(self, method: str, path: str, body: Any = None, org: Optional[str] = "<default>") -> dict:
        api = self.z.settings.api_client
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        org_id = self.org if org == "<default>" else org
        if org_id is not None:
            headers["x-zitadel-orgid"] = org_id
        params = api.param_serialize(
            method=method,
            resource_path=path,
            header_params=headers,
            body=body,
            auth_settings=["zitadelAccessToken"],
        )
        response = api.call_api(*params)
        response.read()
        # Raises ApiError for any non-2xx status, as the generated v2 methods do.
        return api.response_deserialize(response, {"2XX": "object"}).data

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def add(self, path, body, **kw):
        return self.call("POST", path, body, **kw)

    def update(self, path, body, **kw):
        return self.call("PUT", path, body, **kw)

    def reset(self, path, **kw):
        return self.call("DELETE", path, **kw)


def v2(base_url: str, token: str) -> Zitadel:
    return Zitadel.with_access_token(base_url, token)


def ctx(org_id: Optional[str] = None, instance: bool = False) -> SettingsServiceRequestContext:
    if instance:
        return SettingsServiceRequestContext(instance=True)
    return SettingsServiceRequestContext(org_id=org_id)


def policy_of(answer: dict) -> dict:
    assert "policy" in answer, answer
    return answer["policy"]


# --------------------------------------------------------------------------------------------
# Huawei Cloud IAM (huaweicloudsdkiam 3.1.219)
# --------------------------------------------------------------------------------------------


def iam(base_url: str, ak: str, sk: str, domain_id: str) -> IamClient:
    cred = GlobalCredentials(ak, sk, domain_id=domain_id)
    return IamClient.new_builder().with_credentials(cred).with_endpoints([base_url]).build()


def huawei_admin(base_url, org) -> IamClient:
    key = org.native.create_access_key(org.id, "huawei admin", roles=["org_admin"])
    return iam(base_url, key["id"], key["secret"], org.id)


class Huawei:
    """The three policies of one domain through one client."""

    def __init__(self, client: IamClient, domain_id: str):
        self.c = client
        self.domain = domain_id

    def login(self) -> dict:
        r = self.c.show_domain_login_policy(ShowDomainLoginPolicyRequest(domain_id=self.domain))
        return r.login_policy.to_dict()

    def set_login(self, **fields) -> dict:
        r = self.c.update_domain_login_policy(
            UpdateDomainLoginPolicyRequest(
                domain_id=self.domain,
                body=UpdateDomainLoginPolicyRequestBody(login_policy=LoginPolicyOption(**fields)),
            )
        )
        return r.login_policy.to_dict()

    def password(self) -> dict:
        r = self.c.show_domain_password_policy(ShowDomainPasswordPolicyRequest(domain_id=self.domain))
        return r.password_policy.to_dict()

    def set_password(self, **fields) -> dict:
        r = self.c.update_domain_password_policy(
            UpdateDomainPasswordPolicyRequest(
                domain_id=self.domain,
                body=UpdateDomainPasswordPolicyRequestBody(
                    password_policy=PasswordPolicyOption(**fields)
                ),
            )
        )
        return r.password_policy.to_dict()

    def protect(self) -> dict:
        r = self.c.show_domain_protect_policy(ShowDomainProtectPolicyRequest(domain_id=self.domain))
        return r.protect_policy.to_dict()

    def set_protect(self, **fields) -> dict:
        r = self.c.update_domain_protect_policy(
            UpdateDomainProtectPolicyRequest(
                domain_id=self.domain,
                body=UpdateDomainProtectPolicyRequestBody(protect_policy=ProtectPolicyOption(**fields)),
            )
        )
        return r.protect_policy.to_dict()

    def snapshot(self) -> tuple:
        return self.login(), self.password(), self.protect()


# --------------------------------------------------------------------------------------------
# SailPoint 2.x (sailpoint 2.1.72)
# --------------------------------------------------------------------------------------------


def sp(base_url: str, token: str = None, client_id: str = None, client_secret: str = None):
    params = ConfigurationParams()
    params.base_url = base_url
    if token is not None:
        params.access_token = token
    else:
        params.client_id = client_id
        params.client_secret = client_secret
    return PasswordPoliciesApi(ApiClient(Configuration(params)))


# SailPoint 1.x (sailpoint 1.4.2) cannot be installed beside 2.x: it runs in
# tests/interop/.venv-sailpoint1 (made by scripts/test) through sailpoint1_driver.py in a subprocess;
# PORTCULLIS_SAILPOINT1_PYTHON names that interpreter.

HERE = Path(__file__).resolve().parent


def sailpoint1_python() -> str:
    path = os.environ.get("PORTCULLIS_SAILPOINT1_PYTHON") or str(HERE / ".venv-sailpoint1" / "bin" / "python")
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"the SailPoint 1.x venv is missing ({path}); scripts/test creates it from "
            "tests/interop/requirements-sailpoint1.txt",
            pytrace=False,
        )
    return path


class V3Driver:
    """One sailpoint1_driver.py process for the session, fed one JSON job per line."""

    def __init__(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAIL_")}
        self.proc = subprocess.Popen(
            [sailpoint1_python(), str(HERE / "sailpoint1_driver.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env, cwd=HERE,
        )

    def run(self, job: dict) -> list:
        assert self.proc.poll() is None, "the SailPoint 1.x driver died: " + self.proc.stderr.read()
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            pytest.fail(f"the SailPoint 1.x driver died ({self.proc.returncode}):\n{self.proc.stderr.read()}")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------------------------
# PlusAuth (no Python client: its wire format with requests)
# --------------------------------------------------------------------------------------------


class PlusAuth:
    def __init__(self, base_url: str, token: str | None):
        self.base = base_url + "/api/v1"
        self.http = requests.Session()
        self.http.headers.update(
            {
                "Accept": "application/json",
                "Content-Type": "application/json",
                "X-Requested-With": "XMLHttpRequest",
            }
        )
        if token is not None:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def get_raw(self, tenant: str) -> requests.Response:
        return self.http.get(f"{self.base}/tenants/{tenant}/settings", timeout=30)

    def patch_raw(self, tenant: str, data: dict) -> requests.Response:
        return self.http.patch(f"{self.base}/tenants/{tenant}/settings", json=data, timeout=30)

    def get(self, tenant: str) -> dict:
        r = self.get_raw(tenant)
        assert r.status_code == 200, r.text
        return r.json()

    def patch(self, tenant: str, data: dict) -> dict:
        r = self.patch_raw(tenant, data)
        assert r.status_code == 200, r.text
        return r.json()


