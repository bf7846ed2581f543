//! What each operator role may do, within its partner and its places (domain.md §2.1:
//! 관리자 / 마스터 / 멤버). The token says who the caller is; the partner's stream says whether
//! that account is an active operator, with which role and places.
use yeyak_proto::catalog::events::v1::OperatorRole;

use super::{
    CatalogError,
    partner::{Operator, Partner},
};

/// An operator's action, with the place it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// Read the partner.
    Read,
    /// Read a place's products as their manager (drafts and pending revisions included).
    ReadPlace(&'a str),
    /// Record channel settings.
    SetPartnerFacts,
    /// Invite operators (which roles is decided by the invitation rules).
    InviteOperators,
    /// Register a place: Admin, or Master granted all places.
    RegisterPlace,
    /// Submit a place, reorder its products, manage its products.
    ManagePlace(&'a str),
    /// Pause or resume a place.
    PausePlace(&'a str),
    /// Delete a product of the place.
    DeleteProduct(&'a str),
    /// Review or sanction: platform operations only, never an operator.
    Review,
}

fn forbid(reason: &'static str, message: impl Into<String>) -> CatalogError {
    CatalogError::Forbidden {
        reason,
        message: message.into(),
    }
}

/// The active operator `operator_id` of `partner`, if it may do `action`.
pub fn authorize<'p>(
    partner: &'p Partner,
    operator_id: &str,
    action: Action<'_>,
) -> Result<&'p Operator, CatalogError> {
    let Some(op) = partner.active_operator(operator_id) else {
        return Err(forbid(
            "NOT_AN_ACTIVE_OPERATOR",
            "the caller is not an active operator of this partner (invitations count from acceptance)",
        ));
    };
    let role_allows = match (op.role, action) {
        (_, Action::Review) => false,
        (_, Action::Read | Action::ReadPlace(_)) => true,
        (OperatorRole::Admin, _) => true,
        (OperatorRole::Master, Action::SetPartnerFacts) => false,
        (OperatorRole::Master, Action::RegisterPlace) => op.places.is_none(),
        (OperatorRole::Master, _) => true,
        (OperatorRole::Member, Action::ManagePlace(_)) => true,
        _ => false,
    };
    if !role_allows {
        return Err(forbid(
            "ROLE_NOT_ALLOWED",
            format!("a {:?} may not do this ({action:?})", op.role),
        ));
    }
    match action {
        Action::ReadPlace(place)
        | Action::ManagePlace(place)
        | Action::PausePlace(place)
        | Action::DeleteProduct(place)
            if !op.granted(place) =>
        {
            Err(forbid(
                "PLACE_NOT_GRANTED",
                "the operator was not granted this place",
            ))
        }
        _ => Ok(op),
    }
}

#[cfg(test)]
mod tests {
    use yeyak_proto::catalog::events::v1::{OperatorAccepted, OperatorInvited};

    use super::*;
    use crate::domain::partner::PartnerEvent;

    fn partner() -> Partner {
        let mut p = Partner::default();
        let mut add = |id: &str, role: OperatorRole, places: &[&str], accept: bool| {
            p.apply(PartnerEvent::OperatorInvited(OperatorInvited {
                partner_id: "pa".into(),
                operator_id: id.into(),
                role: role as i32,
                all_places: places.is_empty(),
                place_ids: places.iter().map(|s| s.to_string()).collect(),
            }));
            if accept {
                p.apply(PartnerEvent::OperatorAccepted(OperatorAccepted {
                    partner_id: "pa".into(),
                    operator_id: id.into(),
                }));
            }
        };
        add("admin", OperatorRole::Admin, &[], true);
        add("master-all", OperatorRole::Master, &[], true);
        add("master-a", OperatorRole::Master, &["a"], true);
        add("member-a", OperatorRole::Member, &["a"], true);
        add("invited", OperatorRole::Admin, &[], false);
        p
    }

    fn allowed(who: &str, action: Action) -> Result<(), &'static str> {
        authorize(&partner(), who, action)
            .map(|_| ())
            .map_err(|e| e.reason())
    }

    #[test]
    fn an_operator_acts_only_once_active() {
        assert_eq!(
            allowed("invited", Action::Read),
            Err("NOT_AN_ACTIVE_OPERATOR")
        );
        assert_eq!(
            allowed("stranger", Action::Read),
            Err("NOT_AN_ACTIVE_OPERATOR")
        );
    }

    #[test]
    fn no_operator_reviews_and_reading_a_place_needs_its_grant() {
        for who in ["admin", "master-all", "member-a"] {
            assert_eq!(
                allowed(who, Action::Review),
                Err("ROLE_NOT_ALLOWED"),
                "{who}"
            );
        }
        assert_eq!(allowed("member-a", Action::ReadPlace("a")), Ok(()));
        assert_eq!(
            allowed("member-a", Action::ReadPlace("b")),
            Err("PLACE_NOT_GRANTED")
        );
    }

    #[test]
    fn an_admin_does_everything_for_every_place() {
        for action in [
            Action::SetPartnerFacts,
            Action::InviteOperators,
            Action::RegisterPlace,
            Action::ManagePlace("b"),
            Action::PausePlace("b"),
            Action::DeleteProduct("b"),
        ] {
            assert_eq!(allowed("admin", action), Ok(()), "{action:?}");
        }
    }

    #[test]
    fn a_master_manages_its_places_but_not_partner_facts() {
        assert_eq!(allowed("master-a", Action::ManagePlace("a")), Ok(()));
        assert_eq!(allowed("master-a", Action::DeleteProduct("a")), Ok(()));
        assert_eq!(
            allowed("master-a", Action::ManagePlace("b")),
            Err("PLACE_NOT_GRANTED")
        );
        assert_eq!(
            allowed("master-a", Action::RegisterPlace),
            Err("ROLE_NOT_ALLOWED")
        );
        assert_eq!(allowed("master-all", Action::RegisterPlace), Ok(()));
        assert_eq!(
            allowed("master-all", Action::SetPartnerFacts),
            Err("ROLE_NOT_ALLOWED")
        );
    }

    #[test]
    fn a_member_manages_products_of_its_places_only() {
        assert_eq!(allowed("member-a", Action::ManagePlace("a")), Ok(()));
        assert_eq!(
            allowed("member-a", Action::ManagePlace("b")),
            Err("PLACE_NOT_GRANTED")
        );
        for action in [
            Action::DeleteProduct("a"),
            Action::PausePlace("a"),
            Action::InviteOperators,
            Action::RegisterPlace,
            Action::SetPartnerFacts,
        ] {
            assert_eq!(
                allowed("member-a", action),
                Err("ROLE_NOT_ALLOWED"),
                "{action:?}"
            );
        }
    }
}
