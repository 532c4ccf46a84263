//! Every route in one place: the API scope (which also yields the OpenAPI document), the
//! pages, the docs and the security headers.

use actix_web::http::Method;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpRequest, HttpResponse, web};
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
/// description, and every operation documents that bad input answers a 4XX problem: besides
/// the 4xx answers an operation names, any request can be refused before its handler runs (401
/// without a token, 415 for a body that is not JSON, 400 for an unreadable multipart form, 422
/// for an unknown query parameter), so the `4XX` range is always there.
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
                if !op.responses.responses.contains_key("4XX") {
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

/// The methods each API path answers, read from the OpenAPI document: a request whose path
/// exists but whose method does not is answered 405 with `Allow`, not 404.
#[derive(Debug, Default)]
pub struct AllowedMethods(Vec<(Vec<String>, Vec<&'static str>)>);

impl AllowedMethods {
    /// The table of `api`'s paths (templates like `/api/v1/groups/{slug}`).
    #[must_use]
    pub fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        let table = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path.split('/').map(ToOwned::to_owned).collect();
                let mut methods = Vec::new();
                for (op, name) in [
                    (&item.get, "GET"),
                    (&item.post, "POST"),
                    (&item.put, "PUT"),
                    (&item.patch, "PATCH"),
                    (&item.delete, "DELETE"),
                ] {
                    if op.is_some() {
                        methods.push(name);
                        if name == "GET" {
                            methods.push("HEAD");
                        }
                    }
                }
                (segments, methods)
            })
            .collect();
        Self(table)
    }

    /// The methods `path` answers, when it matches a documented path.
    fn of(&self, path: &str) -> Option<Vec<&'static str>> {
        let parts: Vec<&str> = path.split('/').collect();
        let mut found: Option<Vec<&'static str>> = None;
        for (template, methods) in &self.0 {
            let matches = template.len() == parts.len()
                && template
                    .iter()
                    .zip(&parts)
                    .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()));
            if matches {
                let all = found.get_or_insert_with(Vec::new);
                for m in methods {
                    if !all.contains(m) {
                        all.push(m);
                    }
                }
            }
        }
        found
    }
}

/// What answers a request no route took: 405 with `Allow` when the path exists for other
/// methods (or the method is one this server never answers, such as TRACE), else 404.
async fn fallback(
    req: HttpRequest,
    allowed: Option<web::Data<AllowedMethods>>,
    c: pages::PageCtx,
) -> HttpResponse {
    use actix_web::ResponseError as _;
    if let Some(methods) = allowed.and_then(|a| a.of(req.path()))
        && !methods.contains(&req.method().as_str())
    {
        return AppError::MethodNotAllowed {
            allow: methods.join(", "),
        }
        .error_response();
    }
    let never = [Method::TRACE, Method::CONNECT];
    if never.contains(req.method()) || req.method().as_str() == "TRACK" {
        // Pages answer GET and POST; the precise set of an API path came from the table above.
        return AppError::MethodNotAllowed {
            allow: "GET, HEAD, POST".into(),
        }
        .error_response();
    }
    // Unknown addresses: the 404 page for a browser outside the API, a problem otherwise.
    let wants_html = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && !req.path().starts_with("/api/") {
        c.error(&AppError::NotFound)
    } else {
        AppError::NotFound.error_response()
    }
}

/// Middleware: a path holding an encoded control character (`%00`–`%1F`, `%7F`) names nothing
/// here (slugs, ids and tokens are printable), so it is answered 404 before a handler looks it
/// up: PostgreSQL would refuse the NUL with an error.
async fn refuse_control_paths(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    let path = req.path().as_bytes();
    let control = path.windows(3).any(|w| {
        w[0] == b'%'
            && matches!((w[1], w[2].to_ascii_uppercase()), (b'0' | b'1', b'0'..=b'9' | b'A'..=b'F') | (b'7', b'F'))
    });
    if control {
        let res = actix_web::ResponseError::error_response(&AppError::NotFound);
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// The Content-Security-Policy of every response: only the site's own scripts, styles and
/// images (data: for small inline icons), never framed, no `<base>`, forms only to itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'self'";

/// Browser features no page of ours uses, switched off so injected content cannot use them.
pub const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=(), \
    usb=(), serial=(), bluetooth=(), magnetometer=(), gyroscope=(), accelerometer=(), \
    interest-cohort=(), browsing-topics=()";

/// Registers every route and returns the app with the OpenAPI document collected from them.
pub fn routes(
    state: web::Data<AppState>,
    spec: web::Data<OpenApiJson>,
    allowed: web::Data<AllowedMethods>,
    drain: web::Data<ops::Drain>,
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
        .app_data(allowed)
        .app_data(drain)
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
                .configure(crate::dossier::routes)
                .configure(crate::admin::routes),
        )
        .configure(ops::routes)
        .configure(crate::dossier::well_known_routes)
        .split_for_parts();
    let mut api = api;
    utoipa::Modify::modify(&ErrorResponses, &mut api);
    let app = app
        .configure(pages::routes)
        .configure(accounts::pages::routes)
        .configure(crate::participation::join_pages::routes)
        .configure(participation::pages::page_routes)
        .configure(evidence::pages::page_routes)
        .configure(interactions::pages::page_routes)
        .configure(crate::notify::api::page_routes)
        .configure(crate::dossier::pages::routes)
        .configure(crate::dossier::receipts::page_routes)
        .configure(groups::team_pages::routes)
        .configure(crate::responses::pages::routes)
        .configure(crate::admin::pages::routes);
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
        .default_service(web::to(fallback))
        .wrap(actix_web::middleware::from_fn(pages::same_origin_forms))
        .wrap(actix_web::middleware::from_fn(refuse_control_paths))
        .wrap(
            DefaultHeaders::new()
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("Referrer-Policy", "same-origin"))
                .add(("X-Frame-Options", "DENY"))
                .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
                .add(("Permissions-Policy", PERMISSIONS_POLICY)),
        )
        .wrap(actix_web::middleware::from_fn(crate::error::scope_locale))
        .wrap(actix_web::middleware::from_fn(ops::track_requests))
        .wrap(actix_web::middleware::from_fn(ops::request_id_header))
        .wrap(tracing_actix_web::TracingLogger::default());
    (app, api)
}
