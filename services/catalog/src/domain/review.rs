//! A product's review lifecycle (domain.md §3.1): `Draft → InReview → Approved | ReviewRejected`;
//! editing a rejected product and saving it again goes back to review; editing a reviewed field of
//! a live product makes a pending revision while the live version keeps serving; `Sanctioned`
//! hides a product. Pure: the caller folds events into [`Lifecycle`] and appends what `decide`
//! returns.

use super::{CatalogError, display::Review};

/// What happened to a product's review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewEvent {
    Submitted,
    Approved,
    Rejected {
        reason: String,
    },
    /// A reviewed field of a live product changed: a revision waits for review.
    RevisionSubmitted,
    RevisionApproved,
    RevisionRejected {
        reason: String,
    },
    Sanctioned {
        reason: String,
    },
}

/// What a partner operator or a reviewer asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewCommand {
    /// The operator saves and requests review (심사요청).
    Submit,
    /// The operator edits reviewed fields.
    EditReviewedFields,
    /// A reviewer (platform operations) decides.
    Approve,
    Reject {
        reason: String,
    },
    /// Platform operations restrict the product (운영제재).
    Sanction {
        reason: String,
    },
}

/// The folded review state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    pub review: Review,
    /// A live product's edit waiting for review; the live version keeps serving meanwhile.
    pub pending_revision: bool,
    pub sanctioned: bool,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            review: Review::Draft,
            pending_revision: false,
            sanctioned: false,
        }
    }
}

impl Lifecycle {
    pub fn apply(&mut self, event: &ReviewEvent) {
        match event {
            ReviewEvent::Submitted => self.review = Review::InReview,
            ReviewEvent::Approved => self.review = Review::Approved,
            ReviewEvent::Rejected { .. } => self.review = Review::ReviewRejected,
            ReviewEvent::RevisionSubmitted => self.pending_revision = true,
            ReviewEvent::RevisionApproved | ReviewEvent::RevisionRejected { .. } => {
                self.pending_revision = false
            }
            ReviewEvent::Sanctioned { .. } => self.sanctioned = true,
        }
    }
}

pub(crate) fn reason_text(reason: &str) -> Result<String, CatalogError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(CatalogError::Invalid {
            field: "reason",
            reason: "REQUIRED",
            message: "a reason of 1 to 500 characters is required".into(),
        });
    }
    Ok(reason.to_string())
}

