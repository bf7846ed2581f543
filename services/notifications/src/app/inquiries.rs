//! Inquiries through the command runner: the partners' channels and products learned from the
//! catalog ([`ChannelLearner`]); a customer's 1:1 톡 문의 ([`OpenInquiry`]); a partner's consult
//! request (톡보내기, [`RequestConsult`]) that queues the customer's consult-request message in the
//! same append, and the customer's acceptance ([`AcceptConsult`]).
use uuid::Uuid;
use yeyak_eventlog::RecordedEvent;
use yeyak_kit::{
    access::{ANY_ROLE, Scope, authorize, load_operators},
    auth::Caller,
    command::{Aggregate, Command, Decision, Error, Origin, Reads, Runner},
    events::{EventSet, derived_id},
};
use yeyak_proto::{
    catalog::events::v1::{ChannelSettingsRecorded, PartnerRegistered, ProductApproved},
    notifications::events::v1::{
        ChannelSettingsLearned, ConsultRequested, InquiryOpened, ProductNoted,
    },
};
use yeyak_transport::{EventHandler, HandlerError};

use super::streams;
use crate::domain::{
    NotificationsError,
    delivery::{DeliveryCommand, Message},
    inquiry::{ChannelEvent, ChannelFile, Consult, ConsultCommand, ConsultEvent, chat_open},
    reservation_file::ReservationFile,
    rules::consult_message,
};

type Failed = Error<NotificationsError>;

yeyak_kit::event_set! {
    /// The catalog's facts the inquiries need.
    pub enum ChannelFact {
        Registered(PartnerRegistered),
        Settings(ChannelSettingsRecorded),
        ProductApproved(ProductApproved),
    }
}

yeyak_kit::event_set! {
    /// What happens on a product's note.
    pub enum ProductEvent {
        Noted(ProductNoted),
    }
}

/// A product as noted: its partner and place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductFile {
    pub noted: Option<ProductNoted>,
}

impl ProductFile {
    fn evolve(&mut self, e: ProductEvent) {
        let ProductEvent::Noted(n) = e;
        self.noted = Some(n);
    }
}

async fn channel_of(reads: &mut Reads<'_>, partner_id: &str) -> Result<ChannelFile, Failed> {
    let stream = streams::channel(partner_id);
    Ok(reads
        .fold(&stream, ChannelFile::default(), |file, e| {
            file.evolve(yeyak_kit::command::decode_strict::<ChannelEvent>(e)?);
            Ok(())
        })
        .await?)
}

async fn product_of(reads: &mut Reads<'_>, product_id: &str) -> Result<ProductFile, Failed> {
    let stream = streams::product(product_id);
    Ok(reads
        .fold(&stream, ProductFile::default(), |file, e| {
            file.evolve(yeyak_kit::command::decode_strict::<ProductEvent>(e)?);
            Ok(())
        })
        .await?)
}

/// Records what the catalog said of a partner's channel or a product.
struct Learn {
    fact: ChannelFact,
}

#[async_trait::async_trait]
impl Command for Learn {
    type State = (ChannelFile, ProductFile);
    type Output = ();
    type Error = NotificationsError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Self::State, Failed> {
        match &self.fact {
            ChannelFact::ProductApproved(p) => Ok((
                ChannelFile::default(),
                product_of(reads, &p.product_id).await?,
            )),
            ChannelFact::Registered(e) => Ok((
                channel_of(reads, &e.partner_id).await?,
                ProductFile::default(),
            )),
            ChannelFact::Settings(e) => Ok((
                channel_of(reads, &e.partner_id).await?,
                ProductFile::default(),
            )),
        }
    }

