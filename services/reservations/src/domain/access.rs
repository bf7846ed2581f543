//! Who may act on a reservation: a customer on their own only (others read as not found), and
//! only to cancel; a partner's operator at the reservation's place, as far as its role allows
//! (domain.md §2.1: 관리자 / 마스터 / 멤버), by the operator check every service runs.
use yeyak_kit::{
    access::{self, ANY_ROLE, OperatorRole, Operators, Scope},
    auth::{Caller, Role},
};
use yeyak_proto::reservations::events::v1::ReservationBooked;

use super::ReservationError;

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

/// The roles an action allows.
pub fn roles(action: OperatorAction) -> &'static [OperatorRole] {
    match action {
        OperatorAction::Read | OperatorAction::Handle => ANY_ROLE,
        OperatorAction::MoveMoney => &[OperatorRole::Admin, OperatorRole::Master],
        OperatorAction::PartnerSettings => &[OperatorRole::Admin],
    }
}

/// Whether `caller` may do `action` on the reservation `booked`. A customer may read and cancel
/// their own; another customer's reads as not found. An operator must be an active operator of
/// the partner whose token and record grant the place and whose role allows the action
/// (`operators`: `None` while this service has not learned the partner).
pub fn authorize(
    caller: &Caller,
    booked: &ReservationBooked,
    operators: Option<&Operators>,
    action: OperatorAction,
    customer_may: bool,
) -> Result<(), ReservationError> {
    match caller.role {
        Role::Customer if booked.customer_id != caller.subject => {
            Err(ReservationError::ReservationNotFound)
        }
        Role::Customer if customer_may || action == OperatorAction::Read => Ok(()),
        Role::Customer => Err(ReservationError::PartnerAction),
        _ => Ok(access::authorize(
            caller,
            &booked.partner_id,
            Scope::Place(&booked.place_id),
            roles(action),
            operators,
        )?),
    }
}
