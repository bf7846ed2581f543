//! Who sees a partner's settlement (domain.md §2.1: 관리자 / 마스터 / 멤버), checked by the
//! operator check every service runs (`yeyak_kit::access`) against the operators this service
//! learned from the catalog (`None` while it knows none of the partner's).
use yeyak_kit::{
    access::{AccessError, OperatorRole, Operators, Scope, authorize},
    auth::Caller,
};

/// Only the partner's 관리자 (an `Admin` granted all places) sees its settlement.
///
/// An inference: the sources give the 관리자 "all menus incl. settlement" and the 마스터 and
/// 멤버 "some menus limited" without listing the limited menus; we take settlement, the
/// partner's money across all its places, to be among them.
pub fn may_see_settlement(
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
