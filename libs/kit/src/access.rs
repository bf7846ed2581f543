//! Who may act for a partner: the one operator check every service runs.
//!
//! The token says who the caller is and what its account was granted when the token was
//! issued; the partner's operators, as the catalog recorded them (invited, accepted, with a role
//! and places), say what the account may do now. An operator acts only when both agree:
//!
//! - the token names the partner (and the place, or all places, as the action needs);
//! - the account is an active operator of the partner (invitations count from acceptance);
//! - its role is one the action allows (관리자 `Admin` / 마스터 `Master` / 멤버 `Member`);
//! - its recorded grant covers the place (or all places).
//!
//! The catalog keeps the operators on its partner stream. Every other service learns them from
//! the catalog's events with [`OperatorDirectory`] into `operators-<partner>` of its own log.
use std::collections::{BTreeMap, BTreeSet};

pub use yeyak_proto::catalog::events::v1::OperatorRole;
use yeyak_proto::{
    access::v1::OperatorRecorded,
    catalog::events::v1::{OperatorAccepted, OperatorInvited},
};

use yeyak_eventlog::RecordedEvent;
use yeyak_transport::{EventHandler, HandlerError};

use crate::{
    auth::{Caller, PlaceScope, Role},
    command::{Command, Decision, Error, Origin, Reads, Runner},
    events::{DecodeError, LoadError, decode_as},
};

/// What one operator account was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: OperatorRole,
    /// `None`: every place of the partner.
    pub places: Option<BTreeSet<String>>,
    /// Active from acceptance.
    pub active: bool,
}

impl Grant {
    pub fn covers(&self, place_id: &str) -> bool {
        self.places.as_ref().is_none_or(|p| p.contains(place_id))
    }
}

/// A partner's operators by account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operators {
    pub by_id: BTreeMap<String, Grant>,
}

impl Operators {
    /// An invitation: the account is known, not yet active.
    pub fn invited(&mut self, e: &OperatorInvited) {
        self.by_id.insert(
            e.operator_id.clone(),
            Grant {
                role: e.role(),
                places: (!e.all_places).then(|| e.place_ids.iter().cloned().collect()),
                active: false,
            },
        );
    }

    /// An acceptance: the invited account becomes active.
    pub fn accepted(&mut self, e: &OperatorAccepted) {
        if let Some(grant) = self.by_id.get_mut(&e.operator_id) {
            grant.active = true;
        }
    }

    /// A record of the directory: the account's whole grant.
    pub fn recorded(&mut self, e: &OperatorRecorded) {
        self.by_id.insert(
            e.operator_id.clone(),
            Grant {
                role: e.role(),
                places: (!e.all_places).then(|| e.place_ids.iter().cloned().collect()),
                active: e.active,
            },
        );
    }

    /// The account's grant, when it is an active operator.
    pub fn active(&self, operator_id: &str) -> Option<&Grant> {
        self.by_id.get(operator_id).filter(|g| g.active)
    }

    /// The active operators granted `place_id` (every place's, when it is empty), by account.
    pub fn granted<'a>(&'a self, place_id: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.by_id
            .iter()
            .filter(move |(_, g)| g.active && (place_id.is_empty() || g.covers(place_id)))
            .map(|(id, _)| id.as_str())
    }
}

/// What an action touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// The partner as a whole (its settings, its list of places).
    Partner,
    /// One place of the partner.
    Place(&'a str),
    /// Every place of the partner: only accounts granted all places.
    AllPlaces,
}

/// Why a caller may not do an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("the caller may not act for this partner")]
    PartnerNotGranted,
    #[error("the operator was not granted this place")]
    PlaceNotGranted,
    #[error("only operators granted all places may do this")]
    AllPlacesRequired,
    #[error(
        "the caller is not an active operator of this partner (invitations count from acceptance)"
    )]
    NotAnActiveOperator,
    #[error("a {0:?} may not do this")]
    RoleNotAllowed(OperatorRole),
    #[error("this kind of caller may not do this")]
    CallerNotAllowed,
    /// This service has not learned the partner's operators from the catalog yet: retry.
    #[error(
        "this service has not learned the partner's operators from the catalog yet; retry shortly"
    )]
    PartnerNotKnownYet,
}

