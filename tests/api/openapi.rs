//! The OpenAPI document, pinned whole as a snapshot, and browsable offline at /docs.
//!
//! The document is collected from the same registrations the server routes (utoipa-actix-web),
//! so a route is documented exactly when it is served; the snapshot
//! `tests/api/snapshots/api__openapi__openapi.json.snap` shows every path, operation and schema
//! for review. When the API changes on purpose, record it again and review the diff before
//! committing:
//!
//! ```text
//! INSTA_UPDATE=always cargo test --test api openapi
//! ```
//!
//! (or `cargo insta test --review` where cargo-insta is installed; CI does not need it). CI runs
//! with `CI=true`, under which insta writes nothing: a mismatch fails the test.

use serde_json::Value;

use crate::helpers::app::{TestApp, json_body};

#[tokio::test]
async fn the_openapi_document_is_the_reviewed_one() {
    // Arrange
    let app = TestApp::spawn().await;

    // Act
    let res = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.address))
        .send()
        .await
        .expect("spec");

    // Assert
    assert_eq!(res.status(), 200);
    let spec: Value = json_body(res).await;
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    for schema in [
        "RegisterRequest",
        "JoinRequest",
        "GroupCreate",
        "GroupView",
        "Problem",
        "TokenResponse",
    ] {
        assert!(
            spec["components"]["schemas"][schema].is_object(),
            "schema {schema}"
        );
    }
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    insta::with_settings!({sort_maps => true}, {
        insta::assert_json_snapshot!("openapi.json", spec);
    });
}

#[tokio::test]
async fn the_docs_page_is_served_without_any_download() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(format!("{}/docs/", app.address))
        .send()
        .await
        .expect("docs");
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "the page loads nothing from other hosts"
    );
    let script = app
        .client
        .get(format!("{}/docs/swagger-ui-bundle.js", app.address))
        .send()
        .await
        .expect("bundle");
    assert_eq!(script.status(), 200);
}

#[tokio::test]
async fn unknown_paths_answer_a_problem_document() {
    let app = TestApp::spawn().await;
    let res = app.get("/no/such/thing", None).await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    assert_eq!(json_body(res).await["code"], "not_found");
}
