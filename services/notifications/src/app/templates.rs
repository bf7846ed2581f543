//! Message templates through the command runner: registered (a new text waits for review),
//! reviewed, and the built-in set registered at start.
use yeyak_kit::{
    command::{Aggregate, Command, Decision, Error, Origin, Reads, Runner},
    events::derived_id,
};

use super::streams;
use crate::domain::{
    NotificationsError,
    template::{BUILT_IN, Template, TemplateCommand},
};

type Failed = Error<NotificationsError>;

/// A change of one template (registered anew, or reviewed); answers it as decided.
pub struct ChangeTemplate {
    pub code: String,
    pub change: TemplateCommand,
}

impl ChangeTemplate {
    /// Registers (or registers anew) `code` with `text`: it waits for review.
    pub fn register(code: &str, text: &str) -> Self {
        Self {
            code: code.to_string(),
            change: TemplateCommand::Register {
                code: code.to_string(),
                text: text.to_string(),
            },
        }
    }

    /// Records the provider's review of `code`.
    pub fn review(code: &str, approved: bool, reason: &str) -> Self {
        Self {
            code: code.to_string(),
            change: TemplateCommand::Review {
                approved,
                reason: reason.to_string(),
            },
        }
    }
}

#[async_trait::async_trait]
impl Command for ChangeTemplate {
    type State = Template;
    type Output = Template;
    type Error = NotificationsError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Template, Failed> {
        crate::domain::template::valid_code(&self.code).map_err(Error::Refused)?;
        Ok(reads.aggregate(&streams::template(&self.code)).await?)
    }

    fn decide(&self, template: Template, _: i64) -> Result<Decision<Template>, Failed> {
        let events = template
            .decide(self.change.clone(), &())
            .map_err(Error::Refused)?;
        let after = template.evolved(&events);
        Ok(Decision::new(after).emit_all(streams::template(&self.code), events))
    }
}

/// Registers the built-in templates that are not registered yet; with `approve` (the embedded
/// default and tests, where no provider reviews them), approves those waiting for review.
/// Deriving each request from the template's text makes every start the same request.
pub async fn register_built_in(runner: &Runner, approve: bool) -> Result<(), Failed> {
    const ACTOR: &str = "notifications-built-in-templates";
    for (code, text) in BUILT_IN {
        let register = ChangeTemplate::register(code, text);
        let (template, _) =
            yeyak_kit::command::aggregate::<Template>(&**runner.log(), &streams::template(code))
                .await?;
        let template = if template.is_registered() {
            template
        } else {
            let id = derived_id(ACTOR, &format!("register/{code}/{text}"), 0);
            match runner
                .run(&Origin::command(ACTOR, id, text.as_bytes()), &register)
                .await?
            {
                yeyak_kit::command::Ran::Decided(t, _) => t,
                yeyak_kit::command::Ran::Replayed(_) => continue,
            }
        };
        if approve
            && template.state
                == yeyak_proto::notifications::events::v1::TemplateState::PendingReview
        {
            let review = ChangeTemplate::review(code, true, "");
            let id = derived_id(ACTOR, &format!("approve/{code}/{text}"), 0);
            runner
                .run(&Origin::command(ACTOR, id, text.as_bytes()), &review)
                .await?;
        }
    }
    Ok(())
}