impl AccessError {
    /// The machine-readable reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            AccessError::PartnerNotGranted => "PARTNER_NOT_GRANTED",
            AccessError::PlaceNotGranted => "PLACE_NOT_GRANTED",
            AccessError::AllPlacesRequired => "ALL_PLACES_REQUIRED",
            AccessError::NotAnActiveOperator => "NOT_AN_ACTIVE_OPERATOR",
            AccessError::RoleNotAllowed(_) => "ROLE_NOT_ALLOWED",
            AccessError::CallerNotAllowed => "ROLE_NOT_ALLOWED",
            AccessError::PartnerNotKnownYet => "PARTNER_NOT_KNOWN_YET",
        }
    }
}

/// What the token says: the caller may act for `partner_id` within `scope`. Platform staff and
/// services pass; customers never do.
pub fn token_allows(
    caller: &Caller,
    partner_id: &str,
    scope: Scope<'_>,
) -> Result<(), AccessError> {
    match caller.role {
        Role::PlatformOps | Role::InternalService => return Ok(()),
        Role::Customer => return Err(AccessError::CallerNotAllowed),
        Role::PartnerOperator => {}
    }
    if caller.partner_id.map(|p| p.to_string()).as_deref() != Some(partner_id) {
        return Err(AccessError::PartnerNotGranted);
    }
    match (scope, &caller.places) {
        (Scope::Place(place), PlaceScope::Only(places))
            if !places.iter().any(|p| p.to_string() == place) =>
        {
            Err(AccessError::PlaceNotGranted)
        }
        (Scope::AllPlaces, PlaceScope::Only(_)) => Err(AccessError::AllPlacesRequired),
        _ => Ok(()),
    }
}

/// The operator check: an operator acts for `partner_id` within `scope` only when its token
/// and its record (`operators`, `None` while the partner is not known) agree, and its role is
/// in `roles`. Platform staff and services pass; customers never do.
pub fn authorize(
    caller: &Caller,
    partner_id: &str,
    scope: Scope<'_>,
    roles: &[OperatorRole],
    operators: Option<&Operators>,
) -> Result<(), AccessError> {
    token_allows(caller, partner_id, scope)?;
    if caller.role != Role::PartnerOperator {
        return Ok(());
    }
    let operators = operators.ok_or(AccessError::PartnerNotKnownYet)?;
    let grant = operators
        .active(&caller.subject)
        .ok_or(AccessError::NotAnActiveOperator)?;
    if !roles.contains(&grant.role) {
        return Err(AccessError::RoleNotAllowed(grant.role));
    }
    match scope {
        Scope::Place(place) if !grant.covers(place) => Err(AccessError::PlaceNotGranted),
        Scope::AllPlaces if grant.places.is_some() => Err(AccessError::AllPlacesRequired),
        _ => Ok(()),
    }
}

/// Every role.
pub const ANY_ROLE: &[OperatorRole] = &[
    OperatorRole::Admin,
    OperatorRole::Master,
    OperatorRole::Member,
];

/// The stream of a partner's operators in a service that learns them from the catalog.
pub fn operators_stream(partner_id: &str) -> String {
    format!("operators-{partner_id}")
}

/// The type the reservations service recorded operators as before [`OperatorRecorded`] was
/// shared: the same fields, read as the shared message.
const LEGACY_RECORD_TYPE: &str = "yeyak.reservations.events.v1.OperatorRecorded";

/// Decodes a record of `operators-<partner>`, today's or the legacy one.
fn record_of(e: &RecordedEvent) -> Result<Option<OperatorRecorded>, DecodeError> {
    if e.event_type == LEGACY_RECORD_TYPE {
        return prost::Message::decode(e.payload.as_slice())
            .map(Some)
            .map_err(|err| DecodeError::Malformed(e.event_type.clone(), err));
    }
    decode_as::<OperatorRecorded>(e)
}