    fn decide(&self, (channel, product): Self::State, _: i64) -> Result<Decision<()>, Failed> {
        let current = channel.settings.clone().unwrap_or_default();
        Ok(match &self.fact {
            ChannelFact::ProductApproved(p) if product.noted.is_none() => Decision::new(()).emit(
                streams::product(&p.product_id),
                &ProductEvent::Noted(ProductNoted {
                    product_id: p.product_id.clone(),
                    partner_id: p.partner_id.clone(),
                    place_id: p.place_id.clone(),
                }),
            ),
            ChannelFact::ProductApproved(_) => Decision::new(()),
            ChannelFact::Registered(e) => Decision::new(()).emit(
                streams::channel(&e.partner_id),
                &ChannelEvent::Learned(ChannelSettingsLearned {
                    partner_id: e.partner_id.clone(),
                    channel_id: e.channel_id.clone(),
                    ..current
                }),
            ),
            ChannelFact::Settings(e) => Decision::new(()).emit(
                streams::channel(&e.partner_id),
                &ChannelEvent::Learned(ChannelSettingsLearned {
                    partner_id: e.partner_id.clone(),
                    one_to_one_chat: e.one_to_one_chat,
                    chatbot_with_chat: e.chatbot_with_chat,
                    ..current
                }),
            ),
        })
    }
}

/// Learns the partners' channels and the products' partners from the catalog's events.
pub struct ChannelLearner {
    runner: Runner,
}

impl ChannelLearner {
    pub const NAME: &'static str = "notifications-channels";

    pub fn new(runner: Runner) -> Self {
        Self { runner }
    }
}

#[async_trait::async_trait]
impl EventHandler for ChannelLearner {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Some(fact) =
            ChannelFact::decode(event).map_err(|e| HandlerError::Poison(e.to_string()))?
        else {
            return Ok(());
        };
        self.runner
            .run(&Origin::reaction(Self::NAME, event), &Learn { fact })
            .await?;
        Ok(())
    }
}

/// A customer opens the partner channel's 1:1 chat about a reservation of theirs or a product.
pub struct OpenInquiry {
    pub caller: Caller,
    pub request_id: Uuid,
    pub reservation_id: Option<Uuid>,
    pub product_id: Option<Uuid>,
}

#[async_trait::async_trait]
impl Command for OpenInquiry {
    type State = (String, ChannelFile);
    type Output = InquiryOpened;
    type Error = NotificationsError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Self::State, Failed> {
        let not_found = || Error::Refused(NotificationsError::ReservationNotFound);
        let partner_id = if let Some(r) = self.reservation_id {
            let file: ReservationFile = reads
                .aggregate(&streams::reservation(&r.to_string()))
                .await?;
            let noted = file.noted.ok_or_else(not_found)?;
            if noted.customer_id != self.caller.subject {
                return Err(not_found());
            }
            noted.partner_id
        } else if let Some(p) = self.product_id {
            product_of(reads, &p.to_string())
                .await?
                .noted
                .ok_or(Error::Refused(NotificationsError::ProductNotFound))?
                .partner_id
        } else {
            return Err(not_found());
        };
        let channel = channel_of(reads, &partner_id).await?;
        Ok((partner_id, channel))
    }

    fn decide(
        &self,
        (partner_id, channel): Self::State,
        _: i64,
    ) -> Result<Decision<InquiryOpened>, Failed> {
        let settings = chat_open(&channel).map_err(Error::Refused)?;
        let inquiry_id = derived_id(
            "inquiry",
            &format!("{}/{}", self.caller.actor(), self.request_id),
            0,
        )
        .to_string();
        let opened = InquiryOpened {
            inquiry_id: inquiry_id.clone(),
            partner_id,
            customer_id: self.caller.subject.clone(),
            reservation_id: self
                .reservation_id
                .map(|r| r.to_string())
                .unwrap_or_default(),
            product_id: self.product_id.map(|p| p.to_string()).unwrap_or_default(),
            channel_id: settings.channel_id.clone(),
        };
        Ok(Decision::new(opened.clone())
            .emit(streams::inquiry(&inquiry_id), &InquiryEvent::Opened(opened)))
    }
}

yeyak_kit::event_set! {
    /// What happens on an inquiry's stream.
    pub enum InquiryEvent {
        Opened(InquiryOpened),
    }
}

