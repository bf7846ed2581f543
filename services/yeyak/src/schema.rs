//! `yeyak schema`: the event stream's contract, machine-readable — each topic's message types
//! (the public facts, and the services' internal bookkeeping marked as such), its key, headers,
//! ordering and delivery guarantee — and the descriptor set of every event schema
//! (`--descriptor-set FILE`), what a consumer decodes the values with. `schema/contract.json`
//! is this command's output, kept in step by a test. The schemas mark the same messages
//! internal, with the same words (the `yeyak.events.v1.internal` message option, also checked
//! by a test).
use serde_json::{Value, json};
use yeyak_kit::config::BoxError;

/// A message type a topic carries: public, or internal bookkeeping consumers should ignore.
pub struct Carried {
    pub message: &'static str,
    pub internal: Option<&'static str>,
}

const fn public(message: &'static str) -> Carried {
    Carried {
        message,
        internal: None,
    }
}

const fn internal(message: &'static str, why: &'static str) -> Carried {
    Carried {
        message,
        internal: Some(why),
    }
}

/// One service's topic.
pub struct TopicContract {
    pub service: &'static str,
    pub package: &'static str,
    pub key: &'static str,
    pub carries: &'static [Carried],
}

const OPERATORS: Carried = internal(
    "yeyak.access.v1.OperatorRecorded",
    "the service's mirror of the catalog's operators (the catalog's own facts are public)",
);
const DEAD_LETTERS: Carried = internal(
    yeyak_transport::DEAD_LETTER_TYPE,
    "an event one of the service's consumers set aside (text headers, then the original payload)",
);

