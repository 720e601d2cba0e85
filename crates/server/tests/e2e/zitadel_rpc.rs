//! ZITADEL's RPC paths over every transport on the one listener: gRPC over cleartext HTTP/2
//! (prior knowledge), gRPC-web and Connect with binary messages answer what the REST routes and
//! Connect JSON answer, writes reach the canonical policy, and errors carry the gRPC status
//! codes of the REST dialect's errors.

use axum::body::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis_dialects::zitadel::descriptor_pool;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{App, ROOT, spawn_app};

const ORG: &str = "acme";
const MGMT: &str = "zitadel.management.v1.ManagementService";
const ADMIN: &str = "zitadel.admin.v1.AdminService";
const SETTINGS: &str = "zitadel.settings.v2.SettingsService";
const SETTINGS_BETA: &str = "zitadel.settings.v2beta.SettingsService";

fn method(service: &str, name: &str) -> MethodDescriptor {
    let pool = descriptor_pool().unwrap();
    let service = pool.get_service_by_name(service).unwrap();
    service.methods().find(|m| m.name() == name).unwrap()
}

/// The request message of a method, from its protojson.
fn request(service: &str, name: &str, json: Value) -> Vec<u8> {
    DynamicMessage::deserialize(method(service, name).input(), json)
        .unwrap()
        .encode_to_vec()
}

/// The protojson of a method's binary answer.
fn answer(service: &str, name: &str, bytes: &[u8]) -> Value {
    let message = DynamicMessage::decode(method(service, name).output(), bytes).unwrap();
    serde_json::to_value(&message).unwrap()
}

/// A REST or Connect JSON answer as the method's response message has it: its fields only, in
/// protojson (zero values omitted, also an enum's zero).
fn as_message(service: &str, name: &str, json: &Value) -> Value {
    let message = DynamicMessage::deserialize_with_options(
        method(service, name).output(),
        json.clone(),
        &prost_reflect::DeserializeOptions::new().deny_unknown_fields(false),
    )
    .unwrap();
    serde_json::to_value(&message).unwrap()
}

fn frame(flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The frames of a gRPC or gRPC-web body: (flags, payload).
fn frames(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        out.push((body[0], body[5..5 + length].to_vec()));
        body = &body[5 + length..];
    }
    out
}

/// A gRPC answer: the status, its message, and the response message when the status is 0.
#[derive(Debug)]
struct Grpc {
    status: String,
    message: String,
    body: Option<Vec<u8>>,
}