/// Decides a review command.
pub fn decide(state: &Lifecycle, command: ReviewCommand) -> Result<Vec<ReviewEvent>, CatalogError> {
    if state.sanctioned {
        return Err(CatalogError::Sanctioned);
    }
    match (state.review, command) {
        (
            Review::Draft | Review::ReviewRejected,
            ReviewCommand::Submit | ReviewCommand::EditReviewedFields,
        ) => {
            // Saving a rejected product again sends it back to review.
            Ok(vec![ReviewEvent::Submitted])
        }
        (Review::InReview, ReviewCommand::Submit | ReviewCommand::EditReviewedFields) => {
            Err(CatalogError::InReview)
        }
        (Review::Approved, ReviewCommand::EditReviewedFields) if state.pending_revision => {
            Err(CatalogError::RevisionInReview)
        }
        (Review::Approved, ReviewCommand::EditReviewedFields) => {
            Ok(vec![ReviewEvent::RevisionSubmitted])
        }
        (Review::Approved, ReviewCommand::Submit) => Err(CatalogError::AlreadyApproved),
        (Review::InReview, ReviewCommand::Approve) => Ok(vec![ReviewEvent::Approved]),
        (Review::InReview, ReviewCommand::Reject { reason }) => Ok(vec![ReviewEvent::Rejected {
            reason: reason_text(&reason)?,
        }]),
        (Review::Approved, ReviewCommand::Approve) if state.pending_revision => {
            Ok(vec![ReviewEvent::RevisionApproved])
        }
        (Review::Approved, ReviewCommand::Reject { reason }) if state.pending_revision => {
            Ok(vec![ReviewEvent::RevisionRejected {
                reason: reason_text(&reason)?,
            }])
        }
        (_, ReviewCommand::Approve | ReviewCommand::Reject { .. }) => {
            Err(CatalogError::NothingToReview)
        }
        (Review::Approved, ReviewCommand::Sanction { reason }) => {
            Ok(vec![ReviewEvent::Sanctioned {
                reason: reason_text(&reason)?,
            }])
        }
        (_, ReviewCommand::Sanction { .. }) => Err(CatalogError::NotLive),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(events: &[ReviewEvent]) -> Lifecycle {
        let mut state = Lifecycle::default();
        for e in events {
            state.apply(e);
        }
        state
    }

    fn refused(state: &Lifecycle, command: ReviewCommand) -> &'static str {
        match decide(state, command) {
            Err(e) => e.reason(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_draft_goes_to_review_and_is_approved_or_rejected() {
        let draft = given(&[]);
        assert_eq!(
            decide(&draft, ReviewCommand::Submit).unwrap(),
            [ReviewEvent::Submitted]
        );
        let in_review = given(&[ReviewEvent::Submitted]);
        assert_eq!(
            decide(&in_review, ReviewCommand::Approve).unwrap(),
            [ReviewEvent::Approved]
        );
        let rejected = decide(
            &in_review,
            ReviewCommand::Reject {
                reason: "이미지 부적합".into(),
            },
        )
        .unwrap();
        assert_eq!(
            rejected,
            [ReviewEvent::Rejected {
                reason: "이미지 부적합".into()
            }]
        );
    }

    #[test]
    fn a_rejection_needs_a_reason() {
        assert_eq!(
            refused(
                &given(&[ReviewEvent::Submitted]),
                ReviewCommand::Reject { reason: " ".into() }
            ),
            "REQUIRED"
        );
    }

    #[test]
    fn editing_a_rejected_product_and_saving_it_again_goes_back_to_review() {
        let rejected = given(&[
            ReviewEvent::Submitted,
            ReviewEvent::Rejected { reason: "x".into() },
        ]);
        assert_eq!(
            decide(&rejected, ReviewCommand::EditReviewedFields).unwrap(),
            [ReviewEvent::Submitted]
        );
    }

    #[test]
    fn editing_a_live_product_makes_a_pending_revision_and_the_live_version_keeps_serving() {
        let live = given(&[ReviewEvent::Submitted, ReviewEvent::Approved]);
        assert_eq!(
            decide(&live, ReviewCommand::EditReviewedFields).unwrap(),
            [ReviewEvent::RevisionSubmitted]
        );
        let pending = given(&[
            ReviewEvent::Submitted,
            ReviewEvent::Approved,
            ReviewEvent::RevisionSubmitted,
        ]);
        assert_eq!(
            pending.review,
            Review::Approved,
            "the live version keeps serving"
        );
        assert_eq!(
            refused(&pending, ReviewCommand::EditReviewedFields),
            "REVISION_IN_REVIEW"
        );
        assert_eq!(
            decide(&pending, ReviewCommand::Approve).unwrap(),
            [ReviewEvent::RevisionApproved]
        );
        let rejected = decide(
            &pending,
            ReviewCommand::Reject {
                reason: "가격 표기".into(),
            },
        )
        .unwrap();
        assert_eq!(
            rejected,
            [ReviewEvent::RevisionRejected {
                reason: "가격 표기".into()
            }]
        );
    }

    #[test]
    fn nothing_is_reviewed_twice_and_a_product_in_review_waits() {
        let in_review = given(&[ReviewEvent::Submitted]);
        assert_eq!(refused(&in_review, ReviewCommand::Submit), "IN_REVIEW");
        let live = given(&[ReviewEvent::Submitted, ReviewEvent::Approved]);
        assert_eq!(refused(&live, ReviewCommand::Approve), "NOTHING_TO_REVIEW");
        assert_eq!(
            refused(&given(&[]), ReviewCommand::Approve),
            "NOTHING_TO_REVIEW"
        );
    }

    #[test]
    fn only_a_live_product_is_sanctioned_and_a_sanctioned_product_cannot_change() {
        assert_eq!(
            refused(&given(&[]), ReviewCommand::Sanction { reason: "x".into() }),
            "NOT_LIVE"
        );
        let sanctioned = given(&[
            ReviewEvent::Submitted,
            ReviewEvent::Approved,
            ReviewEvent::Sanctioned {
                reason: "신고".into(),
            },
        ]);
        assert!(sanctioned.sanctioned);
        assert_eq!(
            refused(&sanctioned, ReviewCommand::EditReviewedFields),
            "SANCTIONED"
        );
        assert_eq!(refused(&sanctioned, ReviewCommand::Approve), "SANCTIONED");
    }
}
