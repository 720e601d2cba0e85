//! Compliance reports and presets through the API: every standard's preset applied to a default
//! organization makes its report pass; a dry run writes nothing; roles and unknown standards.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{ROOT, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_standards_preset_makes_a_default_organization_pass() {
    let app = spawn_app().await;
    let standards = app.get("/v1/compliance/standards", ROOT).await;
    assert_eq!(standards.status, StatusCode::OK, "{:?}", standards.body);
    let ids: Vec<String> = standards.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 5, "{ids:?}");
    for (n, id) in ids.iter().enumerate() {
        let org = format!("org{n}");
        let admin = app.org_with_admin(&org).await;
        let before = app
            .get(&format!("/v1/orgs/{org}/compliance?standard={id}"), &admin)
            .await;
        assert_eq!(before.status, StatusCode::OK, "{:?}", before.body);
        let rules = before.body["rules"].as_array().unwrap();
        let summary = &before.body["summary"];
        assert_eq!(
            summary["pass"].as_u64().unwrap()
                + summary["fail"].as_u64().unwrap()
                + summary["not_applicable"].as_u64().unwrap(),
            rules.len() as u64
        );
        for rule in rules {
            for field in ["rule", "status", "field", "required", "clause", "reason"] {
                assert!(rule[field].is_string(), "{id}: {rule}");
            }
        }

        // The dry run shows the changes and writes nothing.
        let events = app.event_types(&org, &admin).await.len();
        let dry = app
            .post(
                &format!("/v1/orgs/{org}/compliance/{id}/apply"),
                &admin,
                json!({}),
            )
            .await;
        assert_eq!(dry.status, StatusCode::OK, "{:?}", dry.body);
        assert_eq!(dry.body["dry_run"], true);
        assert_eq!(dry.body["written"], false);
        assert_eq!(
            dry.body["report"]["summary"]["fail"], 0,
            "{id}: {}",
            dry.body
        );
        assert_eq!(app.event_types(&org, &admin).await.len(), events);

        let applied = app
            .post(
                &format!("/v1/orgs/{org}/compliance/{id}/apply?dry_run=false"),
                &admin,
                json!({}),
            )
            .await;
        assert_eq!(applied.status, StatusCode::OK, "{:?}", applied.body);
        let changes = applied.body["changes"].as_array().unwrap().len();
        assert_eq!(applied.body["written"], changes > 0, "{id}");
        let after = app
            .get(&format!("/v1/orgs/{org}/compliance?standard={id}"), &admin)
            .await;
        assert_eq!(after.body["summary"]["fail"], 0, "{id}: {}", after.body);
        // One event per section written, all in one go; applying again changes nothing.
        let written = app.event_types(&org, &admin).await;
        assert!(written[events..].iter().all(|t| t.starts_with("policy.")));
        if changes > 0 {
            assert!(written.len() > events, "{id}");
        }
        let again = app
            .post(
                &format!("/v1/orgs/{org}/compliance/{id}/apply?dry_run=false"),
                &admin,
                json!({}),
            )
            .await;
        assert_eq!(again.body["changes"], json!([]), "{id}");
        assert_eq!(again.body["written"], false);
        assert_eq!(app.event_types(&org, &admin).await.len(), written.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_name_conflicts_and_refuse_what_they_do_not_know() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    // PCI asks for composition and expiry, NIST forbids them: apply PCI, then NIST fails and
    // says which PCI clause its failing rule conflicts with.
    app.set_section("acme", &admin, "mfa", json!({"required": false}))
        .await;
    let pci = app
        .post(
            "/v1/orgs/acme/compliance/pci-dss-4.0.1/apply?dry_run=false",
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(pci.status, StatusCode::OK, "{:?}", pci.body);
    let nist = app
        .get(
            "/v1/orgs/acme/compliance?standard=nist-800-63b-4-aal1",
            &admin,
        )
        .await;
    let failing: Vec<&serde_json::Value> = nist.body["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "fail")
        .collect();
    assert!(!failing.is_empty(), "{}", nist.body);
    assert!(
        failing
            .iter()
            .any(|r| !r["conflicts"].as_array().unwrap().is_empty()),
        "{}",
        nist.body
    );

    let missing = app.get("/v1/orgs/acme/compliance", &admin).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let unknown = app
        .get("/v1/orgs/acme/compliance?standard=iso-27001", &admin)
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.body["violations"][0]["field"], "standard");
    let unknown_apply = app
        .post(
            "/v1/orgs/acme/compliance/iso-27001/apply",
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(unknown_apply.status, StatusCode::NOT_FOUND);

    // Auditors read reports and may not apply; the instance defaults are the instance's.
    let auditor = app
        .post(
            "/v1/orgs/acme/api-keys",
            ROOT,
            json!({"name": "a", "roles": ["org_auditor"]}),
        )
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = app
        .get("/v1/orgs/acme/compliance?standard=pci-dss-4.0.1", &auditor)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let write = app
        .post(
            "/v1/orgs/acme/compliance/pci-dss-4.0.1/apply",
            &auditor,
            json!({}),
        )
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    let instance = app
        .get("/v1/instance/compliance?standard=owasp-asvs-5.0-l2", ROOT)
        .await;
    assert_eq!(instance.status, StatusCode::OK, "{:?}", instance.body);
    assert_eq!(
        app.get("/v1/instance/compliance?standard=owasp-asvs-5.0-l2", &admin)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // The instance preset changes the defaults every organization inherits.
    let applied = app
        .post(
            "/v1/instance/compliance/owasp-asvs-5.0-l2/apply?dry_run=false",
            ROOT,
            json!({}),
        )
        .await;
    assert_eq!(applied.status, StatusCode::OK, "{:?}", applied.body);
    let other = app.org_with_admin("other").await;
    let report = app
        .get(
            "/v1/orgs/other/compliance?standard=owasp-asvs-5.0-l2",
            &other,
        )
        .await;
    assert_eq!(report.body["summary"]["fail"], 0, "{}", report.body);
}
