//! Every dialect's answers, byte for byte: one scripted session of reads, writes and refused
//! writes through all five facades, whose transcript (status and exact body of every answer)
//! must equal `dialect_wire.txt`. A change of a key, its order, a number's form or an error
//! text fails here, even where the other tests read only the fields they name.
//!
//! After an intended change of a wire format, rewrite the file with
//! `PORTCULLIS_WRITE_TRANSCRIPT=1 cargo test -p portcullis-server --test e2e dialect_wire` and
//! review its diff.

use reqwest::Method;

use crate::support::{App, spawn_app};

const ORG: &str = "33333333-3333-3333-3333-333333333333";
const TRANSCRIPT: &str = include_str!("dialect_wire.txt");

/// One request of the script: method, path, and body (`""` for none).
type Step = (Method, String, &'static str);

fn script() -> Vec<Step> {
    let scaleway = format!("/iam/v1alpha1/organizations/{ORG}/security-settings");
    let huawei = format!("/v3.0/OS-SECURITYPOLICY/domains/{ORG}");
    let plusauth = format!("/api/v1/tenants/{ORG}/settings");
    let mgmt = "/management/v1/policies";
    let v2 = "/zitadel.settings.v2.SettingsService";
    let sp = "/v3/password-policies";
    let s = |p: &str| p.to_owned();
    vec![
        // Scaleway.
        (Method::GET, scaleway.clone(), ""),
        (
            Method::PATCH,
            scaleway.clone(),
            r#"{"enforce_password_renewal": true, "grace_period_duration": "90.5s",
                "login_attempts_before_locked": 7, "max_login_session_duration": "7200s",
                "max_api_key_expiration_duration": "86400s"}"#,
        ),
        (
            Method::PATCH,
            scaleway.clone(),
            r#"{"login_attempts_before_locked": 0}"#,
        ),
        (
            Method::PATCH,
            scaleway.clone(),
            r#"{"grace_period_duration": 5, "bogus": 1, "enforce_password_renewal": "x"}"#,
        ),
        (
            Method::PATCH,
            scaleway.clone(),
            r#"{"login_attempts_before_locked": 5000, "max_login_session_duration": "1s"}"#,
        ),
        // ZITADEL v1 management, admin and v2.
        (Method::GET, format!("{mgmt}/lockout"), ""),
        (Method::GET, format!("{mgmt}/password/complexity"), ""),
        (Method::GET, format!("{mgmt}/password/age"), ""),
        (Method::GET, format!("{mgmt}/login"), ""),
        (
            Method::PUT,
            format!("{mgmt}/lockout"),
            r#"{"maxPasswordAttempts": "4", "maxOtpAttempts": 3}"#,
        ),
        (
            Method::PUT,
            format!("{mgmt}/password/complexity"),
            r#"{"minLength": "12", "hasUppercase": true, "hasNumber": true}"#,
        ),
        (
            Method::PUT,
            format!("{mgmt}/password/age"),
            r#"{"maxAgeDays": "60", "expireWarnDays": "7"}"#,
        ),
        (
            Method::POST,
            format!("{mgmt}/login"),
            r#"{"allowRegister": true, "forceMfa": true, "hidePasswordReset": true,
                "mfaInitSkipLifetime": "3600s", "passwordlessType": "PASSWORDLESS_TYPE_ALLOWED",
                "secondFactors": ["SECOND_FACTOR_TYPE_OTP"], "allowDomainDiscovery": true}"#,
        ),
        (Method::GET, format!("{mgmt}/lockout"), ""),
        (Method::GET, format!("{mgmt}/password/complexity"), ""),
        (Method::GET, format!("{mgmt}/password/age"), ""),
        (Method::GET, format!("{mgmt}/login"), ""),
        (Method::GET, format!("{mgmt}/default/login"), ""),
        (Method::POST, format!("{v2}/GetLockoutSettings"), "{}"),
        (
            Method::POST,
            format!("{v2}/GetPasswordComplexitySettings"),
            "{}",
        ),
        (
            Method::POST,
            format!("{v2}/GetPasswordExpirySettings"),
            "{}",
        ),
        (Method::POST, format!("{v2}/GetLoginSettings"), "{}"),
        (
            Method::POST,
            format!("{v2}/GetLoginSettings"),
            r#"{"ctx": {"instance": true}}"#,
        ),
        (
            Method::PUT,
            format!("{mgmt}/lockout"),
            r#"{"maxPasswordAttempts": "4", "maxOtpAttempts": 3}"#,
        ),
        (Method::PUT, format!("{mgmt}/lockout"), r#"{"bogus": 1}"#),
        (Method::DELETE, format!("{mgmt}/login"), ""),
        (Method::DELETE, format!("{mgmt}/password/age"), ""),
        (Method::GET, format!("{mgmt}/login"), ""),
        (Method::GET, format!("{mgmt}/password/age"), ""),
        (Method::DELETE, format!("{mgmt}/login"), ""),
        // Huawei (ordinary token in X-Auth-Token).
        (Method::GET, format!("{huawei}/login-policy"), ""),
        (Method::GET, format!("{huawei}/password-policy"), ""),
        (Method::GET, format!("{huawei}/protect-policy"), ""),
        (
            Method::PUT,
            format!("{huawei}/login-policy"),
            r#"{"login_policy": {"login_failed_times": 5, "period_with_login_failures": 20,
                "lockout_duration": 25, "session_timeout": 61, "account_validity_period": 90,
                "show_recent_login_info": true, "custom_info_for_login": "Hello"}}"#,
        ),
        (
            Method::PUT,
            format!("{huawei}/password-policy"),
            r#"{"password_policy": {"maximum_consecutive_identical_chars": 3,
                "minimum_password_age": 61, "minimum_password_length": 10,
                "number_of_recent_passwords_disallowed": 2, "password_not_username_or_invert": false,
                "password_validity_period": 30, "password_char_combination": 3}}"#,
        ),
        (
            Method::PUT,
            format!("{huawei}/protect-policy"),
            r#"{"protect_policy": {"operation_protection": true, "admin_check": "on",
                "scene": "email", "email": "a@example.com", "allow_user": {"manage_email": false}}}"#,
        ),
        (Method::GET, format!("{huawei}/protect-policy"), ""),
        (
            Method::PUT,
            format!("{huawei}/login-policy"),
            r#"{"login_policy": {"login_failed_times": 11, "session_timeout": "x", "y": 1}}"#,
        ),
        (
            Method::PUT,
            format!("{huawei}/password-policy"),
            r#"{"password_policy": {"minimum_password_length": 33}}"#,
        ),
        // SailPoint.
        (Method::GET, format!("{sp}?count=true"), ""),
        (
            Method::POST,
            s(sp),
            r#"{"id": "strict", "name": "Strict", "description": "admins", "minLength": 12,
                "maxLength": 64, "minAlpha": 2, "minLower": 1, "minUpper": 1, "minNumeric": 1,
                "minSpecial": 1, "minCharacterTypes": 3, "maxRepeatedChars": -1,
                "passwordExpiration": 45, "enablePasswdExpiration": true,
                "firstExpirationReminder": 5, "accountIdMinWordLength": 5,
                "validateAgainstAccountId": true, "useIdentityAttributes": true,
                "useDictionary": true, "requireStrongAuthn": true, "sourceIds": ["ldap"]}"#,
        ),
        (Method::GET, format!("{sp}/strict"), ""),
        (
            Method::PUT,
            format!("{sp}/strict"),
            r#"{"name": "Stricter", "minLength": 14, "useAccountAttributes": true,
                "created": "2020-01-01T00:00:00Z", "dateCreated": 1}"#,
        ),
        (
            Method::PUT,
            format!("{sp}/strict"),
            r#"{"minLength": "x", "maxRepeatedChars": -2, "bogus": 1, "useDictionary": 1}"#,
        ),
        (Method::GET, s("/password-policies/v1?limit=1&offset=1"), ""),
        (Method::GET, format!("{sp}?limit=251"), ""),
        (Method::GET, format!("{sp}/missing"), ""),
        (Method::DELETE, format!("{sp}/strict"), ""),
        (Method::POST, s("/oauth/token"), "grant_type=password"),
        (
            Method::POST,
            s("/oauth/token"),
            "grant_type=client_credentials&client_id=nobody&client_secret=x",
        ),
        // PlusAuth.
        (Method::GET, plusauth.clone(), ""),
        (
            Method::PATCH,
            plusauth.clone(),
            r#"{"policies": {"password": {"min": 10, "max": 72, "history": 3, "upper_case": null,
                "lower_case": 1, "number": 1, "custom_chars": "!?"},
                "account_blocking": {"enabled": true, "notification": true,
                "reset_after_success": false, "allow_user_unblock": true, "allowed_attempts": 6,
                "block_duration": 120, "duration": 600},
                "brute_force": {"enabled": true, "allowed_attempts": 20, "duration": 300,
                "block_duration": 900, "notification": true, "white_list": ["192.0.2.0/24"]}},
                "ttl": {"access_token": 600, "refresh_token": 86400, "session": 7200},
                "hash_function": "bcrypt", "mfa_enforcement": "never",
                "register_enabled": true, "forgot_password_enabled": true,
                "force_email_verification": true, "user_self_deletion": {"enabled": true},
                "branding": {"display_name": "Acme"}, "extra_scopes": ["a"]}"#,
        ),
        (
            Method::PATCH,
            plusauth.clone(),
            r#"{"policies": {"account_blocking": {"allowed_attempts": 4}, "bogus": {}},
                "ttl": {"session": -1, "nope": 5}, "hash_function": "md5", "colour": 1}"#,
        ),
        (
            Method::PATCH,
            plusauth.clone(),
            r#"{"ttl": {"access_token": 1}}"#,
        ),
        (Method::GET, plusauth.clone(), ""),
    ]
}