/// A partner's operators as this service learned them, with the read recorded (so a command
/// decided on them is decided again when they change); `None` while the partner is not known.
pub async fn load_operators(
    reads: &mut Reads<'_>,
    partner_id: &str,
) -> Result<Option<Operators>, LoadError> {
    let stream = operators_stream(partner_id);
    let operators = reads
        .fold(&stream, Operators::default(), |ops, e| {
            if let Some(r) = record_of(e)? {
                ops.recorded(&r);
            }
            Ok(())
        })
        .await?;
    Ok(reads.version(&stream).flatten().map(|_| operators))
}

/// Learns partners' operators from the catalog's events (`OperatorInvited`: known, inactive;
/// `OperatorAccepted`: active) into `operators-<partner>` of this service's log, each record
/// the operator's whole grant. Every service but the catalog runs one.
pub struct OperatorDirectory {
    runner: Runner,
    name: String,
}

impl OperatorDirectory {
    /// The directory of `service` (its consumer is named `<service>-operators`).
    pub fn new(runner: Runner, service: &str) -> Self {
        Self {
            runner,
            name: format!("{service}-operators"),
        }
    }
}

/// A catalog fact about an operator.
enum OperatorFact {
    Invited(OperatorInvited),
    Accepted(OperatorAccepted),
}

impl OperatorFact {
    fn partner_id(&self) -> &str {
        match self {
            OperatorFact::Invited(e) => &e.partner_id,
            OperatorFact::Accepted(e) => &e.partner_id,
        }
    }
}

#[async_trait::async_trait]
impl Command for OperatorFact {
    type State = Operators;
    type Output = ();
    type Error = DecodeError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Operators, Error<DecodeError>> {
        Ok(load_operators(reads, self.partner_id())
            .await?
            .unwrap_or_default())
    }

    fn decide(&self, known: Operators, _now_us: i64) -> Result<Decision<()>, Error<DecodeError>> {
        let record = match self {
            OperatorFact::Invited(e) => Some(OperatorRecorded {
                partner_id: e.partner_id.clone(),
                operator_id: e.operator_id.clone(),
                role: e.role,
                all_places: e.all_places,
                place_ids: e.place_ids.clone(),
                active: false,
            }),
            OperatorFact::Accepted(e) => {
                known.by_id.get(&e.operator_id).map(|g| OperatorRecorded {
                    partner_id: e.partner_id.clone(),
                    operator_id: e.operator_id.clone(),
                    role: g.role as i32,
                    all_places: g.places.is_none(),
                    place_ids: g.places.iter().flatten().cloned().collect(),
                    active: true,
                })
            }
        };
        let Some(record) = record else {
            tracing::warn!(
                partner_id = self.partner_id(),
                "an operator accepted an invitation this service never saw"
            );
            return Ok(Decision::new(()));
        };
        Ok(Decision::new(()).emit(operators_stream(self.partner_id()), &record))
    }
}

