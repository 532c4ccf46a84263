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

/// The document as the server serves it (200, JSON).
async fn served_document(app: &TestApp) -> Value {
    let res = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.address))
        .send()
        .await
        .expect("spec");
    assert_eq!(res.status(), 200);
    json_body(res).await
}

#[tokio::test]
async fn the_openapi_document_is_the_reviewed_one() {
    // Arrange
    let app = TestApp::spawn().await;

    // Act
    let spec = served_document(&app).await;

    // Assert
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

/// Every `$ref` to a schema in `value`.
fn schema_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref")
                && let Some(name) = r.strip_prefix("#/components/schemas/")
            {
                out.push(name.to_owned());
            }
            map.values().for_each(|v| schema_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| schema_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_is_valid_and_says_what_the_server_answers() {
    // Arrange
    let app = TestApp::spawn().await;
    let spec = served_document(&app).await;

    // Assert: an independent validator (openapi-spec-validator, installed by .ci/run) accepts it.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, spec.to_string()).expect("write spec");
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&path)
        .output()
        .expect("python3 runs (openapi-spec-validator installed by .ci/run)");
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Every schema referred to exists.
    let mut refs = Vec::new();
    schema_refs(&spec, &mut refs);
    for name in refs {
        assert!(
            spec["components"]["schemas"][&name].is_object(),
            "dangling $ref to {name}"
        );
    }

    let paths = spec["paths"].as_object().expect("paths");
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("operations") {
            // Path parameters are in the path; query parameters are declared as such.
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().expect("name");
                if p["in"] == "path" {
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: `{name}` is declared in the path but is not in it"
                    );
                }
            }
            // Errors are documented, as problem documents.
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|k| k.starts_with('4')),
                "{method} {path} documents no 4xx answer"
            );
            for (status, r) in responses {
                if status.starts_with('4')
                    && let Some(content) = r["content"].as_object()
                {
                    assert!(
                        content.keys().all(|k| k == "application/problem+json"),
                        "{method} {path} {status}: {:?}",
                        content.keys().collect::<Vec<_>>()
                    );
                }
            }
        }
    }
    // The contact log's channels and the submissions' channels are different schemas.
    let contact = &spec["components"]["schemas"]["ContactChannel"]["enum"];
    assert!(
        contact
            .as_array()
            .is_some_and(|v| v.contains(&Value::from("hotline"))),
        "{contact}"
    );
}

/// The length limits the server enforces are documented, so clients and fuzzers know them:
/// every string of a request body has a `maxLength`, every list a `maxItems` (the same
/// numbers as the validation rules), and free-text query parameters a `maxLength`.
#[tokio::test]
async fn request_schemas_document_their_length_limits() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let prop = |schema: &str, field: &str| schemas[schema]["properties"][field].clone();
    assert_eq!(prop("GroupCreate", "title")["maxLength"], 120);
    assert_eq!(prop("GroupCreate", "title")["minLength"], 4);
    assert_eq!(prop("GroupCreate", "demands")["maxItems"], 10);
    assert_eq!(prop("JoinRequest", "statement")["maxLength"], 5000);
    assert_eq!(prop("JoinRequest", "transaction_refs")["maxItems"], 50);
    assert_eq!(prop("RegisterRequest", "password")["minLength"], 8);
    let q = doc["paths"]["/api/v1/groups"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "q")
        .expect("q")
        .clone();
    assert_eq!(q["schema"]["maxLength"], 100, "{q}");
    // No request string is left unbounded.
    let mut unbounded = Vec::new();
    for (name, schema) in schemas.as_object().expect("schemas") {
        let is_request = ["Create", "Request", "Update", "Input", "Form"]
            .iter()
            .any(|s| name.ends_with(s));
        let Some(props) = schema["properties"].as_object().filter(|_| is_request) else {
            continue;
        };
        for (field, p) in props {
            let string = p["type"] == "string"
                || p["type"]
                    .as_array()
                    .is_some_and(|t| t.contains(&"string".into()));
            let free_text =
                p.get("enum").is_none() && p.get("format").is_none() && p.get("$ref").is_none();
            if string && free_text && p.get("maxLength").is_none() {
                unbounded.push(format!("{name}.{field}"));
            }
        }
    }
    assert!(
        unbounded.is_empty(),
        "strings without maxLength: {unbounded:?}"
    );
}
