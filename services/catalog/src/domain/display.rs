//! A product's displayed state (domain.md §3.1) and the guards that depend on it: copy, delete,
//! and whether the public place page lists it.
//!
//! The displayed state is a projection of the review state, the sanction, the partner-set status,
//! the schedules' booking windows, the remaining quantity, the place and the clock. It is never
//! stored as truth.

use super::CatalogError;

/// Where a product is in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Review {
    /// 임시저장.
    Draft,
    /// 심사중.
    InReview,
    /// Approved at least once: the live version serves.
    Approved,
    /// 심사반려.
    ReviewRejected,
}

/// The partner-set product status (상품상태) of a live product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerStatus {
    /// 예약가능.
    Open,
    /// 예약마감.
    Closed,
    /// 예약종료: no longer shown; displays as `Unavailable`.
    Ended,
}

/// What partners and customers see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Displayed {
    Draft,
    InReview,
    ReviewRejected,
    /// 운영제재.
    Sanctioned,
    /// 예약불가.
    Unavailable,
    /// 예약마감.
    Closed,
    /// 판매예정.
    Upcoming,
    /// 예약가능.
    Open,
}

/// A booking window, microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_us: i64,
    pub end_us: i64,
}

/// Everything the displayed state depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub review: Review,
    pub sanctioned: bool,
    pub status: PartnerStatus,
    /// The place is approved and operating (not paused, not in review).
    pub place_operating: bool,
    pub windows: Vec<Window>,
    /// Seats still bookable over all schedules.
    pub remaining: u64,
    pub now_us: i64,
}

/// The displayed state, with the precedence of domain.md §3.1: sanctioned, then unavailable,
/// then closed, then upcoming, else open. A product never approved shows its review state.
pub fn displayed(f: &Facts) -> Displayed {
    if f.sanctioned {
        return Displayed::Sanctioned;
    }
    match f.review {
        Review::Draft => return Displayed::Draft,
        Review::InReview => return Displayed::InReview,
        Review::ReviewRejected => return Displayed::ReviewRejected,
        Review::Approved => {}
    }
    let all_ended = f.windows.iter().all(|w| w.end_us <= f.now_us);
    if f.status == PartnerStatus::Ended || all_ended || !f.place_operating {
        return Displayed::Unavailable;
    }
    if f.status == PartnerStatus::Closed || f.remaining == 0 {
        return Displayed::Closed;
    }
    if f.windows.iter().all(|w| w.start_us > f.now_us) {
        return Displayed::Upcoming;
    }
    Displayed::Open
}

/// The public place page lists only bookable or soon-bookable products.
pub fn shown_on_place_page(d: Displayed) -> bool {
    matches!(d, Displayed::Open | Displayed::Closed | Displayed::Upcoming)
}

/// Copy (복사) is an allow-list: Draft, Open, Closed, Upcoming and Unavailable.
pub fn may_copy(d: Displayed) -> Result<(), CatalogError> {
    match d {
        Displayed::Draft
        | Displayed::Open
        | Displayed::Closed
        | Displayed::Upcoming
        | Displayed::Unavailable => Ok(()),
        other => Err(CatalogError::CopyNotAllowed(other)),
    }
}

/// The name of a copy.
pub fn copy_name(name: &str) -> String {
    format!("{name} (복사)")
}