#[async_trait::async_trait]
impl EventHandler for OperatorDirectory {
    fn name(&self) -> &str {
        &self.name
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        let poison = |e: DecodeError| HandlerError::Poison(e.to_string());
        let fact = if let Some(e) = decode_as::<OperatorInvited>(event).map_err(poison)? {
            OperatorFact::Invited(e)
        } else if let Some(e) = decode_as::<OperatorAccepted>(event).map_err(poison)? {
            OperatorFact::Accepted(e)
        } else {
            return Ok(());
        };
        self.runner
            .run(&Origin::reaction(&self.name, event), &fact)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    const PARTNER: Uuid = Uuid::from_u128(1);
    const PLACE_A: Uuid = Uuid::from_u128(0xa);
    const PLACE_B: Uuid = Uuid::from_u128(0xb);

    fn operators() -> Operators {
        let mut ops = Operators::default();
        for (id, role, places, accept) in [
            ("admin", OperatorRole::Admin, vec![], true),
            ("master-a", OperatorRole::Master, vec![PLACE_A], true),
            ("member-a", OperatorRole::Member, vec![PLACE_A], true),
            ("invited", OperatorRole::Admin, vec![], false),
        ] {
            ops.invited(&OperatorInvited {
                partner_id: PARTNER.to_string(),
                operator_id: id.into(),
                role: role as i32,
                all_places: places.is_empty(),
                place_ids: places.iter().map(Uuid::to_string).collect(),
            });
            if accept {
                ops.accepted(&OperatorAccepted {
                    partner_id: PARTNER.to_string(),
                    operator_id: id.into(),
                });
            }
        }
        ops
    }

    fn operator(subject: &str, places: PlaceScope) -> Caller {
        Caller {
            subject: subject.into(),
            role: Role::PartnerOperator,
            partner_id: Some(PARTNER),
            places,
        }
    }

    fn check(
        caller: &Caller,
        scope: Scope<'_>,
        roles: &[OperatorRole],
    ) -> Result<(), &'static str> {
        authorize(
            caller,
            &PARTNER.to_string(),
            scope,
            roles,
            Some(&operators()),
        )
        .map_err(|e| e.reason())
    }

    #[test]
    fn an_account_acts_only_as_an_active_operator_of_the_partner() {
        let a = PLACE_A.to_string();
        for who in ["invited", "stranger"] {
            assert_eq!(
                check(&operator(who, PlaceScope::All), Scope::Place(&a), ANY_ROLE),
                Err("NOT_AN_ACTIVE_OPERATOR"),
                "{who}"
            );
        }
        let elsewhere = Caller {
            partner_id: Some(Uuid::from_u128(2)),
            ..operator("admin", PlaceScope::All)
        };
        assert_eq!(
            check(&elsewhere, Scope::Partner, ANY_ROLE),
            Err("PARTNER_NOT_GRANTED")
        );
        assert_eq!(
            authorize(
                &operator("admin", PlaceScope::All),
                &PARTNER.to_string(),
                Scope::Partner,
                ANY_ROLE,
                None
            ),
            Err(AccessError::PartnerNotKnownYet)
        );
    }

    #[test]
    fn the_token_and_the_record_must_both_grant_the_place() {
        let (a, b) = (PLACE_A.to_string(), PLACE_B.to_string());
        let member = operator("member-a", PlaceScope::All);
        assert_eq!(check(&member, Scope::Place(&a), ANY_ROLE), Ok(()));
        assert_eq!(
            check(&member, Scope::Place(&b), ANY_ROLE),
            Err("PLACE_NOT_GRANTED"),
            "the record grants place A only"
        );
        let narrow_token = operator("admin", PlaceScope::Only([PLACE_A].into()));
        assert_eq!(
            check(&narrow_token, Scope::Place(&b), ANY_ROLE),
            Err("PLACE_NOT_GRANTED"),
            "the token grants place A only"
        );
        assert_eq!(
            check(&narrow_token, Scope::AllPlaces, ANY_ROLE),
            Err("ALL_PLACES_REQUIRED")
        );
        assert_eq!(
            check(
                &operator("master-a", PlaceScope::All),
                Scope::AllPlaces,
                ANY_ROLE
            ),
            Err("ALL_PLACES_REQUIRED")
        );
    }

    #[test]
    fn the_action_names_the_roles_it_allows() {
        let a = PLACE_A.to_string();
        let money = &[OperatorRole::Admin, OperatorRole::Master];
        assert_eq!(
            check(
                &operator("member-a", PlaceScope::All),
                Scope::Place(&a),
                money
            ),
            Err("ROLE_NOT_ALLOWED")
        );
        assert_eq!(
            check(
                &operator("master-a", PlaceScope::All),
                Scope::Place(&a),
                money
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &operator("admin", PlaceScope::All),
                Scope::AllPlaces,
                &[OperatorRole::Admin]
            ),
            Ok(())
        );
    }

