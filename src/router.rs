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

/// Makes the document say what the server does: every 4xx and 5xx body is
/// `application/problem+json` (RFC 9457, the `Problem` schema), every response has a
/// description, and every operation documents that bad input answers a 4XX problem.
struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        const PROBLEM: &str = "application/problem+json";
        // Operation ids come from handler names, which repeat across domains (`list`,
        // `create`): a repeated one is qualified by the operation's tag.
        let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for item in openapi.paths.paths.values() {
            for op in [
                &item.get,
                &item.put,
                &item.post,
                &item.delete,
                &item.patch,
                &item.options,
                &item.head,
                &item.trace,
            ]
            .into_iter()
            .flatten()
            {
                if let Some(id) = &op.operation_id {
                    *seen.entry(id.clone()).or_default() += 1;
                }
            }
        }
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.options,
                &mut item.head,
                &mut item.trace,
            ];
            for op in ops.into_iter().flatten() {
                if let (Some(id), Some(tag)) =
                    (&op.operation_id, op.tags.as_ref().and_then(|t| t.first()))
                    && seen.get(id).is_some_and(|n| *n > 1)
                {
                    op.operation_id = Some(format!("{tag}_{id}"));
                }
                for (status, response) in &mut op.responses.responses {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if response.description.is_empty() {
                        response.description = status
                            .parse::<u16>()
                            .ok()
                            .and_then(|s| actix_web::http::StatusCode::from_u16(s).ok())
                            .and_then(|s| s.canonical_reason())
                            .unwrap_or("Answer")
                            .to_owned();
                    }
                    if (status.starts_with('4') || status.starts_with('5'))
                        && let Some(content) = response.content.shift_remove("application/json")
                    {
                        response.content.insert(PROBLEM.to_owned(), content);
                    }
                }
                if !op.responses.responses.keys().any(|k| k.starts_with('4')) {
                    let problem = ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build();
                    op.responses.responses.insert(
                        "4XX".to_owned(),
                        RefOr::T(
                            ResponseBuilder::new()
                                .description("A problem with the request (RFC 9457)")
                                .content(PROBLEM, problem)
                                .build(),
                        ),
                    );
                }
            }
        }
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
    let mut api = api;
    utoipa::Modify::modify(&ErrorResponses, &mut api);
    let app = app
        .configure(pages::routes)
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
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(AppError::NotFound)
        }))
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
