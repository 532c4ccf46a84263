//! `Visitor`: a person with a browser, over HTTP. It keeps the cookies the server sets (and
//! removes those it expires), sends them back, does not follow redirects (tests assert the 303
//! and its `Location`), and fills forms with the CSRF token of the page they came from.

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::StatusCode;

use super::app::TestApp;

/// One answer as a browser sees it.
#[derive(Debug)]
pub struct Seen {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub html: String,
}

impl Seen {
    /// Asserts the answer refused the visitor: 403, or 404 for what they may not know of.
    pub fn assert_refused(&self, what: &str) {
        assert!(
            self.status == StatusCode::FORBIDDEN || self.status == StatusCode::NOT_FOUND,
            "{what}: expected 403 or 404, got {}: {}",
            self.status,
            self.html
        );
    }

    /// The `Set-Cookie` header for cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }

    /// The value of the first hidden `csrf` field on the page.
    pub fn csrf(&self) -> String {
        hidden(&self.html, "csrf").expect("a csrf field on the page")
    }
}

/// The value of the hidden input `name` in `html`.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(
        html[start..start + end]
            .replace("&#x2f;", "/")
            .replace("&amp;", "&"),
    )
}

pub struct Visitor {
    base: String,
    client: reqwest::Client,
    jar: Mutex<BTreeMap<String, String>>,
}

impl Visitor {
    pub fn new(app: &TestApp) -> Self {
        Self {
            base: app.address.clone(),
            client: app.client.clone(),
            jar: Mutex::new(BTreeMap::new()),
        }
    }

    /// A browser signed in as `user` through the log-in page.
    pub async fn signed_in(app: &TestApp, user: &crate::helpers::app::TestUser) -> Self {
        let v = Self::new(app);
        let res = v
            .submit(
                "/login",
                "/login",
                &[("email", &user.email), ("password", &user.password)],
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "log in: {}", res.html);
        v
    }

    /// The cookie `name` as the browser holds it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    /// Sets a cookie by hand (as an old copy of a cookie would be sent).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub fn cookie_header(&self) -> String {
        self.jar
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn seen(&self, res: reqwest::Response) -> Seen {
        let status = res.status();
        let location = res
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookies: Vec<String> = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        {
            let mut jar = self.jar.lock().unwrap();
            for c in &set_cookies {
                let pair = c.split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                let expired = c.to_ascii_lowercase().contains("max-age=0");
                if expired || value.is_empty() {
                    jar.remove(name);
                } else {
                    jar.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let html = res.text().await.unwrap();
        Seen {
            status,
            location,
            set_cookies,
            html,
        }
    }

    pub async fn get(&self, path: &str) -> Seen {
        let res = self
            .client
            .get(self.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.seen(res).await
    }

    /// Posts `fields` exactly as given (no CSRF token added).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Seen {
        let res = self
            .client
            .post(self.url(path))
            .header("cookie", self.cookie_header())
            .form(fields)
            .send()
            .await
            .unwrap();
        self.seen(res).await
    }

    /// Opens `page`, then posts `fields` to `action` with that page's CSRF token and hidden
    /// fields (`next`, `token`), as the browser would submit its form.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Seen {
        let form = self.get(page).await;
        assert_eq!(form.status, StatusCode::OK, "{page}: {}", form.html);
        let csrf = form.csrf();
        let mut all: Vec<(String, String)> = vec![("csrf".into(), csrf)];
        for name in ["next", "token", "answer"] {
            if let Some(v) = hidden(&form.html, name) {
                all.push((name.into(), v));
            }
        }
        all.extend(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let res = self
            .client
            .post(self.url(action))
            .header("cookie", self.cookie_header())
            .form(&all)
            .send()
            .await
            .unwrap();
        self.seen(res).await
    }
}
