//! The pages' static files (`frontend/static/`), embedded in the binary, served under
//! content-hashed names (`/static/site.3f2a9c1d.css`) so they can be cached for a year and a new
//! release is fetched at once, and gzip-compressed once at first use for clients that accept
//! it. Templates link them with `{{ crate::pages::assets::url("site.css") }}`.

use std::io::Write;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

/// The embedded files: (name, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "site.css",
        "text/css; charset=utf-8",
        include_bytes!("../../frontend/static/site.css"),
    ),
    (
        "enhance.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../frontend/static/enhance.js"),
    ),
];

struct Asset {
    name: &'static str,
    url: String,
    content_type: &'static str,
    plain: &'static [u8],
    gzip: Vec<u8>,
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(name, content_type, plain)| {
            let hash = hex::encode(&Sha256::digest(plain)[..4]);
            let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            // Writing to a Vec cannot fail.
            let gzip = gz
                .write_all(plain)
                .and_then(|()| gz.finish())
                .unwrap_or_default();
            Asset {
                name,
                url: format!("/static/{stem}.{hash}.{ext}"),
                content_type,
                plain,
                gzip,
            }
        })
        .collect()
});

/// The content-hashed URL of the embedded file `name` (`"site.css"`).
///
/// # Panics
/// When `name` is not an embedded file: a template names a file that does not exist, which the
/// page tests catch.
#[must_use]
pub fn url(name: &str) -> &'static str {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => &a.url,
        None => panic!("no embedded static file {name}"),
    }
}

/// Serves an embedded file by its hashed name (immutable for a year), or by its plain name
/// (cached briefly, for old links); gzip when the client accepts it.
pub async fn serve(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    let path = format!("/static/{file}");
    let (asset, hashed) = match ASSETS.iter().find(|a| a.url == path) {
        Some(a) => (a, true),
        None => match ASSETS.iter().find(|a| a.name == file.as_str()) {
            Some(a) => (a, false),
            None => return HttpResponse::NotFound().finish(),
        },
    };
    let gzip_ok = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|e| e.split(';').next().unwrap_or("").trim() == "gzip")
        });
    let mut res = HttpResponse::Ok();
    res.content_type(asset.content_type)
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((
            header::CACHE_CONTROL,
            if hashed {
                "public, max-age=31536000, immutable"
            } else {
                "public, max-age=300"
            },
        ));
    if gzip_ok && !asset.gzip.is_empty() {
        res.insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(asset.gzip.as_slice())
    } else {
        res.body(asset.plain)
    }
}
