//! Every kind of email the server sends, one typed constructor each. A constructor takes what
//! the email needs to say (names, titles, links) and returns the [`EmailContent`] in the
//! recipient's language; wording lives in `frontend/locales`, and each kind renders through its
//! own templates under `frontend/templates/email/<kind>/` (`subject.txt`, `text.txt`,
//! `html.html`), which share the layout in `email/layout.*`.
//!
//! Callers still choose the recipient, the idempotency key and, for bulk kinds, the unsubscribe
//! headers (`notify::bulk`); they write the result to the outbox in their transaction.

use chrono::NaiveDate;

use super::{Action, EmailContent, Section};
use crate::i18n::Locale;

/// The kinds, each naming its template directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Confirm the address of a new account.
    Verification,
    /// A link to set a new password.
    Reset,
    /// Someone tried to register an address that has an account.
    AccountExists,
    /// A participant joined (and signed) a group.
    JoinConfirmation,
    /// An organiser approved a pending participant.
    Approval,
    /// An organiser rejected a participant.
    Rejection,
    /// The joint statement changed; sign again.
    Reconfirm,
    /// An invitation to the organiser team.
    Invitation,
    /// A new timeline entry, sent at once.
    Alert,
    /// The daily or weekly digest.
    Digest,
    /// A submission is overdue (to organisers).
    Reminder,
    /// "Was your own case resolved?"
    OutcomeCheck,
    /// A closed group's evidence is about to be deleted.
    RetentionNotice,
    /// A participant's signature is in a new dossier version: their receipt.
    Receipt,
}

impl Kind {
    /// The directory of the kind's templates under `frontend/templates/email/`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verification => "verification",
            Self::Reset => "reset",
            Self::AccountExists => "account_exists",
            Self::JoinConfirmation => "join_confirmation",
            Self::Approval => "approval",
            Self::Rejection => "rejection",
            Self::Reconfirm => "reconfirm",
            Self::Invitation => "invitation",
            Self::Alert => "alert",
            Self::Digest => "digest",
            Self::Reminder => "reminder",
            Self::OutcomeCheck => "outcome_check",
            Self::RetentionNotice => "retention_notice",
            Self::Receipt => "receipt",
        }
    }
}

fn start(kind: Kind, l: Locale, subject: String, name: &str) -> EmailContent {
    let mut c = EmailContent::new(l, subject, name);
    c.kind = Some(kind);
    c
}

/// Email verification for a new account; `link` carries the token, valid `hours`.
#[must_use]
pub fn verification(l: Locale, name: &str, link: String, hours: i64) -> EmailContent {
    start(
        Kind::Verification,
        l,
        l.t("email.verify_email.subject").into(),
        name,
    )
    .paragraph(l.tf("email.verify_email.body", &[("hours", &hours.to_string())]))
    .paragraph(l.t("email.ignore"))
    .action(l.t("email.verify_email.action"), link)
}

/// Password reset; `link` carries the token, valid `minutes`.
#[must_use]
pub fn reset(l: Locale, name: &str, link: String, minutes: i64) -> EmailContent {
    start(
        Kind::Reset,
        l,
        l.t("email.password_reset.subject").into(),
        name,
    )
    .paragraph(l.tf(
        "email.password_reset.body",
        &[("minutes", &minutes.to_string())],
    ))
    .paragraph(l.t("email.ignore"))
    .action(l.t("email.password_reset.action"), link)
}

/// The notice to an existing account that someone registered its address again;
/// `reset_link` is the reset-password page.
#[must_use]
pub fn account_exists(l: Locale, name: &str, reset_link: String) -> EmailContent {
    start(
        Kind::AccountExists,
        l,
        l.t("email.account_exists.subject").into(),
        name,
    )
    .paragraph(l.t("email.account_exists.body"))
    .paragraph(l.t("email.ignore"))
    .action(l.t("email.account_exists.action"), reset_link)
}

/// What a join confirmation says.
#[derive(Debug, Clone, Copy)]
pub struct Joined<'a> {
    /// The group's title.
    pub title: &'a str,
    /// The provider's name in the recipient's language.
    pub provider: &'a str,
    /// The statement version signed.
    pub version: i32,
    /// Whether the organisers still have to approve the participation.
    pub pending: bool,
    /// The group page.
    pub group_url: &'a str,
}

