//! What each operator role may do in the catalog (domain.md §2.1: 관리자 / 마스터 / 멤버), checked
//! by the operator check every service runs (`yeyak_kit::access`) against the operators on the
//! partner's stream.
use yeyak_kit::{
    access::{self, ANY_ROLE, OperatorRole, Scope},
    auth::Caller,
};

use super::{CatalogError, partner::Partner};

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

const ADMIN: &[OperatorRole] = &[OperatorRole::Admin];
const ADMIN_OR_MASTER: &[OperatorRole] = &[OperatorRole::Admin, OperatorRole::Master];

/// The roles an action allows and what it touches.
pub fn permission(action: Action<'_>) -> (&'static [OperatorRole], Scope<'_>) {
    match action {
        Action::Read => (ANY_ROLE, Scope::Partner),
        Action::ReadPlace(place) | Action::ManagePlace(place) => (ANY_ROLE, Scope::Place(place)),
        Action::SetPartnerFacts => (ADMIN, Scope::Partner),
        Action::InviteOperators => (ADMIN_OR_MASTER, Scope::Partner),
        Action::RegisterPlace => (ADMIN_OR_MASTER, Scope::AllPlaces),
        Action::PausePlace(place) | Action::DeleteProduct(place) => {
            (ADMIN_OR_MASTER, Scope::Place(place))
        }
        Action::Review => (&[], Scope::Partner),
    }
}

/// Whether `caller` may do `action` for `partner` (its token, and its record on the partner's
/// stream, must agree). Platform operations and services pass.
pub fn authorize(
    caller: &Caller,
    partner_id: &str,
    partner: &Partner,
    action: Action<'_>,
) -> Result<(), CatalogError> {
    let (roles, scope) = permission(action);
    access::authorize(caller, partner_id, scope, roles, Some(&partner.operators))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use yeyak_proto::catalog::events::v1::{OperatorAccepted, OperatorInvited};

    use super::*;
    use crate::domain::partner::PartnerEvent;

    const PARTNER: uuid::Uuid = uuid::Uuid::from_u128(7);

    fn partner() -> Partner {
        let mut p = Partner::default();
        let mut add = |id: &str, role: OperatorRole, places: &[&str], accept: bool| {
            p.apply(PartnerEvent::OperatorInvited(OperatorInvited {
                partner_id: PARTNER.to_string(),
                operator_id: id.into(),
                role: role as i32,
                all_places: places.is_empty(),
                place_ids: places.iter().map(|s| s.to_string()).collect(),
            }));
            if accept {
                p.apply(PartnerEvent::OperatorAccepted(OperatorAccepted {
                    partner_id: PARTNER.to_string(),
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
        let caller = Caller {
            subject: who.into(),
            role: yeyak_kit::auth::Role::PartnerOperator,
            partner_id: Some(PARTNER),
            places: yeyak_kit::auth::PlaceScope::All,
        };
        authorize(&caller, &PARTNER.to_string(), &partner(), action).map_err(|e| e.reason())
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
            Err("ALL_PLACES_REQUIRED")
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
