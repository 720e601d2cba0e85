//! The vendor dialects over the real server: every dialect reads and writes the one policy,
//! a value written through one is read back through the others and enforced, errors come in
//! each vendor's envelope and change nothing, Huawei's signed requests are verified
//! (signature, body hash, date on the server's clock), and a ZITADEL reset is one write.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method as AxumMethod};
use portcullis_dialects::huawei::signing;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Answer, App, ROOT, T0, spawn_app};

pub(crate) const ORG: &str = "11111111-1111-1111-1111-111111111111";
const OTHER: &str = "22222222-2222-2222-2222-222222222222";

impl App {
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.body(body.to_owned()).send().await.unwrap();
        Answer::read(response).await
    }

    /// A Huawei request signed with `ak`/`sk` at `date` (`YYYYMMDDTHHMMSSZ`).
    pub(crate) async fn huawei(
        &self,
        method: Method,
        path: &str,
        ak: &str,
        sk: &str,
        date: &str,
        body: &str,
    ) -> Answer {
        let headers = [("x-sdk-date", date), ("content-type", "application/json")];
        let signed = ["content-type", "host", "x-sdk-date"];
        let authorization = self.authorization(&method, path, (ak, sk), &headers, &signed, body);
        let mut sent = headers.to_vec();
        sent.push(("authorization", &authorization));
        self.send(method, path, &sent, body).await
    }

    /// The `Authorization` value of a request with `headers` (and the server's `host`), signed
    /// over the header names in `signed` and `body`.
    fn authorization(
        &self,
        method: &Method,
        path: &str,
        (ak, sk): (&str, &str),
        headers: &[(&str, &str)],
        signed: &[&str],
        body: &str,
    ) -> String {
        let host = self.base.trim_start_matches("http://");
        let mut map = HeaderMap::new();
        map.insert("host", HeaderValue::from_str(host).unwrap());
        for (name, value) in headers {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let names: Vec<String> = signed.iter().map(|n| (*n).to_owned()).collect();
        let date = headers.iter().find(|(n, _)| *n == "x-sdk-date").unwrap().1;
        let method = AxumMethod::from_bytes(method.as_str().as_bytes()).unwrap();
        let sts = signing::string_to_sign(&method, path, None, &map, &names, body.as_bytes(), date)
            .unwrap();
        format!(
            "SDK-HMAC-SHA256 Access={ak}, SignedHeaders={}, Signature={}",
            signed.join(";"),
            signing::sign(sk.as_bytes(), &sts)
        )
    }

    async fn access_key(&self, org: &str, roles: &[&str]) -> (String, String) {
        let a = self
            .post(
                &format!("/v1/orgs/{org}/access-keys"),
                ROOT,
                json!({"name": "ak", "roles": roles}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        assert_eq!(a.body["kind"], "access");
        (
            a.body["id"].as_str().unwrap().to_owned(),
            a.body["secret"].as_str().unwrap().to_owned(),
        )
    }

    async fn key(&self, org: &str, roles: &[&str]) -> String {
        let a = self
            .post(
                &format!("/v1/orgs/{org}/api-keys"),
                ROOT,
                json!({"name": "k", "roles": roles}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        a.body["key"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn policy_bytes(&self, org: &str) -> Vec<u8> {
        self.get(&format!("/v1/orgs/{org}/policy"), ROOT)
            .await
            .bytes
    }
}

pub(crate) fn sdk_date(offset_seconds: i64) -> String {
    let at = T0 + time::Duration::seconds(offset_seconds);
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    at.format(format).unwrap()
}

pub(crate) const LOGIN_POLICY: &str =
    "/v3.0/OS-SECURITYPOLICY/domains/11111111-1111-1111-1111-111111111111/login-policy";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huawei_signatures_are_verified_on_the_server_clock() {
    let app = spawn_app().await;
    let admin = app.org_with_admin(ORG).await;
    let (ak, sk) = app.access_key(ORG, &["org_admin"]).await;
    // The access key is listed with the API keys, without its secret.
    let list = app.get(&format!("/v1/orgs/{ORG}/api-keys"), &admin).await;
    let listed = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == ak.as_str())
        .unwrap();
    assert_eq!(listed["kind"], "access");
    assert!(!list.bytes.windows(sk.len()).any(|w| w == sk.as_bytes()));

    let ok = app
        .huawei(Method::GET, LOGIN_POLICY, &ak, &sk, &sdk_date(0), "")
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.body["login_policy"]["login_failed_times"], 10);

    // Wrong secret, a date 16 minutes off either way, a body other than the one signed.
    let wrong = app
        .huawei(
            Method::GET,
            LOGIN_POLICY,
            &ak,
            "not-the-secret",
            &sdk_date(0),
            "",
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["error_code"], "IAM.0001");
    for skew in [16 * 60, -16 * 60] {
        let late = app
            .huawei(Method::GET, LOGIN_POLICY, &ak, &sk, &sdk_date(skew), "")
            .await;
        assert_eq!(late.status, StatusCode::UNAUTHORIZED, "skew {skew}");
    }
    let in_window = app
        .huawei(Method::GET, LOGIN_POLICY, &ak, &sk, &sdk_date(14 * 60), "")
        .await;
    assert_eq!(in_window.status, StatusCode::OK);
    // The server's clock moves: a date that was fine is now too old.
    app.clock.advance(20 * 60);
    let stale = app
        .huawei(Method::GET, LOGIN_POLICY, &ak, &sk, &sdk_date(0), "")
        .await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    app.clock.advance(-20 * 60);

    let body = r#"{"login_policy":{"login_failed_times":3,"lockout_duration":15}}"#;
    let date = sdk_date(0);
    let headers = [
        ("x-sdk-date", date.as_str()),
        ("content-type", "application/json"),
    ];
    let authorization = app.authorization(
        &Method::PUT,
        LOGIN_POLICY,
        (&ak, &sk),
        &headers,
        &["content-type", "host", "x-sdk-date"],
        body,
    );
    let before = app.policy_bytes(ORG).await;
    let tampered = app
        .send(
            Method::PUT,
            LOGIN_POLICY,
            &[
                ("x-sdk-date", &sdk_date(0)),
                ("content-type", "application/json"),
                ("authorization", &authorization),
            ],
            r#"{"login_policy":{"login_failed_times":10,"lockout_duration":15}}"#,
        )
        .await;
    assert_eq!(tampered.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.policy_bytes(ORG).await, before);

    // A signature that does not cover the host (or the date) is refused, even when it is right.
    for signed in [["x-sdk-date"], ["host"]] {
        let date = sdk_date(0);
        let headers = [("x-sdk-date", date.as_str())];
        let authorization = app.authorization(
            &Method::GET,
            LOGIN_POLICY,
            (&ak, &sk),
            &headers,
            &signed,
            "",
        );
        let refused = app
            .send(
                Method::GET,
                LOGIN_POLICY,
                &[("x-sdk-date", &date), ("authorization", &authorization)],
                "",
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{signed:?}");
        assert!(
            refused.body["error_msg"]
                .as_str()
                .unwrap()
                .contains("SignedHeaders must include"),
            "{:?}",
            refused.body
        );
    }
    let unbound = format!("SDK-HMAC-SHA256 Access={ak}, SignedHeaders=x-sdk-date, Signature=00");

    // An ordinary token in X-Auth-Token works too, even beside a placeholder signature (the
    // SDK signs every request); an access key is never a bearer token.
    let placeholder = app
        .send(
            Method::GET,
            LOGIN_POLICY,
            &[
                ("x-auth-token", admin.as_str()),
                ("authorization", &unbound),
            ],
            "",
        )
        .await;
    assert_eq!(placeholder.status, StatusCode::OK);
    let token = app
        .send(
            Method::GET,
            LOGIN_POLICY,
            &[("x-auth-token", admin.as_str())],
            "",
        )
        .await;
    assert_eq!(token.status, StatusCode::OK);
    let as_bearer = app.get(&format!("/v1/orgs/{ORG}/policy"), &sk).await;
    assert_eq!(as_bearer.status, StatusCode::UNAUTHORIZED);

    // Another organization's key reaches only its own organization: 404 here.
    let _ = app.org_with_admin(OTHER).await;
    let (other_ak, other_sk) = app.access_key(OTHER, &["org_admin"]).await;
    let cross = app
        .huawei(
            Method::GET,
            LOGIN_POLICY,
            &other_ak,
            &other_sk,
            &sdk_date(0),
            "",
        )
        .await;
    // Looked up in the path's organization, the other organization's key is unknown.
    assert_eq!(cross.status, StatusCode::UNAUTHORIZED);
    // Named by X-Domain-Id (as the SDK sends it), the key is found, and the path's
    // organization is another one: 404.
    let date = sdk_date(0);
    let headers = [("x-sdk-date", date.as_str()), ("x-domain-id", OTHER)];
    let authorization = app.authorization(
        &Method::GET,
        LOGIN_POLICY,
        (&other_ak, &other_sk),
        &headers,
        &["host", "x-domain-id", "x-sdk-date"],
        "",
    );
    let cross = app
        .send(
            Method::GET,
            LOGIN_POLICY,
            &[
                ("x-sdk-date", &date),
                ("x-domain-id", OTHER),
                ("authorization", &authorization),
            ],
            "",
        )
        .await;
    assert_eq!(cross.status, StatusCode::NOT_FOUND, "{:?}", cross.body);
    assert_eq!(cross.body["error_code"], "IAM.0004");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_value_written_through_one_dialect_is_read_by_all_and_enforced() {
    let app = spawn_app().await;
    let admin = app.org_with_admin(ORG).await;
    let (ak, sk) = app.access_key(ORG, &["org_admin"]).await;
    let user = app
        .user(ORG, &admin, "alice", "correct horse battery staple 9")
        .await;
    assert!(!user.is_empty());

    // A field no vendor has (escalation) is kept by the dialect's write.
    app.set_section(
        ORG,
        &admin,
        "lockout",
        serde_json::json!({"escalation": {"strategy": "linear"}}),
    )
    .await;
    let body = r#"{"login_policy":{"login_failed_times":3,"lockout_duration":20,"period_with_login_failures":15,"session_timeout":30}}"#;
    let put = app
        .huawei(Method::PUT, LOGIN_POLICY, &ak, &sk, &sdk_date(0), body)
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.body["login_policy"]["lockout_duration"], 20);

    let native = app.get(&format!("/v1/orgs/{ORG}/policy"), &admin).await;
    assert_eq!(
        native.body["lockout"]["value"]["escalation"]["strategy"], "linear",
        "{:?}",
        native.body["lockout"]
    );
    assert_eq!(
        native.body["lockout"]["value"]["max_password_attempts"], 3,
        "{:?}",
        native.body["lockout"]
    );
    assert_eq!(native.body["lockout"]["value"]["lock_duration"], 1200);
    assert_eq!(native.body["session"]["value"]["idle_timeout"], 1800);
    // Only the sections Huawei's login policy names became the organization's own.
    assert_eq!(native.body["lockout"]["is_default"], false);
    assert_eq!(native.body["password"]["is_default"], true);
    assert_eq!(native.body["brute_force"]["is_default"], true);

    let zitadel = app
        .send(
            Method::GET,
            "/management/v1/policies/lockout",
            &[("authorization", &format!("Bearer {admin}"))],
            "",
        )
        .await;
    assert_eq!(zitadel.body["policy"]["maxPasswordAttempts"], "3");
    assert!(
        zitadel.body.get("isDefault").is_none(),
        "the organization has its own copy now"
    );
    let v2 = app
        .send(
            Method::POST,
            "/zitadel.settings.v2.SettingsService/GetLockoutSettings",
            &[
                ("authorization", &format!("Bearer {admin}")),
                ("content-type", "application/json"),
            ],
            &json!({"ctx": {"orgId": ORG}}).to_string(),
        )
        .await;
    assert_eq!(v2.body["settings"]["maxPasswordAttempts"], "3");
    assert_eq!(
        v2.body["settings"]["resourceOwnerType"],
        "RESOURCE_OWNER_TYPE_ORG"
    );
    let scaleway = app
        .send(
            Method::GET,
            &format!("/iam/v1alpha1/organizations/{ORG}/security-settings"),
            &[("x-auth-token", &admin)],
            "{}",
        )
        .await;
    assert_eq!(scaleway.body["login_attempts_before_locked"], 3);
    let plusauth = app
        .get(&format!("/api/v1/tenants/{ORG}/settings"), &admin)
        .await;
    assert_eq!(
        plusauth.body["policies"]["account_blocking"]["allowed_attempts"],
        3
    );
    assert_eq!(
        plusauth.body["policies"]["account_blocking"]["block_duration"],
        1200
    );

    // Enforced: three wrong passwords lock alice, then even the right one is refused.
    for _ in 0..3 {
        assert_eq!(
            app.login(ORG, "alice", "wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = app
        .login(ORG, "alice", "correct horse battery staple 9")
        .await;
    assert_eq!(locked.status, StatusCode::FORBIDDEN);
    assert_eq!(locked.body["code"], "account_locked", "{:?}", locked.body);

    // SailPoint sets the default policy's minimum length; /v1 enforces it on a password change.
    let sailpoint = app.get("/password-policies/v1/default", &admin).await;
    assert_eq!(sailpoint.status, StatusCode::OK);
    let mut dto = sailpoint.body.clone();
    dto["minLength"] = json!(20);
    let put = app.put("/password-policies/v1/default", &admin, dto).await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.body["minLength"], 20);
    let check = app
        .post(
            &format!("/v1/orgs/{ORG}/password-check"),
            &admin,
            json!({"password": "a much too short 19"}),
        )
        .await;
    assert_eq!(check.body["valid"], false);
    let complexity = app
        .send(
            Method::GET,
            "/management/v1/policies/password/complexity",
            &[("authorization", &format!("Bearer {admin}"))],
            "",
        )
        .await;
    assert_eq!(complexity.body["policy"]["minLength"], "20");
    // What SailPoint does not name (the lockout set through Huawei) is untouched.
    let native = app.get(&format!("/v1/orgs/{ORG}/policy"), &admin).await;
    assert_eq!(native.body["lockout"]["value"]["max_password_attempts"], 3);

    // A ZITADEL reset puts back only the fields ZITADEL names: Huawei's history stays.
    let history = r#"{"password_policy":{"number_of_recent_passwords_disallowed":5}}"#;
    let path = LOGIN_POLICY.replace("login-policy", "password-policy");
    let put = app
        .huawei(Method::PUT, &path, &ak, &sk, &sdk_date(0), history)
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    let bearer = format!("Bearer {admin}");
    let reset = app
        .send(
            Method::DELETE,
            "/management/v1/policies/password/complexity",
            &[("authorization", &bearer)],
            "",
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{:?}", reset.body);
    let native = app.get(&format!("/v1/orgs/{ORG}/policy"), &admin).await;
    let default = &native.body["password"]["value"][0];
    assert_eq!(default["min_length"], 15, "back to the instance default");
    assert_eq!(default["history"], 5, "what ZITADEL does not name stays");
    assert_eq!(native.body["password"]["is_default"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dialect_errors_change_nothing_and_keep_their_envelopes() {
    let app = spawn_app().await;
    let admin = app.org_with_admin(ORG).await;
    let auditor = app.key(ORG, &["org_auditor"]).await;
    let before = app.policy_bytes(ORG).await;

    // Scaleway: one bad field among good ones, nothing written, the field named.
    let path = format!("/iam/v1alpha1/organizations/{ORG}/security-settings");
    let bad = app
        .send(
            Method::PATCH,
            &path,
            &[
                ("x-auth-token", &admin),
                ("content-type", "application/json"),
            ],
            r#"{"login_attempts_before_locked": 4, "max_login_session_duration": "5s"}"#,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["type"], "invalid_arguments");
    assert_eq!(
        bad.body["details"][0]["argument_name"],
        "max_login_session_duration"
    );
    let denied = app
        .send(
            Method::PATCH,
            &path,
            &[("x-auth-token", &auditor)],
            r#"{"login_attempts_before_locked": 4}"#,
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.body["type"], "permissions_denied");
    let anonymous = app.send(Method::GET, &path, &[], "{}").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.body.as_object().is_some_and(|o| !o.is_empty()));
    let other = app
        .send(
            Method::GET,
            &format!("/iam/v1alpha1/organizations/{OTHER}/security-settings"),
            &[("x-auth-token", &admin)],
            "{}",
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.body["type"], "not_found");

    // ZITADEL v1: update without a custom policy 404, add then add again 409, unchanged 400.
    let bearer = format!("Bearer {admin}");
    let z = |method: Method, body: &'static str| {
        let bearer = bearer.clone();
        let app = &app;
        async move {
            app.send(
                method,
                "/management/v1/policies/lockout",
                &[("authorization", &bearer), ("x-zitadel-orgid", ORG)],
                body,
            )
            .await
        }
    };
    let update = z(Method::PUT, r#"{"maxPasswordAttempts": 5}"#).await;
    assert_eq!(
        (update.status, update.body["code"].clone()),
        (StatusCode::NOT_FOUND, json!(5))
    );
    let reset = z(Method::DELETE, "").await;
    assert_eq!(reset.status, StatusCode::NOT_FOUND);
    let invalid = z(Method::POST, r#"{"maxPasswordAttempts": 5000}"#).await;
    assert_eq!(
        (invalid.status, invalid.body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(3))
    );
    assert_eq!(
        app.policy_bytes(ORG).await,
        before,
        "no failed write changed anything"
    );
    let add = z(
        Method::POST,
        r#"{"maxPasswordAttempts": 5, "maxOtpAttempts": 3}"#,
    )
    .await;
    assert_eq!(add.status, StatusCode::OK, "{:?}", add.body);
    assert!(add.body["details"]["sequence"].as_str().is_some());
    let again = z(Method::POST, r#"{"maxPasswordAttempts": 6}"#).await;
    assert_eq!(
        (again.status, again.body["code"].clone()),
        (StatusCode::CONFLICT, json!(6))
    );
    let same = z(
        Method::PUT,
        r#"{"maxPasswordAttempts": "5", "maxOtpAttempts": 3}"#,
    )
    .await;
    assert_eq!(
        (same.status, same.body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(9))
    );
    let off = z(Method::PUT, r#"{"maxOtpAttempts": 3}"#).await;
    assert_eq!(off.status, StatusCode::OK);
    let read = z(Method::GET, "").await;
    assert!(
        read.body["policy"].get("maxPasswordAttempts").is_none(),
        "0 (off) is omitted: {:?}",
        read.body
    );
    let native = app.get(&format!("/v1/orgs/{ORG}/policy"), &admin).await;
    assert_eq!(native.body["lockout"]["value"]["enabled"], false);
    let reset = z(Method::DELETE, "").await;
    assert_eq!(reset.status, StatusCode::OK);
    let read = z(Method::GET, "").await;
    assert_eq!(read.body["isDefault"], true);
    assert_eq!(read.body["policy"]["maxPasswordAttempts"], "10");

    // SailPoint: limit above 250, the default policy cannot be deleted, an unknown id is 404.
    // A query the framework refuses before the handler still answers JSON.
    let duplicate = app
        .get("/v3/password-policies?limit=1&limit=2", &admin)
        .await;
    assert_eq!(duplicate.status, StatusCode::BAD_REQUEST);
    assert!(
        duplicate.body.is_object(),
        "{:?}",
        String::from_utf8_lossy(&duplicate.bytes)
    );
    let list = app.get("/v3/password-policies?limit=251", &admin).await;
    assert_eq!(list.status, StatusCode::BAD_REQUEST);
    assert_eq!(list.body["detailCode"], "400.1 Bad request content");
    let delete = app.delete("/v3/password-policies/default", &admin).await;
    assert_eq!(delete.status, StatusCode::BAD_REQUEST);
    let missing = app.get("/password-policies/v1/nope", &admin).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let created = app
        .post(
            "/password-policies/v1",
            &admin,
            json!({"name": "contractors", "minLength": 12, "sourceIds": ["ldap"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let counted = app
        .get("/password-policies/v1?count=true&limit=1&offset=1", &admin)
        .await;
    assert_eq!(counted.headers["x-total-count"], "2");
    assert_eq!(counted.body.as_array().unwrap().len(), 1);
    assert_eq!(
        app.delete(&format!("/password-policies/v1/{id}"), &admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    // PlusAuth: documented range, read-only scope, another tenant.
    let tenant = format!("/api/v1/tenants/{ORG}/settings");
    let before = app.policy_bytes(ORG).await;
    let low = app
        .patch(&tenant, &admin, json!({"ttl": {"session": 7200}, "policies": {"account_blocking": {"allowed_attempts": 4}}}))
        .await;
    assert_eq!(low.status, StatusCode::BAD_REQUEST);
    assert_eq!(low.body["error"], "invalid_request");
    assert_eq!(app.policy_bytes(ORG).await, before);
    let read_only = app
        .patch(&tenant, &auditor, json!({"register_enabled": true}))
        .await;
    assert_eq!(read_only.body["error"], "missing_scope");
    assert_eq!(app.get(&tenant, &auditor).await.status, StatusCode::OK);
    let other = app
        .get(&format!("/api/v1/tenants/{OTHER}/settings"), &admin)
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.body["error"], "entity_not_found");
    let merged = app
        .patch(
            &tenant,
            &admin,
            json!({"branding": {"display_name": "Acme"}, "extra_scopes": ["a"]}),
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK);
    let merged = app
        .patch(&tenant, &admin, json!({"extra_params": ["b"]}))
        .await;
    assert_eq!(
        merged.body["branding"]["display_name"], "Acme",
        "a patch keeps what it does not name"
    );
    assert_eq!(merged.body["extra_params"], json!(["b"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sailpoint_client_credentials_buy_a_short_lived_token() {
    let app = spawn_app().await;
    let _admin = app.org_with_admin(ORG).await;
    let created = app
        .post(
            &format!("/v1/orgs/{ORG}/api-keys"),
            ROOT,
            json!({"name": "client", "roles": ["org_auditor"]}),
        )
        .await;
    let (id, secret) = (
        created.body["id"].as_str().unwrap(),
        created.body["key"].as_str().unwrap(),
    );
    let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let token = app
        .send(
            Method::POST,
            "/oauth/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            &form,
        )
        .await;
    assert_eq!(token.status, StatusCode::OK, "{:?}", token.body);
    assert_eq!(token.body["expires_in"], 3600);
    let access = token.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/password-policies/v1", &access).await.status,
        StatusCode::OK
    );
    // It carries the client's roles only (auditor: no writes), and expires with the lifetime.
    let write = app
        .post("/password-policies/v1", &access, json!({"name": "x"}))
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    app.clock.advance(3600);
    assert_eq!(
        app.get("/password-policies/v1", &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The sweep deletes the expired token; the client's own key stays.
    let service = app.running.as_ref().unwrap().service.clone();
    let report = service.sweep("test", 180).await.unwrap().unwrap();
    assert_eq!(report.api_keys_deleted, 1, "{report:?}");
    let keys = app.get(&format!("/v1/orgs/{ORG}/api-keys"), ROOT).await;
    let names: Vec<&str> = keys.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"client") && !names.iter().any(|n| n.starts_with("access token")),
        "{names:?}"
    );
    let wrong = format!("grant_type=client_credentials&client_id={id}&client_secret=pck_wrong");
    let refused = app.send(Method::POST, "/oauth/token", &[], &wrong).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.body["error"], "invalid_client");
    let other_id =
        format!("grant_type=client_credentials&client_id=key_other&client_secret={secret}");
    assert_eq!(
        app.send(Method::POST, "/oauth/token", &[], &other_id)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // Deleting the client's key revokes the tokens issued for it at once.
    let token = app
        .send(
            Method::POST,
            "/oauth/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            &form,
        )
        .await;
    let access = token.body["access_token"].as_str().unwrap().to_owned();
    // A token buys no token of its own: it would outlive the client's key.
    let listed = app.get(&format!("/v1/orgs/{ORG}/api-keys"), ROOT).await;
    let token_id = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"].as_str().unwrap().starts_with("access token"))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let chained =
        format!("grant_type=client_credentials&client_id={token_id}&client_secret={access}");
    assert_eq!(
        app.send(Method::POST, "/oauth/token", &[], &chained)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/password-policies/v1", &access).await.status,
        StatusCode::OK
    );
    let deleted = app
        .delete(&format!("/v1/orgs/{ORG}/api-keys/{id}"), ROOT)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/password-policies/v1", &access).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// A ZITADEL reset is one service operation: the fields put back and the sections that then
/// equal the instance default inheriting again are one write, with a `reset` event for a section
/// that inherits again and a `changed` event for one that stays the organization's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zitadel_reset_puts_back_and_inherits_in_one_write() {
    let app = spawn_app().await;
    let admin = app.org_with_admin(ORG).await;
    let bearer = format!("Bearer {admin}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    let lockout = "/management/v1/policies/lockout";
    let add = app
        .send(
            Method::POST,
            lockout,
            &headers,
            r#"{"maxPasswordAttempts":"4"}"#,
        )
        .await;
    assert_eq!(add.status, StatusCode::OK, "{:?}", add.body);
    let before = app.event_types(ORG, &admin).await;
    let reset = app.send(Method::DELETE, lockout, &headers, "").await;
    assert_eq!(reset.status, StatusCode::OK, "{:?}", reset.body);
    let events = app.event_types(ORG, &admin).await;
    assert_eq!(events[before.len()..], ["policy.lockout.reset".to_owned()]);
    let native = app.get(&format!("/v1/orgs/{ORG}/policy"), &admin).await;
    assert_eq!(native.body["lockout"]["is_default"], true);

    // A field the reset does not name keeps the section the organization's own.
    let add = app
        .send(
            Method::POST,
            lockout,
            &headers,
            r#"{"maxPasswordAttempts":"4"}"#,
        )
        .await;
    assert_eq!(add.status, StatusCode::OK, "{:?}", add.body);
    app.set_section(ORG, &admin, "lockout", json!({"notify_user": true}))
        .await;
    let before = app.event_types(ORG, &admin).await;
    let reset = app.send(Method::DELETE, lockout, &headers, "").await;
    assert_eq!(reset.status, StatusCode::OK, "{:?}", reset.body);
    let events = app.event_types(ORG, &admin).await;
    assert_eq!(
        events[before.len()..],
        ["policy.lockout.changed".to_owned()]
    );
    let native = app.get(&format!("/v1/orgs/{ORG}/policy"), &admin).await;
    assert_eq!(native.body["lockout"]["is_default"], false);
    assert_eq!(native.body["lockout"]["value"]["max_password_attempts"], 10);
    // The organization still has its own lockout: a second reset changes nothing and is not
    // an error.
    let again = app.send(Method::DELETE, lockout, &headers, "").await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(app.event_types(ORG, &admin).await.len(), events.len());
}