/// Join confirmation, after joining and signing.
#[must_use]
pub fn join_confirmation(l: Locale, name: &str, j: Joined<'_>) -> EmailContent {
    let version = j.version.to_string();
    let args = [
        ("title", j.title),
        ("provider", j.provider),
        ("version", version.as_str()),
    ];
    let mut c = start(
        Kind::JoinConfirmation,
        l,
        l.tf("email.join_confirmation.subject", &args),
        name,
    )
    .paragraph(l.tf("email.join_confirmation.body", &args));
    if j.pending {
        c = c.paragraph(l.t("email.join_confirmation.pending"));
    }
    c.paragraph(l.t("email.join_confirmation.evidence"))
        .action(l.t("email.join_confirmation.action"), j.group_url)
}

/// Approval of a pending participant by the organisers.
#[must_use]
pub fn approval(l: Locale, name: &str, title: &str, group_url: &str) -> EmailContent {
    let args = [("title", title)];
    start(
        Kind::Approval,
        l,
        l.tf("email.roster_approved.subject", &args),
        name,
    )
    .paragraph(l.tf("email.roster_approved.body", &args))
    .paragraph(l.t("email.roster_approved.next"))
    .action(l.t("email.roster_approved.action"), group_url)
}

/// What a rejection says.
#[derive(Debug, Clone, Copy)]
pub struct Rejected<'a> {
    /// The group's title.
    pub title: &'a str,
    /// The organisers' reason, if they gave one.
    pub reason: Option<&'a str>,
    /// Whether it was rejected as a duplicate of another participation.
    pub duplicate: bool,
    /// The group page.
    pub group_url: &'a str,
}

/// Rejection of a participant by the organisers.
#[must_use]
pub fn rejection(l: Locale, name: &str, r: Rejected<'_>) -> EmailContent {
    let reason = r
        .reason
        .unwrap_or_else(|| l.t("email.roster_rejected.no_reason"));
    let args = [("title", r.title), ("reason", reason)];
    let mut c = start(
        Kind::Rejection,
        l,
        l.tf("email.roster_rejected.subject", &args),
        name,
    )
    .paragraph(l.tf("email.roster_rejected.body", &args));
    if r.duplicate {
        c = c.paragraph(l.t("email.roster_rejected.duplicate"));
    }
    c.paragraph(l.tf("email.roster_rejected.reason", &args))
        .paragraph(l.t("email.roster_rejected.next"))
        .action(l.t("email.roster_rejected.action"), r.group_url)
}

/// Re-confirmation after the joint statement changed to `version`, quoting its `text`.
#[must_use]
pub fn reconfirm(
    l: Locale,
    name: &str,
    title: &str,
    version: i32,
    text: &str,
    group_url: &str,
) -> EmailContent {
    let version = version.to_string();
    let args = [("title", title), ("version", version.as_str())];
    start(
        Kind::Reconfirm,
        l,
        l.tf("email.reconfirm.subject", &args),
        name,
    )
    .paragraph(l.tf("email.reconfirm.body", &args))
    .paragraph(text.to_owned())
    .paragraph(l.t("email.reconfirm.why"))
    .action(l.t("email.reconfirm.action"), group_url)
}

/// What an invitation to the organiser team says.
#[derive(Debug, Clone, Copy)]
pub struct Invited<'a> {
    /// Who invites.
    pub inviter: &'a str,
    /// The group's title.
    pub title: &'a str,
    /// The role offered (`organiser`, `moderator`).
    pub role: &'a str,
    /// Days the invitation stays valid.
    pub days: i64,
    /// The accept page, with the token.
    pub accept_url: &'a str,
}

/// Invitation to a group's organiser team.
#[must_use]
pub fn invitation(l: Locale, name: &str, i: Invited<'_>) -> EmailContent {
    let role = l.tk("email.organiser_invite.role", i.role);
    let days = i.days.to_string();
    let args = [
        ("inviter", i.inviter),
        ("title", i.title),
        ("role", role),
        ("days", days.as_str()),
    ];
    start(
        Kind::Invitation,
        l,
        l.tf("email.organiser_invite.subject", &args),
        name,
    )
    .paragraph(l.tf("email.organiser_invite.body", &args))
    .paragraph(l.tf("email.organiser_invite.expiry", &args))
    .paragraph(l.t("email.ignore"))
    .action(l.t("email.organiser_invite.action"), i.accept_url)
}

