//! The console and the hosted pages over HTTP, as a browser speaks to them (forms, cookies, no
//! redirect followed): the security headers, the CSRF rule, the console session a key buys and
//! its end, and the hosted login counting like the API's. The browser suite (tests/browser)
//! drives the same pages in Chromium.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::support::{App, ROOT, spawn_app};

/// A browser without JavaScript: it keeps the cookies it is given and follows nothing.
struct Browser<'a> {
    app: &'a App,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    html: String,
}

impl<'a> Browser<'a> {
    fn new(app: &'a App) -> Browser<'a> {
        Browser {
            app,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn keep(&mut self, headers: &HeaderMap) {
        for set in headers.get_all(SET_COOKIE) {
            let text = set.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = request.header("cookie", cookie).send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        self.keep(&headers);
        Page {
            status,
            headers,
            html: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.app.base));
        self.send(request).await
    }

    /// A browser signed in to the console with `key`.
    async fn signed_in(app: &'a App, key: &str) -> Browser<'a> {
        let mut browser = Browser::new(app);
        browser.get("/console/signin").await;
        let signed = browser.post("/console/signin", &[("key", key)]).await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
        browser
    }

    /// Posts a form with the page's CSRF token (the cookie's), as a page's form would.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self
            .cookie("portcullis_csrf")
            .unwrap_or_default()
            .to_owned();
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &token));
        let request = self
            .http
            .post(format!("{}{path}", self.app.base))
            .form(&form);
        self.send(request).await
    }

    /// Posts a form exactly as given (no token added).
    async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self
            .http
            .post(format!("{}{path}", self.app.base))
            .form(&fields);
        self.send(request).await
    }
}

/// The text right after `marker` in `html`, up to the next `"` (an attribute's value).
fn after(html: &str, marker: &str) -> String {
    html.split(marker)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no {marker} in {html}"))
        .to_owned()
}

