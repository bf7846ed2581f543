//! Which of a partner's operators may do what to its reservations (domain.md §2.1: 관리자 /
//! 마스터 / 멤버). The token says who the caller is; the partner's operators, as learned from the
//! catalog, say whether that account is active, with which role and places.
use std::collections::BTreeMap;

use yeyak_proto::{catalog::events::v1::OperatorRole, reservations::events::v1::OperatorRecorded};

use super::ReservationError;

/// The folded `operators-<partner_id>` stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Operators {
    pub by_id: BTreeMap<String, OperatorRecorded>,
}

impl Operators {
    pub fn apply(&mut self, e: OperatorRecorded) {
        self.by_id.insert(e.operator_id.clone(), e);
    }
}

/// What an operator does to reservations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorAction {
    /// Read reservations, lists and the dashboard.
    Read,
    /// Confirm, reject, complete, mark a no-show: the day's work at the place.
    Handle,
    /// Cancel (money goes back, maybe against the rule) and cancel payment only: Admin and
    /// Master ([INF] the sources say Members have "more limits" without a list).
    MoveMoney,
    /// The partner's completion code and default reject text: Admin only (as the catalog's
    /// partner facts).
    PartnerSettings,
}

fn forbid(reason: &'static str, message: impl Into<String>) -> ReservationError {
    ReservationError::Forbidden {
        reason,
        message: message.into(),
    }
}

/// Whether the active operator `operator_id` may do `action` at `place_id` (`None`: every place,
/// which needs a grant of all places).
pub fn authorize(
    operators: &Operators,
    operator_id: &str,
    place_id: Option<&str>,
    action: OperatorAction,
) -> Result<(), ReservationError> {
    let Some(op) = operators.by_id.get(operator_id).filter(|o| o.active) else {
        return Err(forbid(
            "NOT_AN_ACTIVE_OPERATOR",
            "the caller is not an active operator of this partner (invitations count from acceptance)",
        ));
    };
    let role_allows = match (op.role(), action) {
        (OperatorRole::Admin, _) => true,
        (OperatorRole::Master, OperatorAction::PartnerSettings) => false,
        (OperatorRole::Master, _) => true,
        (OperatorRole::Member, OperatorAction::Read | OperatorAction::Handle) => true,
        _ => false,
    };
    if !role_allows {
        return Err(forbid(
            "ROLE_NOT_ALLOWED",
            format!("a {:?} may not do this ({action:?})", op.role()),
        ));
    }
    let granted =
        op.all_places || place_id.is_some_and(|place| op.place_ids.iter().any(|p| p == place));
    if !granted {
        return Err(forbid(
            "PLACE_NOT_GRANTED",
            "the operator was not granted this place",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operators() -> Operators {
        let mut ops = Operators::default();
        for (id, role, places, active) in [
            ("admin", OperatorRole::Admin, vec![], true),
            ("master-a", OperatorRole::Master, vec!["a"], true),
            ("member-a", OperatorRole::Member, vec!["a"], true),
            ("invited", OperatorRole::Admin, vec![], false),
        ] {
            ops.apply(OperatorRecorded {
                partner_id: "pa".into(),
                operator_id: id.into(),
                role: role as i32,
                all_places: places.is_empty(),
                place_ids: places.into_iter().map(String::from).collect(),
                active,
            });
        }
        ops
    }

    fn allowed(who: &str, place: Option<&str>, action: OperatorAction) -> Result<(), &'static str> {
        authorize(&operators(), who, place, action).map_err(|e| e.reason())
    }

    #[test]
    fn an_operator_acts_on_reservations_only_once_active() {
        for who in ["invited", "stranger"] {
            assert_eq!(
                allowed(who, Some("a"), OperatorAction::Read),
                Err("NOT_AN_ACTIVE_OPERATOR")
            );
        }
    }

    #[test]
    fn a_member_handles_reservations_of_its_places_but_moves_no_money() {
        assert_eq!(
            allowed("member-a", Some("a"), OperatorAction::Handle),
            Ok(())
        );
        assert_eq!(
            allowed("member-a", Some("b"), OperatorAction::Handle),
            Err("PLACE_NOT_GRANTED")
        );
        assert_eq!(
            allowed("member-a", Some("a"), OperatorAction::MoveMoney),
            Err("ROLE_NOT_ALLOWED")
        );
        assert_eq!(
            allowed("member-a", None, OperatorAction::Read),
            Err("PLACE_NOT_GRANTED"),
            "every place needs a grant of all places"
        );
    }

    #[test]
    fn a_master_cancels_at_its_places_and_only_an_admin_sets_the_partners_settings() {
        assert_eq!(
            allowed("master-a", Some("a"), OperatorAction::MoveMoney),
            Ok(())
        );
        assert_eq!(
            allowed("master-a", Some("b"), OperatorAction::MoveMoney),
            Err("PLACE_NOT_GRANTED")
        );
        assert_eq!(
            allowed("master-a", None, OperatorAction::PartnerSettings),
            Err("ROLE_NOT_ALLOWED")
        );
        assert_eq!(
            allowed("admin", None, OperatorAction::PartnerSettings),
            Ok(())
        );
        assert_eq!(
            allowed("admin", Some("z"), OperatorAction::MoveMoney),
            Ok(())
        );
    }
}
