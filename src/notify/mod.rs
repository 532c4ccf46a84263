//! Keeping participants informed: notification preferences, the scheduler that queues digests,
//! alerts, overdue reminders and outcome checks, and the signed links of bulk emails
//! (one-click unsubscribe, outcome answers).

pub mod api;
pub mod members;
pub mod prefs;
pub mod scheduler;
pub mod tokens;

pub use api::routes;

use crate::i18n::Locale;
use crate::mail::EmailContent;
use crate::state::AppState;

/// Headers and footer link that make an email bulk mail with RFC 8058 one-click unsubscribe.
#[must_use]
pub fn bulk(
    state: &AppState,
    user_id: i64,
    locale: Locale,
    content: EmailContent,
) -> (EmailContent, Vec<(String, String)>) {
    let url = format!(
        "{}/unsubscribe/{}",
        state.ctx.public_url,
        state.ctx.links.unsubscribe(user_id)
    );
    let headers = vec![
        ("List-Unsubscribe".to_owned(), format!("<{url}>")),
        (
            "List-Unsubscribe-Post".to_owned(),
            "List-Unsubscribe=One-Click".to_owned(),
        ),
    ];
    (
        content.unsubscribe(locale.t("notify.unsubscribe"), url),
        headers,
    )
}
