//! Who may read and change a partner's notifications (domain.md §2.1: 관리자 / 마스터 / 멤버),
//! checked by the operator check every service runs (`yeyak_kit::access`) against the
//! operators this service learned from the catalog (`None` while it knows none of the
//! partner's).
use yeyak_kit::{
    access::{ANY_ROLE, AccessError, OperatorRole, Operators, Scope, authorize},
    auth::Caller,
};
use yeyak_proto::notifications::events::v1::PartnerMessageRecorded;

/// Any active operator lists the partner's messages; which ones it sees is [`sees`].
pub fn may_list_messages(
    caller: &Caller,
    partner_id: &str,
    operators: Option<&Operators>,
) -> Result<(), AccessError> {
    authorize(caller, partner_id, Scope::Partner, ANY_ROLE, operators)
}

/// Any active operator lists the messages of a place it was granted; those of every place
/// (`place_id` `None`) only one granted all places.
pub fn may_list_places(
    caller: &Caller,
    partner_id: &str,
    place_id: Option<&str>,
    operators: Option<&Operators>,
) -> Result<(), AccessError> {
    let scope = place_id.map_or(Scope::AllPlaces, Scope::Place);
    authorize(caller, partner_id, scope, ANY_ROLE, operators)
}

/// Whether a caller that may list the messages sees `message`: a message of a place only when
/// its token and its record grant that place; a message naming no place (recorded before
/// messages named one) only when they grant all places, since it could be of any.
pub fn sees(
    caller: &Caller,
    partner_id: &str,
    operators: Option<&Operators>,
    message: &PartnerMessageRecorded,
) -> bool {
    let scope = match message.place_id.as_str() {
        "" => Scope::AllPlaces,
        place => Scope::Place(place),
    };
    authorize(caller, partner_id, scope, ANY_ROLE, operators).is_ok()
}

/// Which messages the partner receives is a setting of the partner as a whole: its 관리자 only.
pub fn may_set_preferences(
    caller: &Caller,
    partner_id: &str,
    operators: Option<&Operators>,
) -> Result<(), AccessError> {
    authorize(
        caller,
        partner_id,
        Scope::AllPlaces,
        &[OperatorRole::Admin],
        operators,
    )
}

#[cfg(test)]
mod tests {
    use yeyak_kit::auth::{PlaceScope, Role};
    use yeyak_proto::catalog::events::v1::{OperatorAccepted, OperatorInvited};

    use super::*;

    const PARTNER: uuid::Uuid = uuid::Uuid::from_u128(7);

    fn operators() -> Operators {
        let mut ops = Operators::default();
        for (id, role, places) in [
            ("admin", OperatorRole::Admin, vec![]),
            ("member-a", OperatorRole::Member, vec!["a"]),
        ] {
            ops.invited(&OperatorInvited {
                partner_id: PARTNER.to_string(),
                operator_id: id.into(),
                role: role as i32,
                all_places: places.is_empty(),
                place_ids: places.iter().map(|p| p.to_string()).collect(),
            });
            ops.accepted(&OperatorAccepted {
                partner_id: PARTNER.to_string(),
                operator_id: id.into(),
            });
        }
        ops
    }

    fn operator(subject: &str) -> Caller {
        Caller {
            subject: subject.into(),
            role: Role::PartnerOperator,
            partner_id: Some(PARTNER),
            places: PlaceScope::All,
        }
    }

    fn at(place: &str) -> PartnerMessageRecorded {
        PartnerMessageRecorded {
            place_id: place.into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_operator_of_some_places_sees_their_messages_and_none_naming_no_place() {
        let (ops, partner) = (operators(), PARTNER.to_string());
        let member = operator("member-a");
        assert_eq!(may_list_messages(&member, &partner, Some(&ops)), Ok(()));
        assert!(sees(&member, &partner, Some(&ops), &at("a")));
        assert!(!sees(&member, &partner, Some(&ops), &at("b")));
        assert!(!sees(&member, &partner, Some(&ops), &at("")));
        let admin = operator("admin");
        for place in ["a", "b", ""] {
            assert!(sees(&admin, &partner, Some(&ops), &at(place)), "{place:?}");
        }
    }

    #[test]
    fn only_an_admin_of_all_places_sets_preferences() {
        let (ops, partner) = (operators(), PARTNER.to_string());
        assert_eq!(
            may_set_preferences(&operator("admin"), &partner, Some(&ops)),
            Ok(())
        );
        assert_eq!(
            may_set_preferences(&operator("member-a"), &partner, Some(&ops)),
            Err(AccessError::RoleNotAllowed(OperatorRole::Member))
        );
    }
}
