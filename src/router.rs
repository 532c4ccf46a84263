//! Every route in one place: the API scope (which also yields the OpenAPI document), the
//! pages, the docs and the security headers.

use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, web};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::AppError;
use crate::json::JsonLimit;
use crate::state::AppState;
use crate::{
    accounts, evidence, groups, interactions, ops, pages, participation, providers, responses,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lianming API",
        description = "Collective complaints: find and join groups, bring evidence, sign jointly.",
        version = "1"
    ),
    components(schemas(crate::error::Problem)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document as JSON, computed once at start-up and served from inside the API scope.
#[derive(Debug, Default)]
pub struct OpenApiJson(pub String);

async fn openapi_json(spec: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(spec.0.clone())
}

/// Unknown addresses: the 404 page for a browser outside the API, a problem document otherwise.
async fn not_found(req: actix_web::HttpRequest, c: pages::PageCtx) -> HttpResponse {
    let wants_html = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && !req.path().starts_with("/api/") {
        c.error(&AppError::NotFound)
    } else {
        actix_web::ResponseError::error_response(&AppError::NotFound)
    }
}

/// Registers every route and returns the app with the OpenAPI document collected from them.
pub fn routes(
    state: web::Data<AppState>,
    spec: web::Data<OpenApiJson>,
) -> (
    App<
        impl actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    >,
    utoipa::openapi::OpenApi,
) {
    let json_limit = JsonLimit(state.ctx.settings.json_limit_bytes);
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .app_data(state)
        .app_data(spec)
        .app_data(json_limit)
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| AppError::field("path", e.to_string()).into()),
        )
        .service(
            utoipa_actix_web::scope::scope("/api/v1")
                .route("/openapi.json", web::get().to(openapi_json))
                .configure(accounts::routes)
                .configure(providers::routes)
                .configure(groups::routes)
                .configure(participation::routes)
                .configure(evidence::routes)
                .configure(interactions::routes)
                .configure(crate::notify::routes)
                .configure(groups::team_routes)
                .configure(responses::routes)
                .configure(crate::dossier::routes),
        )
        .configure(ops::routes)
        .configure(crate::dossier::well_known_routes)
        .split_for_parts();
    let app = app
        .configure(pages::routes)
        .configure(accounts::pages::routes)
        .configure(crate::notify::api::page_routes);
    let app = app
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .config(utoipa_swagger_ui::Config::from("/api/v1/openapi.json")),
        )
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::Found()
                    .insert_header(("Location", "/docs/"))
                    .finish()
            }),
        )
        .default_service(web::to(not_found))
        .wrap(
            DefaultHeaders::new()
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("Referrer-Policy", "same-origin"))
                .add(("X-Frame-Options", "DENY")),
        )
        .wrap(actix_web::middleware::from_fn(crate::error::scope_locale))
        .wrap(tracing_actix_web::TracingLogger::default());
    (app, api)
}
