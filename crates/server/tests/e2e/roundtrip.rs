//! Dialect round trips keep meaning: for several organization policies (inherited defaults, a
//! lock until unlocked with no window, custom values in every mapped field, own sections equal
//! to the defaults), each dialect's GET body written back through the dialect's write call
//! changes nothing. The dialect answers the same body again, the native policy is byte-identical,
//! its `ETag` is the same and the organization records no event.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::dialects::sdk_date;
use crate::support::{App, ROOT, spawn_app};

/// The organizations of the round trips, one per policy shape.
const DEFAULTS: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const UNTIL_UNLOCKED: &str = "aaaaaaaa-0000-0000-0000-000000000002";
const CUSTOM: &str = "aaaaaaaa-0000-0000-0000-000000000003";
const OWN_DEFAULTS: &str = "aaaaaaaa-0000-0000-0000-000000000004";

/// An organization set up for the round trips, with its administrator key.
struct Org {
    id: &'static str,
    admin: String,
}

/// What must not move: the native policy, its `ETag` and the organization's events.
struct Snapshot {
    policy: Vec<u8>,
    etag: String,
    events: Vec<String>,
}

impl App {
    async fn snapshot(&self, org: &Org) -> Snapshot {
        let native = self.get(&format!("/v1/orgs/{}/policy", org.id), ROOT).await;
        assert_eq!(native.status, StatusCode::OK);
        let etag = native
            .headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(!etag.is_empty(), "the policy has an ETag");
        Snapshot {
            policy: self.policy_bytes(org.id).await,
            etag,
            events: self.event_types(org.id, &org.admin).await,
        }
    }

    async fn assert_unchanged(&self, org: &Org, before: &Snapshot, what: &str) {
        let after = self.snapshot(org).await;
        assert_eq!(
            String::from_utf8_lossy(&after.policy),
            String::from_utf8_lossy(&before.policy),
            "{what} on {}: the native policy changed",
            org.id
        );
        assert_eq!(after.etag, before.etag, "{what} on {}: ETag", org.id);
        assert_eq!(after.events, before.events, "{what} on {}: events", org.id);
    }
}