    #[test]
    fn staff_and_services_pass_and_customers_never_do() {
        let as_role = |role| Caller {
            subject: "x".into(),
            role,
            partner_id: None,
            places: PlaceScope::All,
        };
        for role in [Role::PlatformOps, Role::InternalService] {
            assert_eq!(
                authorize(&as_role(role), "p", Scope::AllPlaces, &[], None),
                Ok(())
            );
        }
        assert_eq!(
            authorize(
                &as_role(Role::Customer),
                "p",
                Scope::Partner,
                ANY_ROLE,
                None
            ),
            Err(AccessError::CallerNotAllowed)
        );
    }

    fn catalog_event<M: prost::Message + prost::Name>(m: &M) -> RecordedEvent {
        RecordedEvent {
            position: Default::default(),
            event_id: Uuid::new_v4(),
            stream_id: format!("partner-{PARTNER}"),
            stream_version: 1,
            event_type: M::full_name(),
            schema_version: crate::events::SCHEMA_VERSION,
            payload: m.encode_to_vec(),
            metadata: yeyak_eventlog::Metadata {
                correlation_id: Uuid::new_v4(),
                causation_id: None,
                actor: "ops:o".into(),
                occurred_at_us: 0,
                trace_context: None,
            },
            recorded_at_us: 0,
        }
    }

    #[tokio::test]
    async fn the_directory_learns_each_operator_once_and_reads_legacy_records() {
        use yeyak_eventlog::{AppendRequest, ExpectedVersion};
        let log = yeyak_eventlog::connect(&yeyak_eventlog::testing::fresh_sqlite_url("directory"))
            .await
            .unwrap();
        let runner = Runner::new(log.clone(), crate::clock::system(), "test");
        let directory = OperatorDirectory::new(runner, "test");
        let partner = PARTNER.to_string();
        let known = || async {
            let mut reads = Reads::new(&*log);
            load_operators(&mut reads, &partner).await.unwrap()
        };
        assert_eq!(known().await, None, "not known before the first fact");
        let invited = catalog_event(&OperatorInvited {
            partner_id: partner.clone(),
            operator_id: "op-1".into(),
            role: OperatorRole::Member as i32,
            all_places: false,
            place_ids: vec![PLACE_A.to_string()],
        });
        directory.handle(&invited).await.unwrap();
        directory.handle(&invited).await.unwrap();
        assert!(
            known().await.unwrap().active("op-1").is_none(),
            "inactive until accepted"
        );
        let accepted = catalog_event(&OperatorAccepted {
            partner_id: partner.clone(),
            operator_id: "op-1".into(),
        });
        directory.handle(&accepted).await.unwrap();
        let grant = known()
            .await
            .unwrap()
            .active("op-1")
            .cloned()
            .expect("active");
        assert_eq!(grant.role, OperatorRole::Member);
        assert!(grant.covers(&PLACE_A.to_string()) && !grant.covers(&PLACE_B.to_string()));
        assert_eq!(
            log.read_stream(&operators_stream(&partner), 1, 10)
                .await
                .unwrap()
                .len(),
            2,
            "a redelivered invitation records nothing twice"
        );
        // A record the reservations service wrote under its own type name still counts.
        let legacy = yeyak_eventlog::NewEvent {
            event_type: LEGACY_RECORD_TYPE.into(),
            ..crate::events::encode(
                Uuid::new_v4(),
                &OperatorRecorded {
                    partner_id: partner.clone(),
                    operator_id: "op-old".into(),
                    role: OperatorRole::Admin as i32,
                    all_places: true,
                    place_ids: vec![],
                    active: true,
                },
                &crate::events::Cause::command("ops:o".into(), Uuid::new_v4(), 0),
            )
        };
        log.append(AppendRequest::single(
            operators_stream(&partner),
            ExpectedVersion::Any,
            vec![legacy],
        ))
        .await
        .unwrap();
        assert!(known().await.unwrap().active("op-old").is_some());
    }
}
