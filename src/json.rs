//! Extractors for JSON bodies and query strings that answer problems naming the field, and
//! run `validator` rules before a handler sees the value.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use validator::Validate;

use crate::error::AppError;

/// The largest JSON body a route accepts; set as app data.
#[derive(Debug, Clone, Copy)]
pub struct JsonLimit(pub usize);

/// A JSON request body, deserialised strictly and validated.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ApiJson<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<JsonLimit>().map_or(64 * 1024, |l| l.0);
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(AppError::UnsupportedMediaType(
                    "the body must be application/json".into(),
                ));
            }
            if declared_len.is_some_and(|n| n > limit) {
                return Err(too_large(limit));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| AppError::BadRequest {
                    code: "body_unreadable",
                    detail: e.to_string(),
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            let value = parse_json::<T>(&body)?;
            value.validate()?;
            Ok(ApiJson(value))
        })
    }
}

fn too_large(limit: usize) -> AppError {
    AppError::PayloadTooLarge(format!("the body is larger than {limit} bytes"))
}

/// Parses JSON, naming the offending field on a shape error.
///
/// # Errors
/// 400 for bytes that are not JSON, 422 naming the field for JSON of the wrong shape.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    // Check the syntax of the whole body first (trailing data included), so a broken body is
    // answered 400 even when its first part already has a shape error.
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| AppError::BadRequest {
            code: "malformed_json",
            detail: format!("the body is not valid JSON: {e}"),
        })?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        shape_error(&path, &e.into_inner().to_string())
    })
}

/// Turns a serde message into a field error. For a missing field serde's path stops at the
/// parent object, so the name is taken from the message; for an unknown field the path already
/// ends with it.
fn shape_error(path: &str, message: &str) -> AppError {
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned();
    let root = path == "." || path.is_empty();
    let field = match message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        Some(name) if root => name.to_owned(),
        Some(name) => format!("{path}.{name}"),
        None if root => message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
            .unwrap_or("body")
            .to_owned(),
        None => path.to_owned(),
    };
    AppError::field(field, message)
}

/// A query string, deserialised strictly and validated.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Validate> FromRequest for ApiQuery<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()))
    }
}

fn parse_query<T: DeserializeOwned + Validate>(query: &str) -> Result<ApiQuery<T>, AppError> {
    let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        shape_error(&path, &e.into_inner().to_string())
    })?;
    value.validate()?;
    Ok(ApiQuery(value))
}

/// Deserialises a string with surrounding white space removed (for pasted emails).
///
/// # Errors
/// When the value is not a string.
pub fn trimmed<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = <String as serde::Deserialize>::deserialize(d)?;
    Ok(s.trim().to_owned())
}