impl App {
    /// A request over a new cleartext HTTP/2 connection (prior knowledge): the response's
    /// status, headers, body and trailers.
    async fn h2(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (
        hyper::StatusCode,
        hyper::HeaderMap,
        Bytes,
        Option<hyper::HeaderMap>,
    ) {
        let addr = self.base.trim_start_matches("http://");
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let mut builder = hyper::Request::builder()
            .method(method.as_str())
            .uri(format!("{}{path}", self.base));
        for (header, value) in headers {
            builder = builder.header(*header, *value);
        }
        let response = sender
            .send_request(builder.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap();
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        let (head, body) = response.into_parts();
        let collected = body.collect().await.unwrap();
        let trailers = collected.trailers().cloned();
        (head.status, head.headers, collected.to_bytes(), trailers)
    }

    /// A unary gRPC call over a new cleartext HTTP/2 connection.
    async fn grpc(
        &self,
        service: &str,
        name: &str,
        headers: &[(&str, &str)],
        message: &[u8],
        content_type: &str,
    ) -> Grpc {
        let mut all = vec![("content-type", content_type), ("te", "trailers")];
        all.extend_from_slice(headers);
        let (status, head, body, trailers) = self
            .h2(
                Method::POST,
                &format!("/{service}/{name}"),
                &all,
                frame(0, message),
            )
            .await;
        assert_eq!(status, 200);
        assert!(
            head["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/grpc")
        );
        // A trailers-only answer has its status in the headers.
        let trailers = trailers.unwrap_or(head);
        let text = |name: &str| {
            trailers
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let status = text("grpc-status");
        let frames = frames(&body);
        Grpc {
            body: (status == "0").then(|| {
                assert_eq!(frames.len(), 1);
                frames[0].1.clone()
            }),
            status,
            message: percent_decode(&text("grpc-message")),
        }
    }

    /// A unary gRPC-web call over HTTP/1.1; the trailer frame's fields come back as a Grpc.
    async fn grpc_web(
        &self,
        service: &str,
        name: &str,
        headers: &[(&str, &str)],
        message: &[u8],
    ) -> Grpc {
        let mut request = self
            .http
            .post(format!("{}/{service}/{name}", self.base))
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .body(frame(0, message));
        for (header, value) in headers {
            request = request.header(*header, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), reqwest::Version::HTTP_11);
        assert_eq!(
            response.headers()["content-type"],
            "application/grpc-web+proto"
        );
        let body = response.bytes().await.unwrap();
        let mut frames = frames(&body);
        let (flags, trailers) = frames.pop().unwrap();
        assert_eq!(flags, 0x80, "the last frame holds the trailers");
        let trailers = String::from_utf8(trailers).unwrap();
        let field = |name: &str| {
            trailers
                .split("\r\n")
                .find_map(|line| line.strip_prefix(&format!("{name}:")))
                .map(|v| percent_decode(v.trim()))
                .unwrap_or_default()
        };
        Grpc {
            status: field("grpc-status"),
            message: field("grpc-message"),
            body: frames.pop().map(|(_, message)| message),
        }
    }

    /// A Connect unary call with a binary message: (HTTP status, content type, body).
    async fn connect_proto(
        &self,
        service: &str,
        name: &str,
        headers: &[(&str, &str)],
        message: Vec<u8>,
    ) -> (StatusCode, String, Vec<u8>) {
        let mut request = self
            .http
            .post(format!("{}/{service}/{name}", self.base))
            .header("content-type", "application/proto")
            .header("connect-protocol-version", "1")
            .body(message);
        for (header, value) in headers {
            request = request.header(*header, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        (
            status,
            content_type,
            response.bytes().await.unwrap().to_vec(),
        )
    }
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

/// The canonical policy's lockout section of `org`.
async fn lockout(app: &App, org: &str) -> Value {
    app.get(&format!("/v1/orgs/{org}/policy"), ROOT).await.body["lockout"].clone()
}

#[tokio::test]
async fn every_transport_answers_what_the_rest_route_answers() {
    let app = spawn_app().await;
    let admin = app.org_with_admin(ORG).await;
    let bearer = format!("Bearer {admin}");
    let meta = [("authorization", bearer.as_str()), ("x-zitadel-orgid", ORG)];

    // Reads of every v1 policy: gRPC, gRPC-web and Connect binary decode to the REST body.
    for (path, policy) in [
        ("lockout", "LockoutPolicy"),
        ("password/complexity", "PasswordComplexityPolicy"),
        ("password/age", "PasswordAgePolicy"),
        ("login", "LoginPolicy"),
    ] {
        for (prefix, name) in [("", "Get"), ("default/", "GetDefault")] {
            let name = format!("{name}{policy}");
            let rest = app
                .send(
                    Method::GET,
                    &format!("/management/v1/policies/{prefix}{path}"),
                    &meta,
                    "",
                )
                .await;
            assert_eq!(rest.status, StatusCode::OK, "{name}: {:?}", rest.body);
            let expected = as_message(MGMT, &name, &rest.body);
            if policy != "LoginPolicy" {
                assert_eq!(expected, rest.body, "the REST body is protojson already");
            }
            let empty = request(MGMT, &name, json!({}));
            let grpc = app
                .grpc(MGMT, &name, &meta, &empty, "application/grpc")
                .await;
            assert_eq!(grpc.status, "0", "{name}: {grpc:?}");
            let decoded = answer(MGMT, &name, grpc.body.as_ref().unwrap());
            assert_eq!(decoded, expected, "{name} over gRPC");
            let web = app.grpc_web(MGMT, &name, &meta, &empty).await;
            assert_eq!(web.status, "0");
            assert_eq!(answer(MGMT, &name, web.body.as_ref().unwrap()), expected);
            let (status, content_type, body) = app.connect_proto(MGMT, &name, &meta, empty).await;
            assert_eq!(
                (status, content_type.as_str()),
                (StatusCode::OK, "application/proto")
            );
            assert_eq!(answer(MGMT, &name, &body), expected, "{name} over Connect");
        }
    }

    // Writes through each transport reach the canonical policy.
    let add = request(
        MGMT,
        "AddCustomLockoutPolicy",
        json!({"maxPasswordAttempts": 4, "maxOtpAttempts": 2}),
    );
    let added = app
        .grpc(
            MGMT,
            "AddCustomLockoutPolicy",
            &meta,
            &add,
            "application/grpc+proto",
        )
        .await;
    assert_eq!(added.status, "0", "{added:?}");
    let details = answer(MGMT, "AddCustomLockoutPolicy", added.body.as_ref().unwrap());
    assert_eq!(details["details"]["resourceOwner"], ORG);
    let canonical = lockout(&app, ORG).await;
    assert_eq!(canonical["is_default"], false);
    assert_eq!(canonical["value"]["max_password_attempts"], 4);
    assert_eq!(canonical["value"]["max_otp_attempts"], 2);

    let update = |attempts: u32| {
        request(
            MGMT,
            "UpdateCustomLockoutPolicy",
            json!({"maxPasswordAttempts": attempts, "maxOtpAttempts": 2}),
        )
    };
    let web = app
        .grpc_web(MGMT, "UpdateCustomLockoutPolicy", &meta, &update(5))
        .await;
    assert_eq!(web.status, "0", "{web:?}");
    assert_eq!(
        lockout(&app, ORG).await["value"]["max_password_attempts"],
        5
    );
    let (status, _, _) = app
        .connect_proto(MGMT, "UpdateCustomLockoutPolicy", &meta, update(6))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        lockout(&app, ORG).await["value"]["max_password_attempts"],
        6
    );
    // Connect JSON on the RPC path: the REST body and answer.
    let json_update = app
        .send(
            Method::POST,
            &format!("/{MGMT}/UpdateCustomLockoutPolicy"),
            &[
                ("authorization", &bearer),
                ("x-zitadel-orgid", ORG),
                ("content-type", "application/json"),
            ],
            r#"{"maxPasswordAttempts": 7, "maxOtpAttempts": 2}"#,
        )
        .await;
    assert_eq!(json_update.status, StatusCode::OK, "{:?}", json_update.body);
    assert!(json_update.body["details"]["sequence"].is_string());
    assert_eq!(
        lockout(&app, ORG).await["value"]["max_password_attempts"],
        7
    );

    let complexity = request(
        MGMT,
        "AddCustomPasswordComplexityPolicy",
        json!({"minLength": "16", "hasUppercase": true, "hasNumber": true}),
    );
    let added = app
        .grpc(
            MGMT,
            "AddCustomPasswordComplexityPolicy",
            &meta,
            &complexity,
            "application/grpc",
        )
        .await;
    assert_eq!(added.status, "0", "{added:?}");
    let native = app.get(&format!("/v1/orgs/{ORG}/policy"), ROOT).await;
    let password = &native.body["password"]["value"][0];
    assert_eq!(password["is_default"], true);
    assert_eq!(password["min_length"], 16);
    assert_eq!(password["min_uppercase"], 1);
    assert_eq!(password["min_lowercase"], 0);

    let reset = request(MGMT, "ResetLockoutPolicyToDefault", json!({}));
    let reset = app
        .grpc(
            MGMT,
            "ResetLockoutPolicyToDefault",
            &meta,
            &reset,
            "application/grpc",
        )
        .await;
    assert_eq!(reset.status, "0", "{reset:?}");
    assert_eq!(lockout(&app, ORG).await["is_default"], true);

    // Admin: the instance defaults, read and written over gRPC.
    let root = format!("Bearer {ROOT}");
    let root_meta = [("authorization", root.as_str())];
    let rest = app.get("/admin/v1/policies/login", ROOT).await;
    let empty = request(ADMIN, "GetLoginPolicy", json!({}));
    let grpc = app
        .grpc(
            ADMIN,
            "GetLoginPolicy",
            &root_meta,
            &empty,
            "application/grpc",
        )
        .await;
    assert_eq!(
        answer(ADMIN, "GetLoginPolicy", grpc.body.as_ref().unwrap()),
        as_message(ADMIN, "GetLoginPolicy", &rest.body)
    );
    let update = request(
        ADMIN,
        "UpdateLockoutPolicy",
        json!({"maxPasswordAttempts": 8, "maxOtpAttempts": 3}),
    );
    let updated = app
        .grpc(
            ADMIN,
            "UpdateLockoutPolicy",
            &root_meta,
            &update,
            "application/grpc",
        )
        .await;
    assert_eq!(updated.status, "0", "{updated:?}");
    let instance = app.get("/v1/instance/policy", ROOT).await;
    assert_eq!(
        instance.body["lockout"]["value"]["max_password_attempts"], 8,
        "{:?}",
        instance.body
    );
    assert_eq!(
        lockout(&app, ORG).await["value"]["max_password_attempts"],
        8
    );

    // v2 settings: the binary answers decode to the Connect JSON answer (the fields the v2
    // messages have).
    for name in [
        "GetLockoutSettings",
        "GetPasswordComplexitySettings",
        "GetPasswordExpirySettings",
        "GetLoginSettings",
    ] {
        let ctx = json!({"ctx": {"orgId": ORG}});
        let rest = app
            .send(
                Method::POST,
                &format!("/{SETTINGS}/{name}"),
                &[
                    ("authorization", &bearer),
                    ("content-type", "application/json"),
                ],
                &ctx.to_string(),
            )
            .await;
        assert_eq!(rest.status, StatusCode::OK, "{name}: {:?}", rest.body);
        let expected = as_message(SETTINGS, name, &rest.body);
        let message = request(SETTINGS, name, ctx);
        let grpc = app
            .grpc(
                SETTINGS,
                name,
                &[("authorization", &bearer)],
                &message,
                "application/grpc",
            )
            .await;
        assert_eq!(grpc.status, "0", "{name}: {grpc:?}");
        assert_eq!(
            answer(SETTINGS, name, grpc.body.as_ref().unwrap()),
            expected,
            "{name}"
        );
        let (status, _, body) = app
            .connect_proto(SETTINGS, name, &[("authorization", &bearer)], message)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            answer(SETTINGS, name, &body),
            expected,
            "{name} over Connect"
        );
        // v2beta: the same messages in another package, the same answer.
        let beta = request(SETTINGS_BETA, name, json!({"ctx": {"orgId": ORG}}));
        let grpc = app
            .grpc(
                SETTINGS_BETA,
                name,
                &[("authorization", &bearer)],
                &beta,
                "application/grpc",
            )
            .await;
        assert_eq!(grpc.status, "0", "{name} v2beta: {grpc:?}");
        assert_eq!(
            answer(SETTINGS_BETA, name, grpc.body.as_ref().unwrap()),
            expected,
            "{name} v2beta"
        );
    }
    // An empty Connect binary message is a message with every field zero: a binary answer.
    let (status, content_type, body) = app
        .connect_proto(
            SETTINGS,
            "GetLockoutSettings",
            &[("authorization", &bearer)],
            Vec::new(),
        )
        .await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "application/proto")
    );
    let own = answer(SETTINGS, "GetLockoutSettings", &body);
    assert_eq!(own["settings"]["maxPasswordAttempts"], "8");

    // The native API answers over HTTP/2 too.
    let root = format!("Bearer {ROOT}");
    let (status, _, body, _) = app
        .h2(
            Method::GET,
            &format!("/v1/orgs/{ORG}/policy"),
            &[("authorization", &root)],
            Vec::new(),
        )
        .await;
    assert_eq!(status, 200);
    let native: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(native["lockout"]["value"]["max_password_attempts"], 8);
}

#[tokio::test]
async fn errors_carry_the_grpc_codes_of_the_rest_errors() {
    let app = spawn_app().await;
    let admin = app.org_with_admin(ORG).await;
    let bearer = format!("Bearer {admin}");
    let meta = [("authorization", bearer.as_str()), ("x-zitadel-orgid", ORG)];
    let empty = request(MGMT, "GetLockoutPolicy", json!({}));

    // No credentials: UNAUTHENTICATED (16) on every transport, HTTP 401 on Connect.
    let anonymous = app
        .grpc(MGMT, "GetLockoutPolicy", &[], &empty, "application/grpc")
        .await;
    assert_eq!(anonymous.status, "16");
    assert!(
        anonymous.message.contains("AUTH-unauthenticated"),
        "{anonymous:?}"
    );
    let web = app.grpc_web(MGMT, "GetLockoutPolicy", &[], &empty).await;
    assert_eq!((web.status.as_str(), web.body), ("16", None));
    let (status, content_type, body) = app
        .connect_proto(MGMT, "GetLockoutPolicy", &[], empty.clone())
        .await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::UNAUTHORIZED, "application/json")
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "unauthenticated");

