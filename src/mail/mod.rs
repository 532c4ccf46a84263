//! Email: content rendered from templates in the user's language, written to the outbox in the
//! transaction that causes it, and delivered by the outbox worker over SMTP or as `.eml` files.

pub mod outbox;
pub mod transport;
pub mod worker;

use askama::Template;

use crate::i18n::Locale;

/// A call to action: one button in HTML, one link in text.
#[derive(Debug, Clone)]
pub struct Action {
    /// The button's label.
    pub label: String,
    /// Where it leads.
    pub url: String,
}

/// A titled block of lines, e.g. one group in a digest.
#[derive(Debug, Clone)]
pub struct Section {
    /// The heading.
    pub title: String,
    /// One line per item.
    pub lines: Vec<String>,
    /// Where to read more.
    pub link: Option<Action>,
}

/// What an email says, independent of its text or HTML form.
#[derive(Debug, Clone)]
pub struct EmailContent {
    /// The BCP 47 language tag.
    pub lang: &'static str,
    /// The subject line.
    pub subject: String,
    /// The salutation.
    pub greeting: String,
    /// Body paragraphs.
    pub paragraphs: Vec<String>,
    /// Titled blocks after the paragraphs.
    pub sections: Vec<Section>,
    /// The main link, if any.
    pub action: Option<Action>,
    /// The closing line.
    pub footer: String,
    /// A one-click unsubscribe page, for bulk kinds.
    pub unsubscribe_url: Option<String>,
    /// Label of the unsubscribe link.
    pub unsubscribe_label: String,
}

impl EmailContent {
    /// A new email in `locale` with the standard greeting and footer.
    #[must_use]
    pub fn new(locale: Locale, subject: String, name: &str) -> Self {
        Self {
            lang: locale.as_str(),
            subject,
            greeting: locale.tf("email.greeting", &[("name", name)]),
            paragraphs: Vec::new(),
            sections: Vec::new(),
            action: None,
            footer: locale.t("email.footer").to_owned(),
            unsubscribe_url: None,
            unsubscribe_label: String::new(),
        }
    }

    /// Adds a paragraph.
    #[must_use]
    pub fn paragraph(mut self, p: impl Into<String>) -> Self {
        self.paragraphs.push(p.into());
        self
    }

    /// Adds a titled block.
    #[must_use]
    pub fn section(mut self, section: Section) -> Self {
        self.sections.push(section);
        self
    }

    /// Marks the email as bulk mail with a one-click unsubscribe page.
    #[must_use]
    pub fn unsubscribe(mut self, label: impl Into<String>, url: impl Into<String>) -> Self {
        self.unsubscribe_label = label.into();
        self.unsubscribe_url = Some(url.into());
        self
    }

    /// Sets the call to action.
    #[must_use]
    pub fn action(mut self, label: impl Into<String>, url: impl Into<String>) -> Self {
        self.action = Some(Action {
            label: label.into(),
            url: url.into(),
        });
        self
    }

    /// Renders the plain-text and HTML bodies.
    ///
    /// # Errors
    /// When a template fails to render.
    pub fn render(&self) -> Result<(String, String), askama::Error> {
        Ok((
            TextEmail { c: self }.render()?,
            HtmlEmail { c: self }.render()?,
        ))
    }
}

#[derive(Template)]
#[template(path = "email/layout.txt", escape = "none")]
struct TextEmail<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/layout.html")]
struct HtmlEmail<'a> {
    c: &'a EmailContent,
}
