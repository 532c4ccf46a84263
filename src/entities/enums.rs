//! The enumerated values stored in the tables: statuses, kinds, visibilities, roles and
//! outcomes. Each is string-backed in the database (the schema keeps its text columns), the
//! same type in the entities, the request and response bodies and the OpenAPI document, so no
//! code compares such values as strings. Domain behaviour of each type lives with its domain.

use sea_orm::entity::prelude::*;

/// Defines a string-backed enum: a sea-orm active enum, serde (the same strings: every stored
/// value is the variant's name in snake_case, checked by a test) and an OpenAPI schema, with `as_str` and `Display` giving the stored value; ordered as declared.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal,)+ }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, EnumIter, DeriveActiveEnum,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        #[sea_orm(rs_type = "String", db_type = "Text")]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[sea_orm(string_value = $value)]
                $variant,
            )+
        }

        impl $name {
            /// The stored value.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $value,)+
                }
            }

            /// Every value, in declaration order.
            #[must_use]
            pub fn all() -> Vec<Self> {
                <Self as sea_orm::Iterable>::iter().collect()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// What kind of problem a group is about.
    Category {
        /// Stolen or taken-over accounts.
        AccountSecurity = "account_security",
        /// Refunds that never arrive.
        RefundDelay = "refund_delay",
        /// Withdrawals that never arrive.
        WithdrawalDelay = "withdrawal_delay",
        /// Unhelpful or unreachable customer service.
        CustomerService = "customer_service",
        /// Disputes over credit purchases.
        CreditDispute = "credit_dispute",
        /// Payments that failed but were charged.
        PaymentFailure = "payment_failure",
        /// Leaked personal data.
        PrivacyLeak = "privacy_leak",
        /// Fees nobody agreed to.
        UnexpectedFees = "unexpected_fees",
        /// Anything else.
        Other = "other",
    }
}

string_enum! {
    /// Where a group stands: gathering → submitted → responded → closed; `escalated` when
    /// moved to the next channel.
    GroupStatus {
        /// Collecting participants.
        Gathering = "gathering",
        /// Sent to a recipient.
        Submitted = "submitted",
        /// The provider answered.
        Responded = "responded",
        /// Moved to the next channel.
        Escalated = "escalated",
        /// Finished.
        Closed = "closed",
    }
}

string_enum! {
    /// How a closed group ended.
    GroupOutcome {
        /// Money was paid back or compensation given.
        ResolvedMonetary = "resolved_monetary",
        /// Fixed without money (apology, service fix, data deleted).
        ResolvedNonMonetary = "resolved_non_monetary",
        /// The provider explained; nothing changed.
        Explained = "explained",
        /// The provider refused.
        Rejected = "rejected",
        /// The organisers gave up or withdrew the complaint.
        Withdrawn = "withdrawn",
    }
}

string_enum! {
    /// Who can find a group.
    Visibility {
        /// Listed and searchable.
        Public = "public",
        /// Reachable by link only.
        Unlisted = "unlisted",
    }
}

string_enum! {
    /// A participation's status.
    ParticipationStatus {
        /// Waiting for approval.
        Pending = "pending",
        /// Counted.
        Active = "active",
        /// Refused (or a duplicate).
        Rejected = "rejected",
        /// Left.
        Withdrawn = "withdrawn",
    }
}

string_enum! {
    /// A participant's own view of whether their case was resolved.
    ParticipantOutcome {
        /// Nothing yet.
        Unresolved = "unresolved",
        /// Partly.
        PartiallyResolved = "partially_resolved",
        /// Fully.
        Resolved = "resolved",
    }
}

string_enum! {
    /// What an evidence file shows.
    EvidenceKind {
        /// A transaction or statement export.
        TransactionRecord = "transaction_record",
        /// A screenshot.
        Screenshot = "screenshot",
        /// A customer-service chat transcript.
        ChatLog = "chat_log",
        /// A recording or log of a call.
        CallRecord = "call_record",
        /// A receipt or invoice.
        Receipt = "receipt",
        /// Letters or emails.
        Correspondence = "correspondence",
        /// Anything else.
        Other = "other",
    }
}

string_enum! {
    /// Whether an evidence file still counts.
    EvidenceStatus {
        /// Attached to the participation.
        Active = "active",
        /// Removed by its owner (kept while an issued dossier holds it).
        Withdrawn = "withdrawn",
    }
}

string_enum! {
    /// How a participant contacted the provider.
    ContactChannel {
        /// A phone hotline.
        Hotline = "hotline",
        /// An online chat.
        OnlineChat = "online_chat",
        /// Email.
        Email = "email",
        /// Inside the provider's app.
        InApp = "in_app",
        /// At a branch or office.
        InPerson = "in_person",
        /// Anything else.
        Other = "other",
    }
}

string_enum! {
    /// What a contact with the provider achieved.
    ContactOutcome {
        /// Nobody answered.
        NoAnswer = "no_answer",
        /// Something was promised.
        Promised = "promised",
        /// The request was refused.
        Refused = "refused",
        /// The problem was solved.
        Resolved = "resolved",
        /// Anything else.
        Other = "other",
    }
}

string_enum! {
    /// Where a complaint is sent.
    Channel {
        /// The provider itself.
        Provider = "provider",
        /// A consumer association (消费者协会).
        ConsumerAssociation = "consumer_association",
        /// A regulator.
        Regulator = "regulator",
        /// The media.
        Media = "media",
        /// A court.
        Court = "court",
    }
}

string_enum! {
    /// How a response period counts days.
    DueKind {
        /// Every day counts.
        Calendar = "calendar",
        /// Weekends and listed holidays are skipped.
        Working = "working",
    }
}