/// What an immediate alert says.
#[derive(Debug, Clone)]
pub struct Alerted<'a> {
    /// The group's title.
    pub group: &'a str,
    /// The entry's kind (`response`, `offer`, …).
    pub kind: &'a str,
    /// The entry's title.
    pub title: &'a str,
    /// The entry as one dated line.
    pub line: String,
    /// The entry's text (may be empty).
    pub body: &'a str,
    /// Where to read it.
    pub link: Action,
}

/// Immediate alert of a new timeline entry (bulk: the caller adds unsubscribe headers).
#[must_use]
pub fn alert(l: Locale, name: &str, a: Alerted<'_>) -> EmailContent {
    let kind = l.tk("notify.kind", a.kind);
    let subject = l.tf(
        "notify.alert_subject",
        &[("group", a.group), ("kind", kind), ("title", a.title)],
    );
    let mut c = start(Kind::Alert, l, subject, name)
        .paragraph(l.tf("notify.alert_intro", &[("group", a.group)]))
        .paragraph(a.line);
    if !a.body.is_empty() {
        c = c.paragraph(a.body.to_owned());
    }
    c.action(a.link.label, a.link.url)
}

/// The daily (or weekly) digest of `count` entries, one section per group (bulk).
#[must_use]
pub fn digest(
    l: Locale,
    name: &str,
    weekly: bool,
    count: usize,
    sections: Vec<Section>,
) -> EmailContent {
    let subject_key = if weekly {
        "notify.weekly_subject"
    } else {
        "notify.daily_subject"
    };
    let mut c = start(
        Kind::Digest,
        l,
        l.tf(subject_key, &[("count", &count.to_string())]),
        name,
    )
    .paragraph(l.t("notify.digest_intro"));
    for s in sections {
        c = c.section(s);
    }
    c
}

/// What an overdue reminder says.
#[derive(Debug, Clone)]
pub struct Overdue<'a> {
    /// The group's title.
    pub group: &'a str,
    /// The submission's channel (`provider`, `consumer_association`, …).
    pub channel: &'a str,
    /// Who it was sent to.
    pub recipient: &'a str,
    /// Which day of the period it is.
    pub day: i64,
    /// The period in days.
    pub period: i64,
    /// Past twice the period.
    pub very_overdue: bool,
    /// The channel to escalate to, if any is left.
    pub next_channel: Option<&'a str>,
    /// The group page.
    pub link: Action,
}

/// Overdue reminder to an organiser, with the suggested next channel (bulk).
#[must_use]
pub fn reminder(l: Locale, name: &str, o: Overdue<'_>) -> EmailContent {
    let channel = l.tk("notify.channel", o.channel);
    let (day, period) = (o.day.to_string(), o.period.to_string());
    let args = [
        ("group", o.group),
        ("channel", channel),
        ("recipient", o.recipient),
        ("day", day.as_str()),
        ("period", period.as_str()),
    ];
    let mut c = start(
        Kind::Reminder,
        l,
        l.tf("notify.overdue_subject", &args),
        name,
    )
    .paragraph(l.tf("notify.overdue_intro", &args));
    if o.very_overdue {
        c = c.paragraph(l.t("notify.very_overdue_intro"));
    }
    c.paragraph(match o.next_channel {
        Some(next) => l.tf(
            "notify.next_step",
            &[("channel", l.tk("notify.channel", next))],
        ),
        None => l.t("notify.no_next_step").to_owned(),
    })
    .action(o.link.label, o.link.url)
}

/// The outcome check; `answer_url` is the signed outcome page, to which `?answer=…` is added
/// for each one-click answer (bulk).
#[must_use]
pub fn outcome_check(l: Locale, name: &str, group: &str, answer_url: &str) -> EmailContent {
    let mut section = Section {
        title: l.t("page.outcome.title").into(),
        lines: Vec::new(),
        link: None,
    };
    for answer in ["resolved", "partially_resolved", "unresolved"] {
        section.lines.push(format!(
            "{}: {answer_url}?answer={answer}",
            l.t(&format!("notify.outcome_{answer}")),
        ));
    }
    start(
        Kind::OutcomeCheck,
        l,
        l.tf("notify.outcome_subject", &[("group", group)]),
        name,
    )
    .paragraph(l.tf("notify.outcome_intro", &[("group", group)]))
    .section(section)
}