/// The headers of a request to `path` with `token`, as each vendor's client sends them.
fn headers<'a>(path: &str, token: &'a str, bearer: &'a str) -> Vec<(&'static str, &'a str)> {
    let mut headers = vec![("x-request-id", "wire-test")];
    if path.starts_with("/iam/") {
        headers.push(("x-auth-token", token));
    } else if path.starts_with("/v3.0/") {
        headers.push(("x-auth-token", token));
        headers.push(("content-type", "application/json"));
    } else if path == "/oauth/token" {
        headers.push(("content-type", "application/x-www-form-urlencoded"));
    } else {
        headers.push(("authorization", bearer));
    }
    headers
}

async fn transcript(app: &App, token: &str) -> String {
    let bearer = format!("Bearer {token}");
    let mut out = String::new();
    for (method, path, body) in script() {
        let answer = app
            .send(method.clone(), &path, &headers(&path, token, &bearer), body)
            .await;
        out.push_str(&format!("{method} {path} -> {}\n", answer.status.as_u16()));
        if let Some(total) = answer.headers.get("x-total-count") {
            out.push_str(&format!("x-total-count: {}\n", total.to_str().unwrap()));
        }
        out.push_str(&String::from_utf8_lossy(&answer.bytes));
        out.push_str("\n\n");
    }
    out
}

#[tokio::test]
async fn every_dialect_answers_byte_for_byte_as_recorded() {
    let app = spawn_app().await;
    let token = app.org_with_admin(ORG).await;
    let actual = transcript(&app, &token).await;
    if std::env::var("PORTCULLIS_WRITE_TRANSCRIPT").is_ok_and(|v| v == "1") {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/dialect_wire.txt");
        std::fs::write(file, &actual).unwrap();
        return;
    }
    for (i, (want, got)) in TRANSCRIPT.lines().zip(actual.lines()).enumerate() {
        assert_eq!(got, want, "line {} of dialect_wire.txt", i + 1);
    }
    assert_eq!(
        actual.lines().count(),
        TRANSCRIPT.lines().count(),
        "the transcript has a different number of lines"
    );
}