    // Another or an unknown organization: NOT_FOUND (5), as the REST route's 404.
    let unknown = [
        ("authorization", bearer.as_str()),
        ("x-zitadel-orgid", "nobody"),
    ];
    let rest = app
        .send(Method::GET, "/management/v1/policies/lockout", &unknown, "")
        .await;
    assert_eq!(
        (rest.status, rest.body["code"].clone()),
        (StatusCode::NOT_FOUND, json!(5))
    );
    let grpc = app
        .grpc(
            MGMT,
            "GetLockoutPolicy",
            &unknown,
            &empty,
            "application/grpc",
        )
        .await;
    assert_eq!(grpc.status, "5");
    assert_eq!(grpc.message, rest.body["message"], "the same message");
    let (status, _, body) = app
        .connect_proto(MGMT, "GetLockoutPolicy", &unknown, empty.clone())
        .await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
    let json = app
        .send(
            Method::POST,
            &format!("/{MGMT}/GetLockoutPolicy"),
            &[("authorization", &bearer), ("x-zitadel-orgid", "nobody")],
            "{}",
        )
        .await;
    assert_eq!(
        (json.status, json.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );

    // Update without a custom policy: NOT_FOUND; add twice: ALREADY_EXISTS; a value out of
    // range: INVALID_ARGUMENT; an update that changes nothing: FAILED_PRECONDITION.
    let write =
        |name: &str, attempts: u32| request(MGMT, name, json!({"maxPasswordAttempts": attempts}));
    let call = |name: &'static str, attempts: u32| {
        let message = write(name, attempts);
        let app = &app;
        let meta = &meta;
        async move {
            app.grpc(MGMT, name, meta, &message, "application/grpc")
                .await
        }
    };
    assert_eq!(call("UpdateCustomLockoutPolicy", 5).await.status, "5");
    assert_eq!(call("AddCustomLockoutPolicy", 5000).await.status, "3");
    assert_eq!(call("AddCustomLockoutPolicy", 5).await.status, "0");
    assert_eq!(call("AddCustomLockoutPolicy", 6).await.status, "6");
    let same = call("UpdateCustomLockoutPolicy", 5).await;
    assert_eq!(same.status, "9");
    assert!(
        same.message.contains("Errors.Org.LockoutPolicy.NotChanged"),
        "{same:?}"
    );
    // An organization key is not an instance administrator: PERMISSION_DENIED.
    let admin_call = request(ADMIN, "GetLockoutPolicy", json!({}));
    let denied = app
        .grpc(
            ADMIN,
            "GetLockoutPolicy",
            &meta,
            &admin_call,
            "application/grpc",
        )
        .await;
    assert_eq!(denied.status, "7");

    // Methods and codecs the facade does not serve.
    let unknown = app
        .grpc(MGMT, "ListOrgMembers", &meta, &[], "application/grpc")
        .await;
    assert_eq!(unknown.status, "5");
    let unknown = app
        .grpc(MGMT, "ListOrgMembers", &[], &[], "application/grpc")
        .await;
    assert_eq!(unknown.status, "16", "authentication comes first");
    let json_codec = app
        .grpc(
            MGMT,
            "GetLockoutPolicy",
            &meta,
            b"{}",
            "application/grpc+json",
        )
        .await;
    assert_eq!(json_codec.status, "12");
    let garbage = app
        .grpc(
            MGMT,
            "AddCustomLockoutPolicy",
            &meta,
            &[0x08],
            "application/grpc",
        )
        .await;
    assert_eq!(garbage.status, "3");
    assert_eq!(
        lockout(&app, ORG).await["value"]["max_password_attempts"],
        5,
        "no failed call changed anything"
    );
}
