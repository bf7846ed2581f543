//! Inquiries (domain.md §2.6): a customer opens the partner channel's 1:1 chat (1:1 톡 문의)
//! from a reservation or a product only when the channel has 1:1 chat on and does not run a
//! chatbot together with it; a partner's consult request (톡보내기) about a reservation sends
//! the customer a consult-request message, and the conversation opens only when the customer
//! accepts. The chat itself belongs to the channel platform.
use yeyak_kit::command::Aggregate;
use yeyak_proto::notifications::events::v1::{
    ChannelSettingsLearned, ConsultAccepted, ConsultRequested,
};

use super::NotificationsError;

yeyak_kit::event_set! {
    /// What happens on a partner's channel file.
    pub enum ChannelEvent {
        Learned(ChannelSettingsLearned),
    }
}

/// The partner's channel as the catalog last recorded it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelFile {
    pub settings: Option<ChannelSettingsLearned>,
}

impl ChannelFile {
    pub fn evolve(&mut self, event: ChannelEvent) {
        let ChannelEvent::Learned(e) = event;
        self.settings = Some(e);
    }
}

/// Whether the partner's channel takes 1:1 chats; the refusal says what the partner must
/// change.
pub fn chat_open(channel: &ChannelFile) -> Result<&ChannelSettingsLearned, NotificationsError> {
    let settings = channel
        .settings
        .as_ref()
        .ok_or(NotificationsError::ChannelNotKnown)?;
    if !settings.one_to_one_chat {
        return Err(NotificationsError::OneToOneChatOff);
    }
    if settings.chatbot_with_chat {
        return Err(NotificationsError::ChatbotWithChat);
    }
    Ok(settings)
}

/// What a consult request is about (톡보내기: usage or cancellation of a reservation).
pub const CONSULT_TOPICS: &[&str] = &["usage", "cancellation"];

yeyak_kit::event_set! {
    /// What happens on a consult request's stream.
    pub enum ConsultEvent {
        Requested(ConsultRequested),
        Accepted(ConsultAccepted),
    }
}

/// A consult request as its stream folds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consult {
    pub requested: Option<ConsultRequested>,
    pub accepted: bool,
}

/// What a consult request is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsultCommand {
    /// The partner asks; the channel must take 1:1 chats.
    Request(ConsultRequested),
    /// The customer accepts: the conversation opens.
    Accept { customer_id: String },
}

impl Aggregate for Consult {
    type Event = ConsultEvent;
    type Command = ConsultCommand;
    /// The partner's channel.
    type Context = ChannelFile;
    type Decision = Vec<ConsultEvent>;
    type Error = NotificationsError;

    fn evolve(&mut self, event: ConsultEvent) {
        match event {
            ConsultEvent::Requested(e) => self.requested = Some(e),
            ConsultEvent::Accepted(_) => self.accepted = true,
        }
    }

    fn decide(
        &self,
        command: ConsultCommand,
        channel: &ChannelFile,
    ) -> Result<Vec<ConsultEvent>, NotificationsError> {
        match command {
            ConsultCommand::Request(_) if self.requested.is_some() => Ok(vec![]),
            ConsultCommand::Request(r) => {
                if !CONSULT_TOPICS.contains(&r.topic.as_str()) {
                    return Err(NotificationsError::UnknownConsultTopic(r.topic));
                }
                chat_open(channel)?;
                Ok(vec![r.into()])
            }
            ConsultCommand::Accept { customer_id } => {
                let requested = self
                    .requested
                    .as_ref()
                    .ok_or(NotificationsError::ConsultNotFound)?;
                if requested.customer_id != customer_id {
                    return Err(NotificationsError::NotTheCustomer);
                }
                if self.accepted {
                    return Ok(vec![]);
                }
                Ok(vec![
                    ConsultAccepted {
                        consult_id: requested.consult_id.clone(),
                        customer_id,
                    }
                    .into(),
                ])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use yeyak_kit::command::testing::given;

    use super::*;

    fn channel(one_to_one_chat: bool, chatbot_with_chat: bool) -> ChannelFile {
        ChannelFile {
            settings: Some(ChannelSettingsLearned {
                partner_id: "p".into(),
                channel_id: "_seoultable".into(),
                one_to_one_chat,
                chatbot_with_chat,
            }),
        }
    }

    fn request(topic: &str) -> ConsultCommand {
        ConsultCommand::Request(ConsultRequested {
            consult_id: "k".into(),
            partner_id: "p".into(),
            reservation_id: "r".into(),
            customer_id: "c".into(),
            operator_id: "o".into(),
            topic: topic.into(),
            ..Default::default()
        })
    }

    #[test]
    fn an_inquiry_needs_one_to_one_chat_on_and_no_chatbot_with_it() {
        assert!(chat_open(&channel(true, false)).is_ok());
        assert_eq!(
            chat_open(&channel(false, false)),
            Err(NotificationsError::OneToOneChatOff)
        );
        assert_eq!(
            chat_open(&channel(true, true)),
            Err(NotificationsError::ChatbotWithChat)
        );
        assert_eq!(
            chat_open(&ChannelFile::default()),
            Err(NotificationsError::ChannelNotKnown)
        );
    }

    #[test]
    fn a_consult_request_needs_the_chat_and_a_known_topic() {
        given::<Consult>([])
            .when(request("usage"), &channel(false, false))
            .then_refused(NotificationsError::OneToOneChatOff);
        given::<Consult>([])
            .when(request("weather"), &channel(true, false))
            .then_refused(NotificationsError::UnknownConsultTopic("weather".into()));
        let then = given::<Consult>([]).when(request("cancellation"), &channel(true, false));
        assert!(then.then_state().requested.is_some() && !then.then_state().accepted);
    }

    #[test]
    fn the_conversation_opens_only_when_the_customer_it_was_sent_to_accepts() {
        let ConsultCommand::Request(requested) = request("usage") else {
            unreachable!()
        };
        let asked = [ConsultEvent::Requested(requested)];
        given::<Consult>(asked.clone())
            .when(
                ConsultCommand::Accept {
                    customer_id: "someone-else".into(),
                },
                &ChannelFile::default(),
            )
            .then_refused(NotificationsError::NotTheCustomer);
        let then = given::<Consult>(asked).when(
            ConsultCommand::Accept {
                customer_id: "c".into(),
            },
            &ChannelFile::default(),
        );
        assert!(then.then_state().accepted);
        given::<Consult>([])
            .when(
                ConsultCommand::Accept {
                    customer_id: "c".into(),
                },
                &ChannelFile::default(),
            )
            .then_refused(NotificationsError::ConsultNotFound);
    }
}
