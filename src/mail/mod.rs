//! Email: content rendered from templates in the user's language, written to the outbox in the
//! transaction that causes it, and delivered by the outbox worker over SMTP or as `.eml` files.

pub mod kinds;
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
    /// The kind whose templates render it (set by the constructors in [`kinds`]); `None`
    /// renders the shared layout alone.
    pub kind: Option<kinds::Kind>,
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
            kind: None,
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
        let Some(kind) = self.kind else {
            return Ok((
                TextEmail { c: self }.render()?,
                HtmlEmail { c: self }.render()?,
            ));
        };
        let c = self;
        Ok(match kind {
            kinds::Kind::Verification => (
                VerificationText { c }.render()?,
                VerificationHtml { c }.render()?,
            ),
            kinds::Kind::Reset => (ResetText { c }.render()?, ResetHtml { c }.render()?),
            kinds::Kind::AccountExists => (
                AccountExistsText { c }.render()?,
                AccountExistsHtml { c }.render()?,
            ),
            kinds::Kind::JoinConfirmation => (
                JoinConfirmationText { c }.render()?,
                JoinConfirmationHtml { c }.render()?,
            ),
            kinds::Kind::Approval => (ApprovalText { c }.render()?, ApprovalHtml { c }.render()?),
            kinds::Kind::Rejection => {
                (RejectionText { c }.render()?, RejectionHtml { c }.render()?)
            }
            kinds::Kind::Reconfirm => {
                (ReconfirmText { c }.render()?, ReconfirmHtml { c }.render()?)
            }
            kinds::Kind::Invitation => (
                InvitationText { c }.render()?,
                InvitationHtml { c }.render()?,
            ),
            kinds::Kind::Alert => (AlertText { c }.render()?, AlertHtml { c }.render()?),
            kinds::Kind::Digest => (DigestText { c }.render()?, DigestHtml { c }.render()?),
            kinds::Kind::Reminder => (ReminderText { c }.render()?, ReminderHtml { c }.render()?),
            kinds::Kind::OutcomeCheck => (
                OutcomeCheckText { c }.render()?,
                OutcomeCheckHtml { c }.render()?,
            ),
            kinds::Kind::RetentionNotice => (
                RetentionNoticeText { c }.render()?,
                RetentionNoticeHtml { c }.render()?,
            ),
            kinds::Kind::Receipt => (ReceiptText { c }.render()?, ReceiptHtml { c }.render()?),
        })
    }

    /// Renders the subject line through the kind's `subject.txt`.
    ///
    /// # Errors
    /// When a template fails to render.
    pub fn render_subject(&self) -> Result<String, askama::Error> {
        let Some(kind) = self.kind else {
            return Ok(self.subject.clone());
        };
        let c = self;
        let subject = match kind {
            kinds::Kind::Verification => VerificationSubject { c }.render()?,
            kinds::Kind::Reset => ResetSubject { c }.render()?,
            kinds::Kind::AccountExists => AccountExistsSubject { c }.render()?,
            kinds::Kind::JoinConfirmation => JoinConfirmationSubject { c }.render()?,
            kinds::Kind::Approval => ApprovalSubject { c }.render()?,
            kinds::Kind::Rejection => RejectionSubject { c }.render()?,
            kinds::Kind::Reconfirm => ReconfirmSubject { c }.render()?,
            kinds::Kind::Invitation => InvitationSubject { c }.render()?,
            kinds::Kind::Alert => AlertSubject { c }.render()?,
            kinds::Kind::Digest => DigestSubject { c }.render()?,
            kinds::Kind::Reminder => ReminderSubject { c }.render()?,
            kinds::Kind::OutcomeCheck => OutcomeCheckSubject { c }.render()?,
            kinds::Kind::RetentionNotice => RetentionNoticeSubject { c }.render()?,
            kinds::Kind::Receipt => ReceiptSubject { c }.render()?,
        };
        Ok(subject.trim().to_owned())
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

// Each kind's templates (`email/<kind>/`); they extend the shared layout.

#[derive(Template)]
#[template(path = "email/verification/subject.txt", escape = "none")]
struct VerificationSubject<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/verification/text.txt", escape = "none")]
struct VerificationText<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/verification/html.html")]
struct VerificationHtml<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/reset/subject.txt", escape = "none")]
struct ResetSubject<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/reset/text.txt", escape = "none")]
struct ResetText<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/reset/html.html")]
struct ResetHtml<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/account_exists/subject.txt", escape = "none")]
struct AccountExistsSubject<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/account_exists/text.txt", escape = "none")]
struct AccountExistsText<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/account_exists/html.html")]
struct AccountExistsHtml<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/join_confirmation/subject.txt", escape = "none")]
struct JoinConfirmationSubject<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/join_confirmation/text.txt", escape = "none")]
struct JoinConfirmationText<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/join_confirmation/html.html")]
struct JoinConfirmationHtml<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/approval/subject.txt", escape = "none")]
struct ApprovalSubject<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/approval/text.txt", escape = "none")]
struct ApprovalText<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/approval/html.html")]
struct ApprovalHtml<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/rejection/subject.txt", escape = "none")]
struct RejectionSubject<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/rejection/text.txt", escape = "none")]
struct RejectionText<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/rejection/html.html")]
struct RejectionHtml<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/reconfirm/subject.txt", escape = "none")]
struct ReconfirmSubject<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/reconfirm/text.txt", escape = "none")]
struct ReconfirmText<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/reconfirm/html.html")]
struct ReconfirmHtml<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/invitation/subject.txt", escape = "none")]
struct InvitationSubject<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/invitation/text.txt", escape = "none")]
struct InvitationText<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/invitation/html.html")]
struct InvitationHtml<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/alert/subject.txt", escape = "none")]
struct AlertSubject<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/alert/text.txt", escape = "none")]
struct AlertText<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/alert/html.html")]
struct AlertHtml<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/digest/subject.txt", escape = "none")]
struct DigestSubject<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/digest/text.txt", escape = "none")]
struct DigestText<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/digest/html.html")]
struct DigestHtml<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/reminder/subject.txt", escape = "none")]
struct ReminderSubject<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/reminder/text.txt", escape = "none")]
struct ReminderText<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/reminder/html.html")]
struct ReminderHtml<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/outcome_check/subject.txt", escape = "none")]
struct OutcomeCheckSubject<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/outcome_check/text.txt", escape = "none")]
struct OutcomeCheckText<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/outcome_check/html.html")]
struct OutcomeCheckHtml<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/retention_notice/subject.txt", escape = "none")]
struct RetentionNoticeSubject<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/retention_notice/text.txt", escape = "none")]
struct RetentionNoticeText<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/retention_notice/html.html")]
struct RetentionNoticeHtml<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/receipt/subject.txt", escape = "none")]
struct ReceiptSubject<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/receipt/text.txt", escape = "none")]
struct ReceiptText<'a> {
    c: &'a EmailContent,
}

#[derive(Template)]
#[template(path = "email/receipt/html.html")]
struct ReceiptHtml<'a> {
    c: &'a EmailContent,
}
