//! The notifications' application layer: which streams each command reads and writes, handed
//! to the kit's command runner ([`commands`]); the queries ([`Notifications`]); the consumer
//! that tells partners of their reservations ([`consumer`]).
pub mod channels;
pub mod commands;
pub mod consumer;
pub mod inquiries;
pub mod listing;
pub mod planning;
pub mod sending;
pub mod streams;
pub mod templates;

use std::sync::Arc;

use uuid::Uuid;
use yeyak_eventlog::EventStore;
use yeyak_kit::{
    access::load_operators,
    auth::Caller,
    clock::SharedClock,
    command::{self, Aggregate, Origin, Ran, Reads, Runner, decode_strict},
    events::LoadError,
};
use yeyak_proto::notifications::events::v1::PartnerMessageRecorded;

pub use commands::{ChangeMessage, SetPreferences, Switches};

use crate::domain::{NotificationsError, access, messages::MessageEvent, preferences::Preferences};

/// Why a notifications command or query did not complete.
pub type Error = command::Error<NotificationsError>;

/// A message as listed: what was recorded, and when the log stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub message: PartnerMessageRecorded,
    pub recorded_at_us: i64,
}

/// The notifications over their own event log.
#[derive(Clone)]
pub struct Notifications {
    runner: Runner,
}

impl Notifications {
    /// Event ids of the notifications' commands and reactions derive within this namespace.
    pub const NAMESPACE: &'static str = crate::SOURCE;

