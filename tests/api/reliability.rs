//! Regressions found by the reliability battery (`scripts/reliability`, RELIABILITY.md), which
//! attacks the running binary from outside: each test pins one finding.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::app::{Backend, TestApp, json_body};
use crate::on_both_databases;

/// schemathesis (`status_code_conformance`, `content_type_conformance`): every operation may be
/// refused before its handler runs (401 without a token, 415 for a body that is not JSON, 400
/// for an unreadable multipart form, 422 for an unknown query parameter), so every operation
/// documents the `4XX` range; and the document names the content types actually served.
#[tokio::test]
async fn every_operation_documents_4xx_and_the_types_it_serves() {
    // Arrange
    let app = TestApp::spawn().await;

    // Act
    let res = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.address))
        .send()
        .await
        .expect("spec");
    let spec: Value = json_body(res).await;

    // Assert
    let mut operations = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            assert!(
                op["responses"]["4XX"].is_object(),
                "{method} {path} does not document the 4XX range"
            );
        }
    }
    assert!(operations > 50, "{operations} operations");
    let jwks = &spec["paths"]["/.well-known/jwks.json"]["get"]["responses"]["200"]["content"];
    assert!(jwks["application/jwk-set+json"].is_object(), "{jwks}");
    let file =
        &spec["paths"]["/api/v1/evidence/{id}/content"]["get"]["responses"]["200"]["content"];
    assert!(file["*/*"].is_object(), "{file}");
    let served = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .expect("jwks");
    assert_eq!(
        served.headers()["content-type"],
        "application/jwk-set+json",
        "the type the document names"
    );
}

/// Hostile uploads: a right-to-left override (U+202E) in a file name shows the characters after
/// it reversed, so a name can hide its real extension from whoever reads the evidence index.
/// Invisible and direction-changing characters are dropped from kept names.
async fn a_file_name_cannot_hide_its_extension_with_direction_marks(backend: Backend) {
    // Arrange
    let app = TestApp::on(backend).await;
    let owner = app.verified_user("owner@example.com", "发起人").await;
    let group = app.create_group(&owner, json!({})).await;
    let slug = group["slug"].as_str().expect("slug").to_owned();
    let res = app
        .post(
            &format!("/groups/{slug}/participation"),
            Some(&owner.access_token),
            TestApp::join_body("发起人", 1),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0rest".to_vec();
    let part = Part::bytes(png)
        .file_name("发票\u{202E}gnp.exe\u{200B}.png")
        .mime_str("image/png")
        .expect("mime");
    let form = Form::new().text("kind", "receipt").part("file", part);

    // Act
    let res = app
        .client
        .post(app.api(&format!("/groups/{slug}/participation/evidence")))
        .bearer_auth(&owner.access_token)
        .multipart(form)
        .send()
        .await
        .expect("upload");

    // Assert
    assert_eq!(res.status(), StatusCode::CREATED);
    let item: Value = json_body(res).await;
    assert_eq!(item["original_name"], "发票gnp.exe.png");
    let listed: Value = json_body(
        app.get(
            &format!("/groups/{slug}/participation/evidence"),
            Some(&owner.access_token),
        )
        .await,
    )
    .await;
    assert_eq!(listed[0]["original_name"], "发票gnp.exe.png");
}

on_both_databases!(a_file_name_cannot_hide_its_extension_with_direction_marks);