/// Delete is final. Allowed from Draft and ReviewRejected; from Unavailable or Sanctioned only
/// when no reservation is Requested or Confirmed; refused otherwise, with the reason.
pub fn may_delete(d: Displayed, active_reservations: u64) -> Result<(), CatalogError> {
    match d {
        Displayed::Draft | Displayed::ReviewRejected => Ok(()),
        Displayed::Unavailable | Displayed::Sanctioned if active_reservations == 0 => Ok(()),
        Displayed::Unavailable | Displayed::Sanctioned => {
            Err(CatalogError::ActiveReservations(active_reservations))
        }
        Displayed::InReview => Err(CatalogError::DeleteInReview),
        Displayed::Open | Displayed::Closed | Displayed::Upcoming => Err(CatalogError::OnSale(d)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000_000;
    const HOUR: i64 = 3_600_000_000;

    fn live() -> Facts {
        Facts {
            review: Review::Approved,
            sanctioned: false,
            status: PartnerStatus::Open,
            place_operating: true,
            windows: vec![Window {
                start_us: NOW - HOUR,
                end_us: NOW + HOUR,
            }],
            remaining: 5,
            now_us: NOW,
        }
    }

    #[test]
    fn a_live_product_in_its_window_with_seats_is_open() {
        assert_eq!(displayed(&live()), Displayed::Open);
    }

    #[test]
    fn sanction_wins_over_everything() {
        let f = Facts {
            sanctioned: true,
            status: PartnerStatus::Ended,
            remaining: 0,
            ..live()
        };
        assert_eq!(displayed(&f), Displayed::Sanctioned);
        let draft = Facts {
            sanctioned: true,
            review: Review::Draft,
            ..live()
        };
        assert_eq!(displayed(&draft), Displayed::Sanctioned);
    }

    #[test]
    fn ended_status_past_windows_or_a_paused_place_make_it_unavailable_before_closed() {
        assert_eq!(
            displayed(&Facts {
                status: PartnerStatus::Ended,
                remaining: 0,
                ..live()
            }),
            Displayed::Unavailable
        );
        let past = Facts {
            windows: vec![Window {
                start_us: NOW - 2 * HOUR,
                end_us: NOW - HOUR,
            }],
            remaining: 0,
            ..live()
        };
        assert_eq!(displayed(&past), Displayed::Unavailable);
        assert_eq!(
            displayed(&Facts {
                place_operating: false,
                ..live()
            }),
            Displayed::Unavailable
        );
    }

    #[test]
    fn closed_status_or_sold_out_make_it_closed_before_upcoming() {
        assert_eq!(
            displayed(&Facts {
                status: PartnerStatus::Closed,
                ..live()
            }),
            Displayed::Closed
        );
        let sold_out_future = Facts {
            remaining: 0,
            windows: vec![Window {
                start_us: NOW + HOUR,
                end_us: NOW + 2 * HOUR,
            }],
            ..live()
        };
        assert_eq!(displayed(&sold_out_future), Displayed::Closed);
    }

    #[test]
    fn no_window_open_yet_makes_it_upcoming() {
        let f = Facts {
            windows: vec![Window {
                start_us: NOW + HOUR,
                end_us: NOW + 2 * HOUR,
            }],
            ..live()
        };
        assert_eq!(displayed(&f), Displayed::Upcoming);
    }

    #[test]
    fn a_product_is_upcoming_until_its_window_opens_and_unavailable_from_its_close() {
        let window = Window {
            start_us: NOW,
            end_us: NOW + HOUR,
        };
        let at = |now_us| {
            displayed(&Facts {
                windows: vec![window],
                now_us,
                ..live()
            })
        };
        assert_eq!(at(NOW - 1), Displayed::Upcoming);
        assert_eq!(at(NOW), Displayed::Open, "open from its start");
        assert_eq!(at(NOW + HOUR - 1), Displayed::Open);
        assert_eq!(at(NOW + HOUR), Displayed::Unavailable, "closed at its end");
    }

    #[test]
    fn a_product_never_approved_shows_its_review_state() {
        assert_eq!(
            displayed(&Facts {
                review: Review::Draft,
                ..live()
            }),
            Displayed::Draft
        );
        assert_eq!(
            displayed(&Facts {
                review: Review::InReview,
                ..live()
            }),
            Displayed::InReview
        );
        assert_eq!(
            displayed(&Facts {
                review: Review::ReviewRejected,
                ..live()
            }),
            Displayed::ReviewRejected
        );
    }

    #[test]
    fn the_place_page_hides_draft_review_rejected_sanctioned_and_unavailable_products() {
        for d in [
            Displayed::Draft,
            Displayed::InReview,
            Displayed::ReviewRejected,
            Displayed::Sanctioned,
            Displayed::Unavailable,
        ] {
            assert!(!shown_on_place_page(d), "{d:?}");
        }
        for d in [Displayed::Open, Displayed::Closed, Displayed::Upcoming] {
            assert!(shown_on_place_page(d), "{d:?}");
        }
    }

    #[test]
    fn copy_is_allowed_only_from_draft_open_closed_upcoming_and_unavailable() {
        for d in [
            Displayed::Draft,
            Displayed::Open,
            Displayed::Closed,
            Displayed::Upcoming,
            Displayed::Unavailable,
        ] {
            assert!(may_copy(d).is_ok(), "{d:?}");
        }
        for d in [
            Displayed::InReview,
            Displayed::ReviewRejected,
            Displayed::Sanctioned,
        ] {
            assert!(
                matches!(may_copy(d), Err(CatalogError::CopyNotAllowed(_))),
                "{d:?}"
            );
        }
        assert_eq!(copy_name("오마카세"), "오마카세 (복사)");
    }

    #[test]
    fn delete_follows_the_rules_exactly() {
        assert!(may_delete(Displayed::Draft, 3).is_ok());
        assert!(may_delete(Displayed::ReviewRejected, 3).is_ok());
        assert!(may_delete(Displayed::Unavailable, 0).is_ok());
        assert!(may_delete(Displayed::Sanctioned, 0).is_ok());
        let reason = |d, n| match may_delete(d, n) {
            Err(e) => e.reason(),
            other => panic!("{d:?} with {n}: {other:?}"),
        };
        assert_eq!(reason(Displayed::Unavailable, 1), "ACTIVE_RESERVATIONS");
        assert_eq!(reason(Displayed::Sanctioned, 2), "ACTIVE_RESERVATIONS");
        assert_eq!(reason(Displayed::InReview, 0), "IN_REVIEW");
        assert_eq!(reason(Displayed::Open, 0), "ON_SALE");
        assert_eq!(reason(Displayed::Closed, 0), "ON_SALE");
        assert_eq!(reason(Displayed::Upcoming, 0), "ON_SALE");
    }
}