/// A partner asks the customer of a reservation to talk; the consult-request message is queued
/// in the same append.
pub struct RequestConsult {
    pub caller: Caller,
    pub request_id: Uuid,
    pub reservation_id: Uuid,
    pub topic: String,
}

/// What a consult request is decided on.
pub struct Consulting {
    file: ReservationFile,
    channel: ChannelFile,
    consult: Consult,
}

impl RequestConsult {
    /// The consult request's id: one per (caller, request).
    pub fn consult_id(&self) -> String {
        derived_id(
            "consult",
            &format!("{}/{}", self.caller.actor(), self.request_id),
            0,
        )
        .to_string()
    }
}

#[async_trait::async_trait]
impl Command for RequestConsult {
    type State = Consulting;
    type Output = (ConsultRequested, String);
    type Error = NotificationsError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Consulting, Failed> {
        let file: ReservationFile = reads
            .aggregate(&streams::reservation(&self.reservation_id.to_string()))
            .await?;
        let noted = file
            .noted
            .clone()
            .ok_or(Error::Refused(NotificationsError::ReservationNotFound))?;
        let operators = load_operators(reads, &noted.partner_id).await?;
        authorize(
            &self.caller,
            &noted.partner_id,
            Scope::Place(&noted.place_id),
            ANY_ROLE,
            operators.as_ref(),
        )?;
        let channel = channel_of(reads, &noted.partner_id).await?;
        let consult = reads
            .aggregate(&streams::consult(&self.consult_id()))
            .await?;
        Ok(Consulting {
            file,
            channel,
            consult,
        })
    }

    fn decide(
        &self,
        c: Consulting,
        now_us: i64,
    ) -> Result<Decision<(ConsultRequested, String)>, Failed> {
        let noted = c.file.noted.clone().unwrap_or_default();
        let consult_id = self.consult_id();
        let requested = ConsultRequested {
            consult_id: consult_id.clone(),
            partner_id: noted.partner_id.clone(),
            place_id: noted.place_id.clone(),
            reservation_id: noted.reservation_id.clone(),
            customer_id: noted.customer_id.clone(),
            operator_id: self.caller.subject.clone(),
            topic: self.topic.clone(),
        };
        let events = c
            .consult
            .decide(ConsultCommand::Request(requested.clone()), &c.channel)
            .map_err(Error::Refused)?;
        let message = consult_message(&consult_id, &c.file, now_us, &consult_id)
            .ok_or(Error::Refused(NotificationsError::ReservationNotFound))?;
        let message_id = message.message_id.clone();
        let mut decision = Decision::new((requested, message_id.clone()))
            .emit_all(streams::consult(&consult_id), events.clone());
        if !events.is_empty() {
            let queued = Message::default()
                .decide(DeliveryCommand::Queue(Box::new(message)), &())
                .map_err(Error::Refused)?;
            decision = decision.emit_all(streams::message(&message_id), queued);
        }
        Ok(decision)
    }
}

/// The customer accepts a consult request.
pub struct AcceptConsult {
    pub caller: Caller,
    pub consult_id: Uuid,
}

#[async_trait::async_trait]
impl Command for AcceptConsult {
    type State = Consult;
    type Output = Consult;
    type Error = NotificationsError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Consult, Failed> {
        Ok(reads
            .aggregate(&streams::consult(&self.consult_id.to_string()))
            .await?)
    }

    fn decide(&self, consult: Consult, _: i64) -> Result<Decision<Consult>, Failed> {
        let events: Vec<ConsultEvent> = consult
            .decide(
                ConsultCommand::Accept {
                    customer_id: self.caller.subject.clone(),
                },
                &ChannelFile::default(),
            )
            .map_err(Error::Refused)?;
        let after = consult.evolved(&events);
        Ok(Decision::new(after).emit_all(streams::consult(&self.consult_id.to_string()), events))
    }
}