/// Notice that a closed group's evidence will be deleted on `delete_on` (sent by the retention
/// sweep, `crate::retention`, 30 days before).
#[must_use]
pub fn retention_notice(
    l: Locale,
    name: &str,
    group: &str,
    delete_on: NaiveDate,
    group_url: &str,
) -> EmailContent {
    let date = delete_on.format("%Y-%m-%d").to_string();
    let args = [("group", group), ("date", date.as_str())];
    start(
        Kind::RetentionNotice,
        l,
        l.tf("email.retention_notice.subject", &args),
        name,
    )
    .paragraph(l.tf("email.retention_notice.body", &args))
    .paragraph(l.t("email.retention_notice.next"))
    .action(l.t("email.retention_notice.action"), group_url)
}

/// Notice that the participant's signature is in version `version` of the group's dossier,
/// with the way to their inclusion receipt (`receipts_url`).
#[must_use]
pub fn receipt(
    l: Locale,
    name: &str,
    group: &str,
    version: i32,
    recipient: &str,
    receipts_url: &str,
) -> EmailContent {
    let version = version.to_string();
    let args = [
        ("group", group),
        ("version", version.as_str()),
        ("recipient", recipient),
    ];
    start(Kind::Receipt, l, l.tf("email.receipt.subject", &args), name)
        .paragraph(l.tf("email.receipt.body", &args))
        .paragraph(l.t("email.receipt.next"))
        .action(l.t("email.receipt.action"), receipts_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_renders_the_same_as_the_shared_layout() {
        let c = verification(Locale::En, "Li", "http://x/verify-email?token=t".into(), 24);
        let mut plain = c.clone();
        plain.kind = None;
        assert_eq!(c.render().ok(), plain.render().ok());
        assert_eq!(c.render_subject().ok().as_deref(), Some(c.subject.as_str()));
    }

    #[test]
    fn every_kind_renders_in_both_languages() {
        let link = Action {
            label: "go".into(),
            url: "http://x/groups/g".into(),
        };
        for l in [Locale::ZhCn, Locale::En] {
            let all = [
                verification(l, "n", "http://x/v".into(), 24),
                reset(l, "n", "http://x/r".into(), 30),
                account_exists(l, "n", "http://x/reset-password".into()),
                join_confirmation(
                    l,
                    "n",
                    Joined {
                        title: "t",
                        provider: "p",
                        version: 1,
                        pending: true,
                        group_url: "http://x/groups/g",
                    },
                ),
                approval(l, "n", "t", "http://x/groups/g"),
                rejection(
                    l,
                    "n",
                    Rejected {
                        title: "t",
                        reason: None,
                        duplicate: true,
                        group_url: "http://x/groups/g",
                    },
                ),
                reconfirm(l, "n", "t", 2, "text", "http://x/groups/g"),
                invitation(
                    l,
                    "n",
                    Invited {
                        inviter: "i",
                        title: "t",
                        role: "moderator",
                        days: 7,
                        accept_url: "http://x/invites/accept?token=t",
                    },
                ),
                alert(
                    l,
                    "n",
                    Alerted {
                        group: "g",
                        kind: "response",
                        title: "t",
                        line: "line".into(),
                        body: "",
                        link: link.clone(),
                    },
                ),
                digest(l, "n", true, 3, Vec::new()),
                reminder(
                    l,
                    "n",
                    Overdue {
                        group: "g",
                        channel: "provider",
                        recipient: "r",
                        day: 16,
                        period: 15,
                        very_overdue: false,
                        next_channel: Some("consumer_association"),
                        link: link.clone(),
                    },
                ),
                outcome_check(l, "n", "g", "http://x/outcome/tok"),
                retention_notice(l, "n", "g", NaiveDate::MIN, "http://x/groups/g"),
            ];
            for c in all {
                let (text, html) = c.render().expect("renders");
                // A missing translation shows as "?".
                assert!(
                    c.subject != "?" && !c.paragraphs.iter().any(|p| p == "?"),
                    "{c:?}"
                );
                assert!(!text.contains("{"), "{:?}: {text}", c.kind);
                assert!(html.contains(&c.greeting), "{:?}", c.kind);
            }
        }
    }

    #[test]
    fn a_retention_notice_names_the_group_and_the_day_and_links_to_the_group_page() {
        let day = NaiveDate::from_ymd_opt(2027, 3, 1).expect("a date");
        let c = retention_notice(Locale::En, "Li", "Refunds", day, "http://x/groups/refunds");
        let (text, _) = c.render().expect("renders");
        assert!(c.subject.contains("Refunds"), "{}", c.subject);
        assert!(text.contains("2027-03-01"), "{text}");
        assert!(text.contains("http://x/groups/refunds"), "{text}");
    }
}
