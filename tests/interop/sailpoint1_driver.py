"""Drives SailPoint's 1.x SDK (`sailpoint` 1.4.2, module `sailpoint.v3`, paths `/v3/password-policies`).

Runs inside tests/interop/.venv-sailpoint1 (1.x cannot be installed beside 2.x), started once per
test session by test_sailpoint.py (importing `sailpoint.v3` takes seconds). Reads JSON jobs on stdin,
one per line:

    {"base_url": ..., "access_token": ... | null, "client_id": ..., "client_secret": ...,
     "ops": [{"op": "list"|"get"|"create"|"set"|"delete"|"token", ...}, ...]}

and answers each with one line on stdout: a JSON list with one result per op:

    {"ok": true, "status": 200, "data": <dto dict by alias | list | null>, "headers": {...}}
    {"ok": false, "exception": "<class name>", "module": "...", "status": 404, "body": "..."}

Assertions live in the test; this script only reports what the SDK returned or raised.
"""

from __future__ import annotations

import json
import sys


def run(job: dict) -> list:
    from sailpoint.configuration import Configuration, ConfigurationParams
    from sailpoint.v3 import ApiClient, PasswordPoliciesApi
    from sailpoint.v3.exceptions import ApiException
    from sailpoint.v3.models.password_policy_v3_dto import PasswordPolicyV3Dto

    params = ConfigurationParams()
    params.base_url = job["base_url"]
    if job.get("access_token"):
        params.access_token = job["access_token"]
    else:
        params.client_id = job.get("client_id")
        params.client_secret = job.get("client_secret")
    config = Configuration(params)  # fetches a token from {base_url}/oauth/token when needed
    api = PasswordPoliciesApi(ApiClient(config))

    def dump(data):
        if data is None:
            return None
        if isinstance(data, list):
            return [d.to_dict() for d in data]
        return data.to_dict()

    results = []
    for op in job["ops"]:
        kind = op["op"]
        try:
            if kind == "token":
                results.append({"ok": True, "status": None, "data": config.access_token, "headers": {}})
                continue
            if kind == "list":
                r = api.list_password_policies_with_http_info(
                    limit=op.get("limit"), offset=op.get("offset"), count=op.get("count")
                )
            elif kind == "get":
                r = api.get_password_policy_by_id_with_http_info(id=op["id"])
            elif kind == "create":
                r = api.create_password_policy_with_http_info(
                    password_policy_v3_dto=PasswordPolicyV3Dto.from_dict(op["dto"])
                )
            elif kind == "set":
                r = api.set_password_policy_with_http_info(
                    id=op["id"], password_policy_v3_dto=PasswordPolicyV3Dto.from_dict(op["dto"])
                )
            elif kind == "delete":
                r = api.delete_password_policy_with_http_info(id=op["id"])
            else:
                raise SystemExit(f"unknown op {kind!r}")
            results.append(
                {
                    "ok": True,
                    "status": r.status_code,
                    "data": dump(r.data),
                    "headers": {k: v for k, v in (r.headers or {}).items()},
                }
            )
        except ApiException as e:
            results.append(
                {
                    "ok": False,
                    "exception": type(e).__name__,
                    "module": type(e).__module__,
                    "status": e.status,
                    "body": e.body if isinstance(e.body, str) else (e.body or b"").decode("utf-8", "replace"),
                }
            )
    return results


def main() -> int:
    import sailpoint.v3  # noqa: F401  (the slow import, once)

    for line in sys.stdin:
        if not line.strip():
            continue
        results = run(json.loads(line))
        # 1.x types dateCreated/lastUpdated as datetime (2.x: int epoch ms): sent as ISO 8601.
        sys.stdout.write(json.dumps(results, default=lambda o: o.isoformat()) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