    pub fn new(log: Arc<dyn EventStore>, clock: SharedClock) -> Self {
        Self {
            runner: Runner::new(log, clock, Self::NAMESPACE),
        }
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    fn log(&self) -> &dyn EventStore {
        &**self.runner.log()
    }

    /// Runs a preference change for `origin`; answers with the preferences it decided.
    pub async fn set_preferences(
        &self,
        origin: &Origin,
        command: &SetPreferences,
    ) -> Result<Preferences, Error> {
        match self.runner.run(origin, command).await? {
            Ran::Decided(preferences, _) => Ok(preferences),
            // A retry answers as its first run did: each change is the partner's whole choice.
            Ran::Replayed(appended) => {
                let mut preferences = Preferences::default();
                for a in appended {
                    if let Some(e) = self.log().event_by_id(a.event_id).await? {
                        preferences.evolve(decode_strict(&e).map_err(LoadError::from)?);
                    }
                }
                Ok(preferences)
            }
        }
    }

    /// The partner's preferences in force at `at_us`: the changes made (by the business clock)
    /// until then. Any active operator of the partner reads them.
    pub async fn preferences_at(
        &self,
        caller: &Caller,
        partner_id: Uuid,
        at_us: i64,
    ) -> Result<Preferences, Error> {
        let partner = partner_id.to_string();
        let mut reads = Reads::new(self.log());
        let operators = load_operators(&mut reads, &partner).await?;
        access::may_list_messages(caller, &partner, operators.as_ref())?;
        let stream = streams::preferences(partner_id);
        let (changes, _) = command::fold_stream(self.log(), &stream, Vec::new(), |out, e| {
            let crate::domain::preferences::PreferencesEvent::Changed(c) = decode_strict(e)?;
            out.push((e.metadata.occurred_at_us, c));
            Ok(())
        })
        .await?;
        Ok(crate::domain::preferences::in_force_at(
            changes.iter().map(|(at, c)| (*at, c)),
            at_us,
        ))
    }

    /// Runs a template change; answers the template as decided (as it is, on a retry).
    pub async fn change_template(
        &self,
        origin: &Origin,
        command: &templates::ChangeTemplate,
    ) -> Result<crate::domain::template::Template, Error> {
        match self.runner.run(origin, command).await? {
            Ran::Decided(template, _) => Ok(template),
            Ran::Replayed(_) => self.template(&command.code).await,
        }
    }

    /// A template as it is.
    pub async fn template(&self, code: &str) -> Result<crate::domain::template::Template, Error> {
        crate::domain::template::valid_code(code).map_err(Error::Refused)?;
        let (template, _) = command::aggregate::<crate::domain::template::Template>(
            self.log(),
            &streams::template(code),
        )
        .await?;
        if !template.is_registered() {
            return Err(Error::Refused(NotificationsError::TemplateNotFound));
        }
        Ok(template)
    }

    /// Opens an inquiry; a retry answers the inquiry first opened.
    pub async fn open_inquiry(
        &self,
        origin: &Origin,
        command: &inquiries::OpenInquiry,
    ) -> Result<yeyak_proto::notifications::events::v1::InquiryOpened, Error> {
        match self.runner.run(origin, command).await? {
            Ran::Decided(opened, _) => Ok(opened),
            Ran::Replayed(appended) => self.first_of(&appended).await,
        }
    }

    /// Requests a consult; answers the request and its message's id.
    pub async fn request_consult(
        &self,
        origin: &Origin,
        command: &inquiries::RequestConsult,
    ) -> Result<
        (
            yeyak_proto::notifications::events::v1::ConsultRequested,
            String,
        ),
        Error,
    > {
        match self.runner.run(origin, command).await? {
            Ran::Decided(out, _) => Ok(out),
            Ran::Replayed(appended) => {
                let requested: yeyak_proto::notifications::events::v1::ConsultRequested =
                    self.first_of(&appended).await?;
                let key = format!("consult-request:{}:customer", requested.consult_id);
                Ok((requested, crate::domain::rules::message_id(&key)))
            }
        }
    }

    /// Accepts a consult request; answers it as it is after.
    pub async fn accept_consult(
        &self,
        origin: &Origin,
        command: &inquiries::AcceptConsult,
    ) -> Result<crate::domain::inquiry::Consult, Error> {
        match self.runner.run(origin, command).await? {
            Ran::Decided(consult, _) => Ok(consult),
            Ran::Replayed(_) => Ok(command::aggregate::<crate::domain::inquiry::Consult>(
                self.log(),
                &streams::consult(&command.consult_id.to_string()),
            )
            .await?
            .0),
        }
    }

    /// The first event a replayed command appended, as `M`.
    async fn first_of<M: prost::Message + prost::Name + Default>(
        &self,
        appended: &[yeyak_eventlog::AppendedEvent],
    ) -> Result<M, Error> {
        for a in appended {
            if let Some(e) = self.log().event_by_id(a.event_id).await?
                && let Some(m) = yeyak_kit::events::decode_as::<M>(&e).map_err(LoadError::from)?
            {
                return Ok(m);
            }
        }
        Err(Error::Load(LoadError::from(
            yeyak_kit::events::DecodeError::UnknownType(M::full_name(), 0),
        )))
    }

    /// Runs a change of a message (an operations retry, a delivery report) for `caller`;
    /// answers the message as it is after.
    pub async fn change_message(
        &self,
        caller: &Caller,
        origin: &Origin,
        command: &ChangeMessage,
    ) -> Result<listing::Listed, Error> {
        self.runner.run(origin, command).await?;
        self.message(caller, command.message_id).await
    }

    /// The partner's messages the caller may see, oldest first, a page at a time: `limit` of the
    /// stream's events after the token's version. Any active operator lists them; one granted
    /// some places sees only the messages of those places (so its pages may come up short; the
    /// token says whether more follow).
    pub async fn messages(
        &self,
        caller: &Caller,
        partner_id: Uuid,
        (limit, after): (u32, Option<(i64, String)>),
    ) -> Result<(Vec<Listed>, Option<(i64, String)>), Error> {
        let partner = partner_id.to_string();
        let mut reads = Reads::new(self.log());
        let operators = load_operators(&mut reads, &partner).await?;
        access::may_list_messages(caller, &partner, operators.as_ref())?;
        let stream = streams::messages(partner_id);
        // A page is a run of the stream's versions: the token is the last version read.
        let from = after.map_or(1, |(version, _)| version.max(0) as u64 + 1);
        let events = self
            .log()
            .read_stream(&stream, from, limit as usize)
            .await
            .map_err(|e| Error::Load(e.into()))?;
        let next = (events.len() == limit as usize)
            .then(|| {
                events
                    .last()
                    .map(|e| (e.stream_version as i64, String::new()))
            })
            .flatten();
        let mut listed = Vec::with_capacity(events.len());
        for e in &events {
            let MessageEvent::Recorded(message) =
                decode_strict(e).map_err(|e| Error::Load(e.into()))?;
            listed.push(Listed {
                message,
                recorded_at_us: e.recorded_at_us,
            });
        }
        let seen = listed
            .into_iter()
            .filter(|l| access::sees(caller, &partner, operators.as_ref(), &l.message))
            .collect();
        Ok((seen, next))
    }
}
