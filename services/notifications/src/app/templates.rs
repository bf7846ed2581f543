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

/// Registers (or registers anew) a template; answers it as decided.
pub struct RegisterTemplate {
    pub code: String,
    pub text: String,
}

/// Records the provider's review of a template; answers it as decided.
pub struct ReviewTemplate {
    pub code: String,
    pub approved: bool,
    pub reason: String,
}

fn decided(
    code: &str,
    template: Template,
    command: TemplateCommand,
) -> Result<Decision<Template>, Failed> {
    let events = template.decide(command, &()).map_err(Error::Refused)?;
    let mut after = template;
    for e in &events {
        after.evolve(e.clone());
    }
    Ok(Decision::new(after).emit_all(streams::template(code), events))
}

#[async_trait::async_trait]
impl Command for RegisterTemplate {
    type State = Template;
    type Output = Template;
    type Error = NotificationsError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Template, Failed> {
        crate::domain::template::valid_code(&self.code).map_err(Error::Refused)?;
        Ok(reads.aggregate(&streams::template(&self.code)).await?)
    }

    fn decide(&self, template: Template, _: i64) -> Result<Decision<Template>, Failed> {
        let command = TemplateCommand::Register {
            code: self.code.clone(),
            text: self.text.clone(),
        };
        decided(&self.code, template, command)
    }
}

#[async_trait::async_trait]
impl Command for ReviewTemplate {
    type State = Template;
    type Output = Template;
    type Error = NotificationsError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Template, Failed> {
        crate::domain::template::valid_code(&self.code).map_err(Error::Refused)?;
        Ok(reads.aggregate(&streams::template(&self.code)).await?)
    }

    fn decide(&self, template: Template, _: i64) -> Result<Decision<Template>, Failed> {
        let command = TemplateCommand::Review {
            approved: self.approved,
            reason: self.reason.clone(),
        };
        decided(&self.code, template, command)
    }
}

/// Registers the built-in templates that are not registered yet; with `approve` (the embedded
/// default and tests, where no provider reviews them), approves those waiting for review.
/// Deriving each request from the template's text makes every start the same request.
pub async fn register_built_in(runner: &Runner, approve: bool) -> Result<(), Failed> {
    const ACTOR: &str = "notifications-built-in-templates";
    for (code, text) in BUILT_IN {
        let register = RegisterTemplate {
            code: code.to_string(),
            text: text.to_string(),
        };
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
            let review = ReviewTemplate {
                code: code.to_string(),
                approved: true,
                reason: String::new(),
            };
            let id = derived_id(ACTOR, &format!("approve/{code}/{text}"), 0);
            runner
                .run(&Origin::command(ACTOR, id, text.as_bytes()), &review)
                .await?;
        }
    }
    Ok(())
}
