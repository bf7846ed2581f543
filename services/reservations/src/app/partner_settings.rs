//! The partner's reservation settings, each a stream of single facts: the default reject text
//! (used when a rejection gives no reason) and the 4-digit completion code (only its hash is
//! kept; it applies at once, to past reservations too). The partner's Admin sets them.
use uuid::Uuid;
use yeyak_kit::{
    access::{self, Scope, load_operators},
    auth::Caller,
    command::{Command, Decision, Error as Failed, Origin, Payload, Reads},
};
use yeyak_proto::reservations::events::v1::{CompletionCodeSet, DefaultRejectTextSet};

use super::{Error, Reservations, streams};
use crate::domain::{
    ReservationError,
    access::{OperatorAction, roles},
    completion::{code_hash, valid_code},
};

/// A partner setting: the fact, on its stream, appended once per request.
struct SetFact<'a, M> {
    caller: &'a Caller,
    partner_id: Uuid,
    stream: String,
    fact: M,
}

#[async_trait::async_trait]
impl<M: Payload + prost::Message + prost::Name + Default + Clone + Send + Sync> Command
    for SetFact<'_, M>
{
    type State = Option<yeyak_kit::access::Operators>;
    type Output = ();
    type Error = ReservationError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Self::State, Failed<ReservationError>> {
        reads.latest::<M>(&self.stream).await?;
        Ok(load_operators(reads, &self.partner_id.to_string()).await?)
    }

    fn decide(
        &self,
        operators: Self::State,
        _now_us: i64,
    ) -> Result<Decision<()>, Failed<ReservationError>> {
        access::authorize(
            self.caller,
            &self.partner_id.to_string(),
            Scope::AllPlaces,
            roles(OperatorAction::PartnerSettings),
            operators.as_ref(),
        )?;
        Ok(Decision::new(()).emit(self.stream.clone(), &self.fact))
    }
}

impl Reservations {
    /// Sets (or, with an empty text, removes) the partner's default reject text.
    pub async fn set_default_reject_text(
        &self,
        caller: &Caller,
        origin: &Origin,
        partner_id: Uuid,
        text: String,
    ) -> Result<(), Error> {
        let set = SetFact {
            caller,
            partner_id,
            stream: streams::reject_text(&partner_id.to_string()),
            fact: DefaultRejectTextSet {
                partner_id: partner_id.to_string(),
                text,
            },
        };
        self.runner.run(origin, &set).await?;
        Ok(())
    }

    /// Sets (or, with an empty code, removes) the partner's completion code; only its hash is
    /// kept. Whether a code is set now.
    pub async fn set_completion_code(
        &self,
        caller: &Caller,
        origin: &Origin,
        partner_id: Uuid,
        code: &str,
    ) -> Result<bool, Error> {
        if !valid_code(code) {
            return Err(Failed::Refused(ReservationError::invalid(
                "code",
                "MALFORMED",
                "four digits, or empty to remove the code",
            )));
        }
        let set = SetFact {
            caller,
            partner_id,
            stream: streams::completion_code(&partner_id.to_string()),
            fact: CompletionCodeSet {
                partner_id: partner_id.to_string(),
                code_sha256: if code.is_empty() {
                    String::new()
                } else {
                    code_hash(&partner_id.to_string(), code)
                },
            },
        };
        self.runner.run(origin, &set).await?;
        Ok(!code.is_empty())
    }
}