string_enum! {
    /// An entry in a group's timeline.
    UpdateKind {
        /// The recipient confirmed receipt.
        Acknowledgement = "acknowledgement",
        /// The recipient answered.
        Response = "response",
        /// The provider offered something.
        Offer = "offer",
        /// The provider denied the complaint.
        Denial = "denial",
        /// The recipient is stalling.
        Stall = "stall",
        /// The matter was resolved.
        Resolution = "resolution",
        /// Moved to the next channel.
        Escalation = "escalation",
        /// A note from the organisers.
        OrganiserNote = "organiser_note",
    }
}

string_enum! {
    /// A provider's answer, classified as public complaint databases do.
    ResponseClass {
        /// Still being handled.
        InProgress = "in_progress",
        /// Closed with money.
        ClosedMonetaryRelief = "closed_monetary_relief",
        /// Closed with something other than money.
        ClosedNonMonetaryRelief = "closed_non_monetary_relief",
        /// Closed with an explanation.
        ClosedExplanation = "closed_explanation",
        /// Denied.
        Denied = "denied",
        /// Not answered in time.
        Untimely = "untimely",
    }
}

string_enum! {
    /// Who sees a timeline entry.
    UpdateVisibility {
        /// Anyone.
        Public = "public",
        /// The group's participants and team.
        Participants = "participants",
    }
}

string_enum! {
    /// The recipient tier of a dossier, which decides what it discloses.
    Tier {
        /// The provider: names of consenting participants, no contacts.
        Provider = "provider",
        /// A consumer association: as the provider.
        ConsumerAssociation = "consumer_association",
        /// A regulator: names, and contacts of those who agreed to be contacted.
        Regulator = "regulator",
        /// A court: as the regulator.
        Court = "court",
        /// Anyone: numbers only.
        Public = "public",
    }
}

string_enum! {
    /// Whether a dossier version is ready.
    DossierStatus {
        /// Being built in the background.
        Building = "building",
        /// Built and signed.
        Ready = "ready",
        /// The build failed; see the reason.
        Failed = "failed",
    }
}

string_enum! {
    /// Where an outbox row stands.
    OutboxStatus {
        /// Waiting to be sent (or retried).
        Pending = "pending",
        /// Accepted by the relay.
        Sent = "sent",
        /// Given up on.
        Failed = "failed",
    }
}

string_enum! {
    /// Where a background job stands.
    JobStatus {
        /// Waiting for its time (or for a retry).
        Queued = "queued",
        /// Held by an instance until its lease runs out.
        Running = "running",
        /// Finished.
        Done = "done",
        /// Out of attempts; kept with its last error for administrators.
        Failed = "failed",
    }
}

string_enum! {
    /// Whether an account may be used.
    UserStatus {
        /// In use.
        Active = "active",
        /// Suspended by an admin.
        Suspended = "suspended",
    }
}

string_enum! {
    /// What a single-use email token is for.
    TokenPurpose {
        /// Confirms an email address.
        VerifyEmail = "verify_email",
        /// Sets a new password.
        PasswordReset = "password_reset",
    }
}

string_enum! {
    /// What sort of company a provider is.
    ProviderKind {
        /// A digital wallet or payment app.
        DigitalWallet = "digital_wallet",
        /// A bank.
        Bank = "bank",
        /// An online shop or marketplace.
        ECommerce = "e_commerce",
        /// A payment processor.
        PaymentProcessor = "payment_processor",
        /// Consumer credit (白条 and the like).
        ConsumerCredit = "consumer_credit",
        /// A telecom operator.
        Telecom = "telecom",
        /// Anything else.
        Other = "other",
    }
}

string_enum! {
    /// A role in a group's team, from least to most powerful (the derived order).
    Role {
        /// Moderates the roster.
        Moderator = "moderator",
        /// Runs the group: statement, updates, submissions, dossiers.
        Organiser = "organiser",
        /// Created or was handed the group; may transfer it.
        Owner = "owner",
    }
}

string_enum! {
    /// The roles an invitation may offer (ownership is transferred, never invited).
    InvitedRole {
        /// A co-organiser.
        Organiser = "organiser",
        /// A moderator.
        Moderator = "moderator",
    }
}

string_enum! {
    /// How often a user wants progress emails.
    DigestMode {
        /// An email for each provider response.
        Immediate = "immediate",
        /// One digest a day.
        Daily = "daily",
        /// One digest a week.
        Weekly = "weekly",
        /// None.
        Off = "off",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: serde::Serialize + ActiveEnum<Value = String> + Copy>(all: Vec<T>) {
        for v in all {
            let json = serde_json::to_value(v).expect("serialises");
            assert_eq!(
                json,
                serde_json::Value::String(v.to_value()),
                "serde and database agree"
            );
        }
    }

    #[test]
    fn json_and_stored_values_are_the_same_strings() {
        check(Category::all());
        check(GroupStatus::all());
        check(GroupOutcome::all());
        check(Visibility::all());
        check(ParticipationStatus::all());
        check(ParticipantOutcome::all());
        check(EvidenceKind::all());
        check(EvidenceStatus::all());
        check(ContactChannel::all());
        check(ContactOutcome::all());
        check(Channel::all());
        check(DueKind::all());
        check(UpdateKind::all());
        check(ResponseClass::all());
        check(UpdateVisibility::all());
        check(Tier::all());
        check(DossierStatus::all());
        check(OutboxStatus::all());
        check(JobStatus::all());
        check(UserStatus::all());
        check(TokenPurpose::all());
        check(ProviderKind::all());
        check(Role::all());
        check(InvitedRole::all());
        check(DigestMode::all());
    }

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Moderator < Role::Organiser && Role::Organiser < Role::Owner);
    }
}