fn location(page: &Page) -> &str {
    page.headers
        .get(LOCATION)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_page_carries_the_security_headers_and_strict_cookies() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    for path in [
        "/console/signin",
        "/unblock?token=x",
        "/reset-password?token=x",
        "/assets/portcullis.css",
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-eval"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert_eq!(page.headers["x-frame-options"], "DENY");
        assert_eq!(page.headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(page.headers["cache-control"], "no-store", "{path}");
    }
    // A fresh browser is given its CSRF cookie: HttpOnly, SameSite=Strict, not Secure over http.
    let page = Browser::new(&app).get("/console/signin").await;
    let set = page.headers[SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("portcullis_csrf="), "{set}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{set}");
    }
    assert!(!set.contains("Secure"), "{set}");
    // No inline script or style anywhere: what the CSP forbids is not relied on.
    assert!(!page.html.contains("<script>") && !page.html.contains("style="));
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused_and_does_nothing() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    browser.get("/console/signin").await;
    let refused = browser.post_raw("/console/signin", &[("key", ROOT)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(browser.cookie("portcullis_session").is_none());
    let forged = browser
        .post_raw(
            "/console/signin",
            &[("key", ROOT), ("csrf", &"0".repeat(64))],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // A browser that never had the cookie cannot post either (a cross-site form).
    let mut stranger = Browser::new(&app);
    let token = "a".repeat(64);
    let cross = stranger
        .post_raw("/console/signin", &[("key", ROOT), ("csrf", &token)])
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let events = app.get("/v1/instance/events", ROOT).await;
    assert!(
        !events.body.to_string().contains("oauth.token_issued"),
        "no console session was opened: {}",
        events.body
    );
    // A browser's Origin or Sec-Fetch-Site naming another site is refused even with the right
    // token (a sibling subdomain could have planted the cookie).
    let token = browser.cookie("portcullis_csrf").unwrap().to_owned();
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("origin", "http://sub.127.0.0.1"),
        ("sec-fetch-site", "same-site"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let request = browser
            .http
            .post(format!("{}/console/signin", app.base))
            .header(name, value)
            .form(&[("key", ROOT), ("csrf", &token)]);
        let page = browser.send(request).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{name}: {value}");
    }
    let own_origin = browser
        .http
        .post(format!("{}/console/signin", app.base))
        .header("origin", &app.base)
        .header("sec-fetch-site", "same-origin")
        .form(&[("key", ROOT), ("csrf", &token)]);
    let signed = browser.send(own_origin).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
}

#[tokio::test]
async fn a_key_buys_a_console_session_of_its_own_that_signing_out_ends() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    browser.get("/console/signin").await;
    let wrong = browser.post("/console/signin", &[("key", "pk_nope")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.html.contains("not valid"), "{}", wrong.html);
    let signed = browser.post("/console/signin", &[("key", ROOT)]).await;
    assert_eq!(location(&signed), "/console/");
    let session = browser.cookie("portcullis_session").unwrap().to_owned();
    assert_ne!(session, ROOT, "the typed key is not what the browser keeps");
    assert!(!signed.html.contains(ROOT));
    // An issued key buys nothing more: its successor could outlive it.
    let mut other = Browser::new(&app);
    other.get("/console/signin").await;
    let chained = other.post("/console/signin", &[("key", &session)]).await;
    assert_eq!(chained.status, StatusCode::UNAUTHORIZED);
    // Signing in again ends the console session the browser had.
    let mut twice = Browser::new(&app);
    twice.get("/console/signin").await;
    twice.post("/console/signin", &[("key", ROOT)]).await;
    let earlier = twice.cookie("portcullis_session").unwrap().to_owned();
    twice.post("/console/signin", &[("key", ROOT)]).await;
    assert_ne!(twice.cookie("portcullis_session").unwrap(), earlier);
    assert_eq!(
        app.get("/v1/orgs", &earlier).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The console works with it, and so does the API (it is a key).
    let orgs = browser.get("/console/orgs").await;
    assert_eq!(orgs.status, StatusCode::OK);
    assert!(orgs.html.contains("Organizations"));
    let created = browser
        .post("/console/orgs", &[("id", "acme"), ("name", "Acme")])
        .await;
    assert_eq!(location(&created), "/console/orgs/acme/policy");
    assert_eq!(
        app.get("/v1/orgs/acme", &session).await.status,
        StatusCode::OK
    );
    // It is an instance key issued from the root key, named so; it never counts as the last.
    let keys = app.get("/v1/instance/keys", ROOT).await.body;
    let console_keys: Vec<_> = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| {
            k["name"]
                .as_str()
                .unwrap()
                .starts_with("console session of")
        })
        .collect();
    // This browser's, and the one of the browser that signed in twice.
    assert_eq!(console_keys.len(), 2, "{keys}");
    assert!(console_keys[0]["expires_at"].is_string());
    // Signing out deletes it on the server and forgets the cookie.
    let out = browser.post("/console/signout", &[]).await;
    assert_eq!(location(&out), "/console/signin");
    assert!(browser.cookie("portcullis_session").is_none());
    assert_eq!(
        app.get("/v1/orgs/acme", &session).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/v1/orgs/acme", ROOT).await.status, StatusCode::OK);
    // Without a session the console sends to its sign-in page.
    let page = browser.get("/console/orgs").await;
    assert_eq!(location(&page), "/console/signin");

    // A console session nobody ended expires after 8 hours, and the sweep removes its key.
    app.clock.advance(8 * 3600);
    let left = twice.cookie("portcullis_session").unwrap().to_owned();
    assert_eq!(
        app.get("/v1/orgs", &left).await.status,
        StatusCode::UNAUTHORIZED
    );
    let service = app.running.as_ref().unwrap().service.clone();
    let report = service.sweep("test", 180).await.unwrap().unwrap();
    assert_eq!(report.api_keys_deleted, 1, "{report:?}");
    let keys = app.get("/v1/instance/keys", ROOT).await.body;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1, "{keys}");
}

#[tokio::test]
async fn deleting_the_typed_key_ends_the_console_sessions_it_opened() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let mut browser = Browser::signed_in(&app, &admin).await;
    assert_eq!(
        browser.get("/console/orgs/acme/users").await.status,
        StatusCode::OK
    );
    let keys = app.get("/v1/orgs/acme/api-keys", ROOT).await.body;
    let typed = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let gone = app
        .delete(&format!("/v1/orgs/acme/api-keys/{typed}"), ROOT)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let page = browser.get("/console/orgs/acme/users").await;
    assert_eq!(location(&page), "/console/signin");
    // An organization's key reaches its own organization only.
    let other = app.org_with_admin("other").await;
    let mut browser = Browser::signed_in(&app, &other).await;
    assert_eq!(
        browser.get("/console/orgs/acme/users").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_hosted_login_counts_failures_like_the_api_and_opens_a_session_cookie() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.user("acme", &admin, "alice", "correct horse battery staple")
        .await;
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 3, "reveal_lock": true}),
    )
    .await;
    let mut browser = Browser::new(&app);
    let form = browser.get("/orgs/acme/login").await;
    assert!(form.html.contains("Sign in to acme"), "{}", form.html);
    for _ in 0..2 {
        let wrong = browser
            .post(
                "/orgs/acme/login",
                &[("login", "alice"), ("password", "nope")],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.html.contains("wrong"), "{}", wrong.html);
    }
    // The third failure is the API's: the counter is one.
    let third = app.login("acme", "alice", "nope").await;
    assert_eq!(third.status, StatusCode::UNAUTHORIZED);
    let locked = browser
        .post(
            "/orgs/acme/login",
            &[
                ("login", "alice"),
                ("password", "correct horse battery staple"),
            ],
        )
        .await;
    assert_eq!(locked.status, StatusCode::FORBIDDEN);
    assert!(locked.html.contains("locked"), "{}", locked.html);
    assert!(browser.cookie("portcullis_session").is_none());
    // Lifted, the login opens a session: a cookie, never a token in the page or the URL.
    let user = app
        .get("/v1/orgs/acme/users?locked=true", &admin)
        .await
        .body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/v1/orgs/acme/users/{user}/unlock"),
        &admin,
        json!({}),
    )
    .await;
    let granted = browser
        .post(
            "/orgs/acme/login",
            &[
                ("login", "alice"),
                ("password", "correct horse battery staple"),
            ],
        )
        .await;
    let session = browser.cookie("portcullis_session").unwrap().to_owned();
    assert!(!granted.html.contains(&session));
    assert!(!location(&granted).contains(&session));
    let account = browser.get("/orgs/acme/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.html.contains("alice"), "{}", account.html);
    // Signing out ends the session on the server.
    browser.post("/orgs/acme/logout", &[]).await;
    assert_eq!(
        app.get("/v1/self", &session).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn mailed_links_point_at_the_server_itself_when_no_public_url_is_set() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let created = app
        .post(
            "/v1/orgs/acme/users",
            &admin,
            json!({"login": "bob", "password": "correct horse battery staple", "email": "bob@example.com"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    app.set_section(
        "acme",
        &admin,
        "features",
        json!({"forgot_password_enabled": true}),
    )
    .await;
    let mut browser = Browser::new(&app);
    browser.get("/orgs/acme/forgot-password").await;
    let sent = browser
        .post("/orgs/acme/forgot-password", &[("login", "bob")])
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.html);
    let outbox = app.get("/v1/orgs/acme/outbox", &admin).await.body;
    let body = outbox["items"][0]["body"].as_str().unwrap().to_owned();
    assert!(
        body.contains(&format!("{}/reset-password?token=", app.base)),
        "{body}"
    );
}

#[tokio::test]
async fn a_user_lists_their_sessions_ends_one_and_ends_every_other() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let password = "correct horse battery staple";
    app.user("acme", &admin, "alice", password).await;
    app.user("acme", &admin, "bob", password).await;
    let token = |a: crate::support::Answer| a.body["session"]["token"].as_str().unwrap().to_owned();
    let first = token(app.login("acme", "alice", password).await);
    app.clock.advance(5);
    let second = token(app.login("acme", "alice", password).await);
    let bobs = token(app.login("acme", "bob", password).await);

    let list = app.get("/v1/self/sessions", &first).await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    let items = list.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items[0]["id"].as_str() < items[1]["id"].as_str(), "by id");
    let current: Vec<bool> = items.iter().map(|i| i["current"] == true).collect();
    assert_eq!(current.iter().filter(|c| **c).count(), 1, "this one marked");
    assert!(items[0]["expires_at"].is_string());
    assert!(items[0]["client_ip"].is_string(), "{items:?}");
    assert!(
        !list.body.to_string().contains(&first) && !list.body.to_string().contains(&second),
        "no token is shown"
    );
    let second_id = items.iter().find(|i| i["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Another user's session is not found; a key has no sessions of its own.
    let bob_id = app.get("/v1/self/sessions", &bobs).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app
        .delete(&format!("/v1/self/sessions/{bob_id}"), &first)
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/v1/self", &bobs).await.status, StatusCode::OK);
    assert_eq!(
        app.get("/v1/self/sessions", &admin).await.status,
        StatusCode::FORBIDDEN
    );

    let ended = app
        .delete(&format!("/v1/self/sessions/{second_id}"), &first)
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/v1/self", &second).await.status,
        StatusCode::UNAUTHORIZED
    );
    let again = app
        .delete(&format!("/v1/self/sessions/{second_id}"), &first)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let third = token(app.login("acme", "alice", password).await);
    let fourth = token(app.login("acme", "alice", password).await);
    let others = app.delete("/v1/self/sessions", &first).await;
    assert_eq!(others.status, StatusCode::OK);
    assert_eq!(others.body["ended"], 2);
    for gone in [&third, &fourth] {
        assert_eq!(
            app.get("/v1/self", gone).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(app.get("/v1/self", &first).await.status, StatusCode::OK);
    assert_eq!(app.get("/v1/self", &bobs).await.status, StatusCode::OK);
    let types = app.event_types("acme", &admin).await;
    let count = |kind: &str| types.iter().filter(|t| *t == kind).count();
    assert_eq!(count("session.revoked"), 1, "{types:?}");
    assert_eq!(count("user.sessions_ended"), 1, "one event for the others");

    // The account page shows them and ends them the same way.
    let mut browser = Browser::new(&app);
    browser.get("/orgs/acme/login").await;
    browser
        .post(
            "/orgs/acme/login",
            &[("login", "alice"), ("password", password)],
        )
        .await;
    let page = browser.get("/orgs/acme/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.html.matches("data-session=").count(),
        2,
        "{}",
        page.html
    );
    assert!(page.html.contains("this session"));
    let out = browser.post("/orgs/acme/sessions/end-others", &[]).await;
    assert_eq!(location(&out), "/orgs/acme/account#sessions");
    assert_eq!(
        app.get("/v1/self", &first).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A session that may only change its password may not manage sessions.
    let mut default = app
        .get("/v1/orgs/acme/password-policies/default", &admin)
        .await
        .body;
    default["renew_on_first_login"] = json!(true);
    let put = app
        .put("/v1/orgs/acme/password-policies/default", &admin, default)
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    let bob = app.get("/v1/self", &bobs).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reset = app
        .put(
            &format!("/v1/orgs/acme/users/{bob}/password"),
            &admin,
            json!({"password": "another long passphrase of his", "change_required": true}),
        )
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{:?}", reset.body);
    let restricted = app
        .login("acme", "bob", "another long passphrase of his")
        .await;
    assert_eq!(
        restricted.body["password_change_required"], true,
        "{:?}",
        restricted.body
    );
    let restricted = token(restricted);
    assert_eq!(
        app.get("/v1/self/sessions", &restricted).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete("/v1/self/sessions", &restricted).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn registration_and_self_deletion_through_the_hosted_pages() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let mut browser = Browser::new(&app);
    // Off by default: the page does not exist.
    assert_eq!(
        browser.get("/orgs/acme/register").await.status,
        StatusCode::NOT_FOUND
    );
    app.set_section(
        "acme",
        &admin,
        "features",
        json!({"register_enabled": true, "user_self_deletion": true}),
    )
    .await;
    let form = browser.get("/orgs/acme/register").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.html.contains("between 15 and 128 characters"),
        "{}",
        form.html
    );
    // A violation is shown next to the password, and what was typed stays.
    let short = browser
        .post(
            "/orgs/acme/register",
            &[
                ("login", "carol"),
                ("email", ""),
                ("display_name", "Carol"),
                ("new_password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(
        short.html.contains("f-new_password-error"),
        "{}",
        short.html
    );
    assert!(short.html.contains("value=\"carol\""), "{}", short.html);
    let password = "a long enough passphrase for her";
    let made = browser
        .post(
            "/orgs/acme/register",
            &[
                ("login", "carol"),
                ("email", ""),
                ("display_name", "Carol"),
                ("new_password", password),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.html);
    assert!(made.html.contains("Account created"));
    // Taken now.
    let taken = browser
        .post(
            "/orgs/acme/register",
            &[
                ("login", "carol"),
                ("email", ""),
                ("display_name", ""),
                ("new_password", password),
            ],
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);

    browser
        .post(
            "/orgs/acme/login",
            &[("login", "carol"), ("password", password)],
        )
        .await;
    let account = browser.get("/orgs/acme/account").await;
    assert!(account.html.contains("delete-account"), "{}", account.html);
    let wrong = browser
        .post("/orgs/acme/delete-account", &[("password", "not it")])
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong.html.contains("f-password-error") && wrong.html.contains("delete-account"),
        "the form again, the message under the password: {}",
        wrong.html
    );
    assert_eq!(
        app.login("acme", "carol", password).await.status,
        StatusCode::OK
    );
    let gone = browser
        .post("/orgs/acme/delete-account", &[("password", password)])
        .await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.html);
    assert!(browser.cookie("portcullis_session").is_none());
    assert_eq!(
        app.login("acme", "carol", password).await.status,
        StatusCode::UNAUTHORIZED
    );

    // A mailed link's page changes nothing when opened; a token the service refuses reads the
    // same whatever the reason.
    let verify = browser.get("/verify-email?token=forged").await;
    assert_eq!(verify.status, StatusCode::OK);
    assert!(verify.html.contains("verify-form"));
    let refused = browser.post("/verify-email", &[("token", "forged")]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.html.contains("Link not valid"), "{}", refused.html);
    let refused = browser.post("/unblock", &[("token", "forged")]).await;
    assert!(refused.html.contains("Link not valid"), "{}", refused.html);
}

#[tokio::test]
async fn a_policy_form_filled_before_another_change_does_not_undo_it() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let mut browser = Browser::signed_in(&app, ROOT).await;
    let page = browser.get("/console/orgs/acme/policy").await;
    assert!(
        page.html.contains("name=\"__sequence\" value=\"0\""),
        "inherited: sequence 0"
    );
    // Meanwhile the API changes another field of the same section.
    app.set_section("acme", &admin, "lockout", json!({"notify_user": true}))
        .await;
    let stale = browser
        .post(
            "/console/orgs/acme/policy/lockout",
            &[
                ("__fields", "max_password_attempts,notify_user"),
                ("__sequence", "0"),
                ("max_password_attempts", "4"),
            ],
        )
        .await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale.html
    );
    assert!(stale.html.contains("changed this section meanwhile"));
    let lockout = app.get("/v1/orgs/acme/policy", &admin).await.body["lockout"]["value"].clone();
    assert_eq!(lockout["notify_user"], true, "the other change stays");
    assert_ne!(lockout["max_password_attempts"], 4);
    // Filled from the current values, the same change goes through.
    let page = browser.get("/console/orgs/acme/policy").await;
    let lockout_form = page.html.split("id=\"form-lockout\"").nth(1).unwrap();
    let sequence = after(lockout_form, "name=\"__sequence\" value=\"");
    assert_ne!(sequence, "0");
    let saved = browser
        .post(
            "/console/orgs/acme/policy/lockout",
            &[
                ("__fields", "max_password_attempts,notify_user"),
                ("__sequence", &sequence),
                ("max_password_attempts", "4"),
                ("notify_user", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let lockout = app.get("/v1/orgs/acme/policy", &admin).await.body["lockout"]["value"].clone();
    assert_eq!(lockout["max_password_attempts"], 4);
    assert_eq!(lockout["notify_user"], true);
}

#[tokio::test]
async fn an_organization_administrator_signs_in_to_the_console_through_the_hosted_login() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.org_with_admin("other").await;
    let password = "correct horse battery staple";
    let created = app
        .post(
            "/v1/orgs/acme/users",
            &admin,
            json!({"login": "ada", "password": password, "roles": ["org_admin"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let mut browser = Browser::new(&app);
    let to_login = browser.get("/console/signin/org?org=acme").await;
    assert_eq!(location(&to_login), "/orgs/acme/login?next=console");
    browser.get("/orgs/acme/login?next=console").await;
    let granted = browser
        .post(
            "/orgs/acme/login",
            &[
                ("login", "ada"),
                ("password", password),
                ("next", "console"),
            ],
        )
        .await;
    assert_eq!(location(&granted), "/console/orgs/acme", "{}", granted.html);
    let users = browser.get("/console/orgs/acme/users").await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(users.html.contains("data-login=\"ada\""), "{}", users.html);
    // Its own organization only; the instance's pages are not its to see.
    assert_eq!(
        browser.get("/console/orgs/other/users").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        browser.get("/console/orgs").await.status,
        StatusCode::OK,
        "the list shows its own organization"
    );
    // An unknown organization sends nowhere.
    assert_eq!(
        browser.get("/console/signin/org?org=nope").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_preset_is_applied_only_to_the_policy_it_was_previewed_on() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 1000}),
    )
    .await;
    let mut browser = Browser::signed_in(&app, ROOT).await;
    let report = browser.get("/console/orgs/acme/compliance").await;
    let standard = after(&report.html, "id=\"preview-");
    let preview = browser
        .post(
            &format!("/console/orgs/acme/compliance/{standard}/preview"),
            &[],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.html);
    let version = after(&preview.html, "name=\"version\" value=\"");
    // The policy changes after the preview: the confirmation shows the changes anew.
    app.set_section("acme", &admin, "lockout", json!({"notify_user": true}))
        .await;
    let stale = browser
        .post(
            &format!("/console/orgs/acme/compliance/{standard}/apply"),
            &[("version", &version)],
        )
        .await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale.html
    );
    assert!(stale.html.contains("changed since the preview"));
    let lockout = &app.get("/v1/orgs/acme/policy", &admin).await.body["lockout"]["value"];
    assert_eq!(lockout["max_password_attempts"], 1000, "nothing applied");
    let fresh = after(&stale.html, "name=\"version\" value=\"");
    let applied = browser
        .post(
            &format!("/console/orgs/acme/compliance/{standard}/apply"),
            &[("version", &fresh)],
        )
        .await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.html);
    assert!(applied.html.contains("Preset applied"));
    let lockout = &app.get("/v1/orgs/acme/policy", &admin).await.body["lockout"]["value"];
    assert_ne!(lockout["max_password_attempts"], 1000);
}

#[tokio::test]
async fn the_hosted_login_shows_the_banner_and_the_last_sign_in_when_the_policy_says() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let password = "correct horse battery staple";
    app.user("acme", &admin, "alice", password).await;
    let mut browser = Browser::new(&app);
    let plain = browser.get("/orgs/acme/login").await;
    assert!(
        !plain.html.contains("class=\"banner\""),
        "no banner by default"
    );
    // Without either, a granted login goes straight on.
    let granted = browser
        .post(
            "/orgs/acme/login",
            &[("login", "alice"), ("password", password)],
        )
        .await;
    assert_eq!(location(&granted), "/orgs/acme/account");
    app.set_section(
        "acme",
        &admin,
        "session",
        json!({"login_banner": "Authorized use <only>", "show_recent_login_info": true}),
    )
    .await;
    let mut browser = Browser::new(&app);
    let form = browser.get("/orgs/acme/login").await;
    assert!(
        form.html.contains("Authorized use &lt;only&gt;"),
        "the banner, escaped: {}",
        form.html
    );
    let shown = browser
        .post(
            "/orgs/acme/login",
            &[("login", "alice"), ("password", password)],
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.html);
    assert!(shown.html.contains("id=\"last-login\""), "{}", shown.html);
    assert!(shown.html.contains("Authorized use &lt;only&gt;"));
    assert!(shown.html.contains("href=\"/orgs/acme/account\""));
    assert!(browser.cookie("portcullis_session").is_some());
    // Forgotten password is off by default: no page.
    assert_eq!(
        browser.get("/orgs/acme/forgot-password").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn behind_https_the_cookies_are_secure_and_the_public_origin_is_accepted() {
    let app = crate::support::spawn_app_with(|config| {
        config.public_url = Some("https://id.example.com".into());
    })
    .await;
    let mut browser = Browser::new(&app);
    let page = browser.get("/console/signin").await;
    let set = page.headers[SET_COOKIE].to_str().unwrap();
    assert!(set.contains("Secure"), "{set}");
    // A proxy may rewrite Host: the public URL's origin is this server's too.
    let token = browser.cookie("portcullis_csrf").unwrap().to_owned();
    let request = browser
        .http
        .post(format!("{}/console/signin", app.base))
        .header("origin", "https://id.example.com")
        .form(&[("key", ROOT), ("csrf", &token)]);
    let signed = browser.send(request).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
    let session = signed
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("portcullis_session="))
        .unwrap();
    assert!(
        session.contains("Secure") && session.contains("HttpOnly"),
        "{session}"
    );
}

#[tokio::test]
async fn the_console_shows_and_ends_a_users_sessions_and_expires_passwords() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let password = "correct horse battery staple";
    let alice = app.user("acme", &admin, "alice", password).await;
    app.user("acme", &admin, "bob", password).await;
    let token = |a: crate::support::Answer| a.body["session"]["token"].as_str().unwrap().to_owned();
    let first = token(
        app.login_from("acme", "alice", password, "198.51.100.23")
            .await,
    );
    let second = token(app.login("acme", "alice", password).await);
    let bobs = token(app.login("acme", "bob", password).await);
    let mut browser = Browser::signed_in(&app, &admin).await;

    let users = browser.get("/console/orgs/acme/users").await;
    assert!(
        users
            .html
            .contains(&format!("/console/orgs/acme/users/{alice}/sessions"))
    );
    let path = format!("/console/orgs/acme/users/{alice}/sessions");
    let page = browser.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_eq!(
        page.html.matches("data-session=").count(),
        2,
        "{}",
        page.html
    );
    assert!(page.html.contains("198.51.100.23"), "{}", page.html);
    assert!(
        !page.html.contains(&first) && !page.html.contains(&second),
        "no token"
    );
    let listed = app
        .get(&format!("/v1/orgs/acme/users/{alice}/sessions"), &admin)
        .await
        .body;
    let one = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["client_ip"] == "198.51.100.23")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ended = browser.post(&format!("{path}/{one}/end"), &[]).await;
    assert_eq!(location(&ended), path);
    assert_eq!(
        app.get("/v1/self", &first).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/v1/self", &second).await.status, StatusCode::OK);
    browser.post(&format!("{path}/end"), &[]).await;
    assert_eq!(
        app.get("/v1/self", &second).await.status,
        StatusCode::UNAUTHORIZED
    );

    // One user's password, then the organization's: the box must be ticked.
    let expired = browser
        .post(
            &format!("/console/orgs/acme/users/{alice}/password/expire"),
            &[],
        )
        .await;
    assert_eq!(location(&expired), "/console/orgs/acme/users");
    let user = app
        .get(&format!("/v1/orgs/acme/users/{alice}"), &admin)
        .await
        .body;
    assert!(user["password_expired_at"].is_string(), "{user:?}");
    let unticked = browser.post("/console/orgs/acme/sessions/end", &[]).await;
    assert_eq!(
        location(&unticked),
        "/console/orgs/acme/users?unconfirmed=sessions"
    );
    let shown = browser.get(location(&unticked)).await;
    assert!(
        shown.html.contains("Nobody was signed out"),
        "{}",
        shown.html
    );
    assert_eq!(app.get("/v1/self", &bobs).await.status, StatusCode::OK);
    browser
        .post("/console/orgs/acme/sessions/end", &[("confirm", "yes")])
        .await;
    assert_eq!(
        app.get("/v1/self", &bobs).await.status,
        StatusCode::UNAUTHORIZED
    );
    let unticked = browser
        .post("/console/orgs/acme/passwords/expire", &[])
        .await;
    assert_eq!(
        location(&unticked),
        "/console/orgs/acme/users?unconfirmed=passwords"
    );
    browser
        .post("/console/orgs/acme/passwords/expire", &[("confirm", "yes")])
        .await;
    let login = app.login("acme", "bob", password).await;
    assert_eq!(
        login.body["password_change_required"], true,
        "{:?}",
        login.body
    );
}