/// Every topic, by owning service.
pub const TOPICS: [TopicContract; 4] = [
    TopicContract {
        service: "catalog",
        package: "yeyak.catalog.events.v1",
        key: "partner-<uuid>, place-<uuid>, product-<uuid>, product-bookings-<uuid>",
        carries: &[
            public("PartnerRegistered"),
            public("ChannelHomeCardInstalled"),
            public("ChannelCustomMenuInstalled"),
            public("ChannelSettingsRecorded"),
            public("OperatorInvited"),
            public("OperatorAccepted"),
            public("SellerVerificationRecorded"),
            public("PlaceRegistered"),
            public("PlaceSubmitted"),
            public("PlaceApproved"),
            public("PlaceRejected"),
            public("PlacePaused"),
            public("PlaceResumed"),
            public("ProductsReordered"),
            public("ProductRegistered"),
            public("ProductEdited"),
            public("ProductSubmitted"),
            public("ProductApproved"),
            public("ProductRejected"),
            public("ProductRevisionSubmitted"),
            public("ProductRevisionRejected"),
            public("ProductSanctioned"),
            public("ProductStatusSet"),
            public("SchedulesAdded"),
            public("CapacityChanged"),
            public("VisibilitySet"),
            public("ProductDeleted"),
            internal(
                "ReservationTracked",
                "the catalog's mirror of the reservations (the reservations' facts are public)",
            ),
            DEAD_LETTERS,
        ],
    },
    TopicContract {
        service: "reservations",
        package: "yeyak.reservations.events.v1",
        key: "reservation-<uuid>, inventory-<key>, payment-<uuid>, partner settings, …",
        carries: &[
            public("ReservationBooked"),
            public("ReservationConfirmed"),
            public("ReservationRejected"),
            public("ReservationCancelled"),
            public("ReservationLinesCancelled"),
            public("ReservationCompleted"),
            public("ReservationExpired"),
            public("ReservationPaymentCancelled"),
            public("NoShowMarked"),
            public("PaymentCaptured"),
            public("RefundRequested"),
            public("PaymentRefunded"),
            public("RefundFailed"),
            public("RefundCreditedAsBalance"),
            public("InventoryOpened"),
            public("InventoryCapacityChanged"),
            public("InventoryReserved"),
            public("InventoryReleased"),
            public("PoolCapacitySet"),
            public("DefaultRejectTextSet"),
            public("CompletionCodeSet"),
            internal(
                "ProductTerms",
                "the reservations' copy of a product's terms (the catalog's ProductApproved is the fact)",
            ),
            internal(
                "ProductAvailabilityChanged",
                "the reservations' copy of a product's status (the catalog's facts are public)",
            ),
            internal(
                "PlaceAvailabilityChanged",
                "the reservations' copy of a place's status (the catalog's facts are public)",
            ),
            internal(
                "ScheduledWork",
                "the scheduler's buckets of time rules to apply",
            ),
            internal(
                "DueBucketDone",
                "the scheduler's record of a bucket it applied",
            ),
            OPERATORS,
            DEAD_LETTERS,
        ],
    },
    TopicContract {
        service: "notifications",
        package: "yeyak.notifications.events.v1",
        key: "message-<uuid>, messages-<partner>, template-<code>, …",
        carries: &[
            public("MessageQueued"),
            public("MessageHeld"),
            public("MessageAttemptStarted"),
            public("MessageSent"),
            public("MessageDelivered"),
            public("MessageAttemptFailed"),
            public("MessageGaveUp"),
            public("MessageWithdrawn"),
            public("MessageRetryRequested"),
            public("TemplateRegistered"),
            public("TemplateReviewed"),
            public("PartnerMessageRecorded"),
            public("PartnerPreferencesChanged"),
            internal(
                "ReservationNoted",
                "the notifications' file of a reservation (the reservations' facts are public)",
            ),
            internal(
                "ReservationAnswered",
                "the notifications' file of a reservation",
            ),
            internal(
                "ReservationClosed",
                "the notifications' file of a reservation",
            ),
            internal(
                "ProductNoted",
                "what the notifications keep of a product for its messages (the catalog's facts are public)",
            ),
            internal(
                "ChannelSettingsLearned",
                "the notifications' copy of a partner's channel settings (the catalog's facts are public)",
            ),
            OPERATORS,
            DEAD_LETTERS,
        ],
    },
    TopicContract {
        service: "settlement",
        package: "yeyak.settlement.events.v1",
        key: "account-<reservation>, ledger-<partner>, seller-<partner>, batch-<date>",
        carries: &[
            public("LedgerEntryRecorded"),
            public("EntriesPosted"),
            public("DaySettled"),
            public("PayoutInstructed"),
            public("PayoutTransferred"),
            public("PayoutFailed"),
            public("PayoutHeld"),
            public("PayoutReleased"),
            public("PayoutHoldSet"),
            public("BalanceDeposited"),
            public("BalanceWithdrawn"),
            public("SettlementInfoSubmitted"),
            public("KycReviewed"),
            public("SellerStatusChanged"),
            public("PayoutBatchRun"),
            public("SettlementLineRecorded"),
            OPERATORS,
            DEAD_LETTERS,
        ],
    },
];

impl TopicContract {
    /// The fully qualified names this topic carries.
    pub fn types(&self) -> impl Iterator<Item = (String, &Carried)> {
        self.carries.iter().map(|c| {
            let name = if c.message.contains('.') {
                c.message.to_string()
            } else {
                format!("{}.{}", self.package, c.message)
            };
            (name, c)
        })
    }
}

/// The headers every record carries (CloudEvents 1.0, binary mode).
const HEADERS: [(&str, &str); 14] = [
    ("ce_specversion", "1.0"),
    ("ce_id", "the event id (UUID): dedupe on it"),
    (
        "ce_type",
        "the fully qualified protobuf message name of the value",
    ),
    ("ce_source", "/yeyak/<service>"),
    ("ce_subject", "the stream id (the key)"),
    ("ce_time", "when the fact happened (RFC 3339, UTC)"),
    ("content-type", "application/protobuf"),
    (
        "ce_streamversion",
        "the event's 1-based version in its stream",
    ),
    (
        "ce_position",
        "its position in the producing log (commit order)",
    ),
    ("ce_commit", "its commit in the producing log"),
    ("ce_schemaversion", "the payload's schema version"),
    ("ce_recordedtime", "when the log recorded it"),
    (
        "ce_correlationid, ce_causationid, ce_actor",
        "the request that caused it, the event that caused it, who",
    ),
    (
        "traceparent",
        "W3C trace context of the request, when traced",
    ),
];