/// The four organizations, in their states.
async fn organizations(app: &App) -> Vec<Org> {
    let mut orgs = Vec::new();
    for id in [DEFAULTS, UNTIL_UNLOCKED, CUSTOM, OWN_DEFAULTS] {
        let admin = app.org_with_admin(id).await;
        orgs.push(Org { id, admin });
    }
    let admin = &orgs[1].admin;
    app.set_section(
        UNTIL_UNLOCKED,
        admin,
        "lockout",
        json!({"window": null, "lock_duration": null}),
    )
    .await;
    app.set_section(
        UNTIL_UNLOCKED,
        admin,
        "session",
        json!({"idle_timeout": null}),
    )
    .await;

    let admin = &orgs[2].admin;
    for (section, patch) in [
        (
            "lockout",
            // 3 attempts is below PlusAuth's range, 90 s is not whole minutes for Huawei and
            // the window is PlusAuth's largest value.
            json!({"max_password_attempts": 3, "max_otp_attempts": 4, "window": 7_776_000,
                   "lock_duration": 90, "reset_after_success": false,
                   "allow_self_unblock": false, "notify_user": false}),
        ),
        (
            "session",
            json!({"max_session_duration": 7201, "idle_timeout": 61, "account_validity_days": 30,
                   "show_recent_login_info": true, "login_banner": "Authorized use only"}),
        ),
        ("mfa", json!({"required": true})),
        (
            "features",
            json!({"register_enabled": true, "forgot_password_enabled": false,
                   "user_self_deletion": true, "force_email_verification": true}),
        ),
        (
            "brute_force",
            json!({"max_attempts": 7, "window": 600, "block_duration": 900,
                   "allowlist": ["192.0.2.0/24"], "notify_admin": true}),
        ),
        (
            "tokens",
            json!({"access_token": 901, "refresh_token": 86_401, "id_token": 601}),
        ),
        ("api_keys", json!({"max_expiration": 86_401})),
    ] {
        app.set_section(CUSTOM, admin, section, patch).await;
    }
    let base = format!("/v1/orgs/{CUSTOM}/password-policies");
    let put = app
        .put(
            &format!("{base}/default"),
            admin,
            json!({"name": "Default", "is_default": true, "description": "house rules",
                   "min_length": 4, "max_length": 64, "min_uppercase": 2, "min_lowercase": 1,
                   "min_digits": 1, "min_special": 1, "min_letters": 2, "min_character_types": 3,
                   "max_repeated_chars": 2, "required_chars": "#", "check_blocklist": false,
                   "check_account_attributes": true, "account_attributes": ["login", "email"],
                   "attribute_min_word_length": 4, "history": 12, "min_age": 90,
                   "expiration_enabled": true, "max_age_days": 45, "expire_warn_days": 7,
                   "renew_on_first_login": true, "grace_period": 86_401,
                   "hash_algorithm": "bcrypt"}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    let post = app
        .post(
            &base,
            admin,
            json!({"id": "contractors", "name": "Contractors", "sources": ["ldap"],
                   "min_length": 20, "expiration_enabled": false, "max_age_days": 30}),
        )
        .await;
    assert_eq!(post.status, StatusCode::CREATED, "{:?}", post.body);

    // Own copies equal to the instance defaults.
    let admin = &orgs[3].admin;
    for section in [
        "lockout",
        "session",
        "mfa",
        "features",
        "brute_force",
        "tokens",
        "api_keys",
    ] {
        app.set_section(OWN_DEFAULTS, admin, section, json!({}))
            .await;
    }
    orgs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaleway_round_trip_changes_nothing() {
    let app = spawn_app().await;
    for org in organizations(&app).await {
        let path = format!("/iam/v1alpha1/organizations/{}/security-settings", org.id);
        let auth = [("x-auth-token", org.admin.as_str())];
        let got = app.send(Method::GET, &path, &auth, "").await;
        assert_eq!(got.status, StatusCode::OK, "{:?}", got.body);
        let before = app.snapshot(&org).await;
        let body = got.body.to_string();
        let headers = [
            ("x-auth-token", org.admin.as_str()),
            ("content-type", "application/json"),
        ];
        let put = app.send(Method::PATCH, &path, &headers, &body).await;
        assert_eq!(put.status, StatusCode::OK, "{}: {:?}", org.id, put.body);
        assert_eq!(app.send(Method::GET, &path, &auth, "").await.body, got.body);
        app.assert_unchanged(&org, &before, "Scaleway PATCH").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plusauth_round_trip_changes_nothing() {
    let app = spawn_app().await;
    for org in organizations(&app).await {
        let path = format!("/api/v1/tenants/{}/settings", org.id);
        let got = app.get(&path, &org.admin).await;
        assert_eq!(got.status, StatusCode::OK, "{:?}", got.body);
        let before = app.snapshot(&org).await;
        let patch = app.patch(&path, &org.admin, got.body.clone()).await;
        assert_eq!(patch.status, StatusCode::OK, "{}: {:?}", org.id, patch.body);
        assert_eq!(patch.body, got.body, "{}: the PATCH answer", org.id);
        assert_eq!(app.get(&path, &org.admin).await.body, got.body);
        app.assert_unchanged(&org, &before, "PlusAuth PATCH").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huawei_round_trip_changes_nothing() {
    let app = spawn_app().await;
    for org in organizations(&app).await {
        // An hour: within the custom organization's API key lifetime.
        let key = app
            .post(
                &format!("/v1/orgs/{}/access-keys", org.id),
                ROOT,
                json!({"name": "ak", "roles": ["org_admin"],
                       "expires_at": "2026-11-23T10:00:00Z"}),
            )
            .await;
        assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
        let (ak, sk) = (
            key.body["id"].as_str().unwrap().to_owned(),
            key.body["secret"].as_str().unwrap().to_owned(),
        );
        for policy in ["login-policy", "password-policy", "protect-policy"] {
            let path = format!("/v3.0/OS-SECURITYPOLICY/domains/{}/{policy}", org.id);
            let got = app
                .huawei(Method::GET, &path, &ak, &sk, &sdk_date(0), "")
                .await;
            assert_eq!(got.status, StatusCode::OK, "{:?}", got.body);
            let before = app.snapshot(&org).await;
            let body = got.body.to_string();
            let put = app
                .huawei(Method::PUT, &path, &ak, &sk, &sdk_date(0), &body)
                .await;
            assert_eq!(
                put.status,
                StatusCode::OK,
                "{} {policy}: {:?}",
                org.id,
                put.body
            );
            let again = app
                .huawei(Method::GET, &path, &ak, &sk, &sdk_date(0), "")
                .await;
            assert_eq!(again.body, got.body, "{} {policy}", org.id);
            app.assert_unchanged(&org, &before, &format!("Huawei PUT {policy}"))
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sailpoint_round_trip_changes_nothing() {
    let app = spawn_app().await;
    for org in organizations(&app).await {
        let list = app.get("/password-policies/v1", &org.admin).await;
        assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
        for base in ["/password-policies/v1", "/v3/password-policies"] {
            for policy in list.body.as_array().unwrap() {
                let id = policy["id"].as_str().unwrap();
                let path = format!("{base}/{id}");
                let got = app.get(&path, &org.admin).await;
                assert_eq!(&got.body, policy);
                let before = app.snapshot(&org).await;
                let put = app.put(&path, &org.admin, got.body.clone()).await;
                assert_eq!(put.status, StatusCode::OK, "{}: {:?}", org.id, put.body);
                assert_eq!(put.body, got.body, "{} {path}: the PUT answer", org.id);
                assert_eq!(app.get(&path, &org.admin).await.body, got.body);
                app.assert_unchanged(&org, &before, &format!("SailPoint PUT {path}"))
                    .await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zitadel_round_trip_changes_nothing() {
    let app = spawn_app().await;
    for org in organizations(&app).await {
        let bearer = format!("Bearer {}", org.admin);
        let headers = [
            ("authorization", bearer.as_str()),
            ("x-zitadel-orgid", org.id),
            ("content-type", "application/json"),
        ];
        for policy in ["lockout", "password/complexity", "password/age", "login"] {
            let path = format!("/management/v1/policies/{policy}");
            let got = app.send(Method::GET, &path, &headers, "").await;
            assert_eq!(got.status, StatusCode::OK, "{:?}", got.body);
            let before = app.snapshot(&org).await;
            // A client writes the policy it read back: an add while the organization inherits
            // it (`isDefault`), else an update.
            let inherited = got.body["isDefault"] == json!(true);
            let method = if inherited { Method::POST } else { Method::PUT };
            let message: &Value = &got.body["policy"];
            let write = app
                .send(method, &path, &headers, &message.to_string())
                .await;
            if inherited {
                assert_eq!(
                    write.status,
                    StatusCode::OK,
                    "{} {policy}: {:?}",
                    org.id,
                    write.body
                );
            } else {
                // ZITADEL refuses an update that changes nothing; nothing is written either way.
                assert!(
                    write.status == StatusCode::OK || write.body.to_string().contains("NotChanged"),
                    "{} {policy}: {} {:?}",
                    org.id,
                    write.status,
                    write.body
                );
            }
            let again = app.send(Method::GET, &path, &headers, "").await;
            assert_eq!(again.body, got.body, "{} {policy}", org.id);
            app.assert_unchanged(&org, &before, &format!("ZITADEL write {policy}"))
                .await;
        }
    }
}
