//! The OpenAPI document covers every route and is browsable offline at /docs.

use serde_json::Value;

use crate::helpers::app::{TestApp, json_body};

const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/verify-email"),
    ("post", "/api/v1/auth/verify-email/resend"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/auth/password-reset"),
    ("post", "/api/v1/auth/password-reset/confirm"),
    ("get", "/api/v1/me"),
    ("patch", "/api/v1/me"),
    ("delete", "/api/v1/me"),
    ("get", "/api/v1/me/export"),
    ("get", "/api/v1/providers"),
    ("post", "/api/v1/providers"),
    ("get", "/api/v1/providers/{slug}"),
    ("get", "/api/v1/groups"),
    ("post", "/api/v1/groups"),
    ("get", "/api/v1/groups/suggest"),
    ("get", "/api/v1/groups/{slug}"),
    ("patch", "/api/v1/groups/{slug}"),
    ("get", "/api/v1/groups/{slug}/similar"),
    ("post", "/api/v1/groups/{slug}/participation"),
    ("get", "/api/v1/groups/{slug}/participation"),
    ("patch", "/api/v1/groups/{slug}/participation"),
    ("delete", "/api/v1/groups/{slug}/participation"),
    ("post", "/api/v1/groups/{slug}/participation/evidence"),
    ("get", "/api/v1/groups/{slug}/participation/evidence"),
    ("get", "/api/v1/evidence/{id}"),
    ("get", "/api/v1/evidence/{id}/content"),
    ("delete", "/api/v1/evidence/{id}"),
    ("post", "/api/v1/groups/{slug}/participation/interactions"),
    ("get", "/api/v1/groups/{slug}/participation/interactions"),
    (
        "patch",
        "/api/v1/groups/{slug}/participation/interactions/{id}",
    ),
    (
        "delete",
        "/api/v1/groups/{slug}/participation/interactions/{id}",
    ),
    ("post", "/api/v1/groups/{slug}/participation/sign"),
    ("post", "/api/v1/groups/{slug}/organisers"),
    ("get", "/api/v1/groups/{slug}/organisers"),
    ("delete", "/api/v1/groups/{slug}/organisers/{user_id}"),
    ("post", "/api/v1/groups/{slug}/transfer"),
    ("post", "/api/v1/invites/accept"),
    ("get", "/api/v1/groups/{slug}/audit"),
    ("put", "/api/v1/groups/{slug}/statement"),
    ("get", "/api/v1/groups/{slug}/roster"),
    ("patch", "/api/v1/groups/{slug}/roster/{participation_id}"),
    ("get", "/api/v1/groups/{slug}/dashboard"),
    ("post", "/api/v1/groups/{slug}/updates"),
    ("get", "/api/v1/groups/{slug}/updates"),
    ("post", "/api/v1/groups/{slug}/submissions"),
    ("get", "/api/v1/groups/{slug}/submissions"),
    ("post", "/api/v1/groups/{slug}/submissions/{id}/extend"),
    ("post", "/api/v1/groups/{slug}/status"),
    ("get", "/api/v1/holidays"),
    ("put", "/api/v1/holidays"),
    ("get", "/api/v1/me/notifications"),
    ("put", "/api/v1/me/notifications"),
    ("get", "/api/v1/admin/outbox"),
    ("post", "/api/v1/groups/{slug}/dossiers"),
    ("get", "/api/v1/groups/{slug}/dossiers"),
    ("get", "/api/v1/groups/{slug}/dossiers/{version}"),
    ("get", "/api/v1/groups/{slug}/dossiers/{version}/bundle"),
    ("get", "/api/v1/groups/{slug}/dossiers/{version}/letter.pdf"),
    ("get", "/api/v1/groups/{slug}/dossiers/{version}/roster.csv"),
    (
        "get",
        "/api/v1/groups/{slug}/dossiers/{version}/regulator_export.csv",
    ),
    (
        "get",
        "/api/v1/groups/{slug}/dossiers/{version}/manifest.json",
    ),
    (
        "get",
        "/api/v1/groups/{slug}/dossiers/{version}/manifest.jws",
    ),
    ("post", "/api/v1/dossiers/verify"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/healthz"),
    ("get", "/readyz"),
];

#[tokio::test]
async fn the_openapi_document_lists_every_route_with_its_schemas() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.address))
        .send()
        .await
        .expect("spec");
    assert_eq!(res.status(), 200);
    let spec: Value = json_body(res).await;
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    for (method, path) in ROUTES {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    let documented: usize = spec["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|p| p.as_object().map_or(0, |m| m.len()))
        .sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "every documented route is listed here, and the other way round"
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