/// The contract as JSON.
pub fn contract() -> Value {
    let topics: Vec<Value> = TOPICS
        .iter()
        .map(|t| {
            let topic = format!("yeyak.{}.v1", t.service);
            json!({
                "topic": topic,
                "owner": t.service,
                "key": format!("the stream id ({})", t.key),
                "value": "the protobuf message named by ce_type, in the published descriptor set",
                "ordering": "per key: a stream's events in its log's commit order, on one partition",
                "delivery": "at least once: dedupe on ce_id; nothing uncommitted is published, nothing committed is skipped",
                "dead_letter_topic": format!("{topic}.dlq"),
                "retention": "at least 7 days (retention.ms=604800000)",
                "messages": t.types().map(|(name, c)| match c.internal {
                    None => json!({ "type": name, "internal": false }),
                    Some(why) => json!({ "type": name, "internal": true, "why": why }),
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "contract": "yeyak event stream",
        "version": 1,
        "headers": HEADERS.iter().map(|(h, m)| json!({ "name": h, "meaning": m })).collect::<Vec<_>>(),
        "evolution": "fields are only added; a number is never reused; a change of meaning is a new message or a new ce_schemaversion; ignore types you do not know",
        "topics": topics,
    })
}

#[derive(clap::Args, Debug)]
pub struct SchemaArgs {
    /// Also write the event schemas' descriptor set (a `FileDescriptorSet`, protobuf) here.
    #[arg(long)]
    pub descriptor_set: Option<std::path::PathBuf>,
}

/// Prints the contract; writes the descriptor set when asked.
pub fn run(args: &SchemaArgs, out: &mut impl std::io::Write) -> Result<(), BoxError> {
    if let Some(path) = &args.descriptor_set {
        std::fs::write(path, yeyak_proto::FILE_DESCRIPTOR_SET)?;
    }
    writeln!(out, "{}", serde_json::to_string_pretty(&contract())?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_the_contract_names_is_in_the_published_schemas() {
        let pool = prost_reflect::DescriptorPool::decode(yeyak_proto::FILE_DESCRIPTOR_SET)
            .expect("descriptors");
        for topic in &TOPICS {
            for (name, _) in topic.types() {
                if name == yeyak_transport::DEAD_LETTER_TYPE {
                    continue;
                }
                assert!(
                    pool.get_message_by_name(&name).is_some(),
                    "{name} is not a published message"
                );
            }
        }
    }

    /// The schemas mark internal exactly what the contract marks, with the same words (the
    /// `yeyak.events.v1.internal` message option), and nothing the contract calls public.
    #[test]
    fn the_schemas_mark_internal_what_the_contract_marks_internal() {
        let pool = prost_reflect::DescriptorPool::decode(yeyak_proto::FILE_DESCRIPTOR_SET)
            .expect("descriptors");
        let option = pool
            .get_extension_by_name("yeyak.events.v1.internal")
            .expect("the internal option is published");
        let mut marked = 0;
        for topic in &TOPICS {
            for (name, carried) in topic.types() {
                let Some(message) = pool.get_message_by_name(&name) else {
                    continue;
                };
                let options = message.options();
                let why = options
                    .has_extension(&option)
                    .then(|| options.get_extension(&option).as_str().map(str::to_string))
                    .flatten();
                assert_eq!(
                    why.as_deref(),
                    carried.internal,
                    "{name}: the schema and the contract disagree"
                );
                marked += usize::from(why.is_some());
            }
        }
        assert!(marked >= 12, "only {marked} messages marked internal");
    }

    #[test]
    fn the_committed_contract_is_what_yeyak_schema_prints() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/contract.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        let mut printed = Vec::new();
        run(
            &SchemaArgs {
                descriptor_set: None,
            },
            &mut printed,
        )
        .expect("printed");
        assert_eq!(
            committed,
            String::from_utf8(printed).expect("text"),
            "schema/contract.json is stale: run `cargo run -p yeyak -- schema > schema/contract.json`"
        );
    }
}
