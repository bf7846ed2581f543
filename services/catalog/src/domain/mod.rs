//! The catalog's business rules: pure functions of state, command and time; no I/O.
//!
//! Events are the generated `yeyak.catalog.events.v1` messages: the public contract is the
//! domain's vocabulary. Commands are validated Rust types.

pub mod access;
pub mod booking_window;
pub mod bookings;
pub mod cancellation_policy;
pub mod capacity;
pub mod definition;
pub mod display;
pub mod partner;
pub mod place;
pub mod product;
pub mod reservation_schedule;
pub mod review;
pub mod schedule;
pub mod visibility;

/// What a refusal names when something is missing or already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Partner,
    Place,
    Product,
    Operator,
    Invitation,
    InventoryPool,
    /// A price, schedule or reservation schedule whose visibility is set.
    VisibilityTarget,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Entity::Partner => "partner",
            Entity::Place => "place",
            Entity::Product => "product",
            Entity::Operator => "operator",
            Entity::Invitation => "invitation",
            Entity::InventoryPool => "inventory pool",
            Entity::VisibilityTarget => "visibility target",
        })
    }
}

/// Why the catalog refused a command: one variant per rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// An input breaks a rule of its field.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
        message: String,
    },
    #[error("{0} not found")]
    NotFound(Entity),
    #[error("{0} already exists")]
    AlreadyExists(Entity),
    #[error("the {industry} industry onboards only with a business-verified channel")]
    BusinessVerifiedChannelRequired { industry: String },
    #[error("a {inviter:?} may not invite a {invited:?} with these places")]
    RoleMayNotInvite {
        inviter: yeyak_kit::access::OperatorRole,
        invited: yeyak_kit::access::OperatorRole,
    },
    #[error("the place was already approved")]
    PlaceAlreadyApproved,
    #[error("the place is not in review")]
    PlaceNotInReview,
    #[error("only an approved place can be paused or resumed")]
    PlaceNotOperating,
    #[error("submit the place for review before registering products on it")]
    PlaceIsDraft,
    #[error("the product was deleted and cannot be restored")]
    ProductDeleted,
    #[error(
        "paid products need verified settlement information, verified KYC and a mail-order registration (or exemption)"
    )]
    SellerNotVerified,
    #[error(
        "price {price} has reservations: its maximum quantity can no longer be added or lowered"
    )]
    PriceMaximumLocked { price: String },
    #[error(
        "the product has reservations: its schedules cannot be moved or removed (add new ones instead)"
    )]
    OperatingPeriodLocked,
    #[error("register at least one future schedule before requesting review")]
    NoSchedules,
    #[error("an always-open product has exactly one schedule; edit its usage period instead")]
    AlwaysOpenHasOneSchedule,
    #[error("a sanctioned product cannot change; it can only be deleted")]
    Sanctioned,
    #[error("the product is in review; wait for the decision")]
    InReview,
    #[error("a revision of this product is already in review")]
    RevisionInReview,
    #[error("the product is live; edit it to submit a revision")]
    AlreadyApproved,
    #[error("nothing of this product waits for review")]
    NothingToReview,
    #[error("only a live (approved) product can do this")]
    NotLive,
    #[error(
        "a product in {0:?} cannot be copied; copy is allowed from Draft, Open, Closed, Upcoming and Unavailable"
    )]
    CopyNotAllowed(display::Displayed),
    #[error("{0} reservation(s) are still Requested or Confirmed; complete or cancel them first")]
    ActiveReservations(u64),
    #[error("a product in review cannot be deleted")]
    DeleteInReview,
    #[error("a {0:?} product cannot be deleted; end its sale first")]
    OnSale(display::Displayed),
    /// The operator check (the caller's token, account, role and places).
    #[error(transparent)]
    Denied(#[from] yeyak_kit::access::AccessError),
}

impl CatalogError {
    /// The machine-readable reason code: the rule's name.
    pub fn reason(&self) -> &'static str {
        match self {
            CatalogError::Invalid { reason, .. } => reason,
            CatalogError::NotFound(e) => match e {
                Entity::Partner => "PARTNER_NOT_FOUND",
                Entity::Place => "PLACE_NOT_FOUND",
                Entity::Product => "PRODUCT_NOT_FOUND",
                Entity::Operator => "OPERATOR_NOT_FOUND",
                Entity::Invitation => "INVITATION_NOT_FOUND",
                Entity::InventoryPool => "INVENTORY_POOL_NOT_FOUND",
                Entity::VisibilityTarget => "TARGET_NOT_FOUND",
            },
            CatalogError::AlreadyExists(_) => "ALREADY_EXISTS",
            CatalogError::BusinessVerifiedChannelRequired { .. } => {
                "BUSINESS_VERIFIED_CHANNEL_REQUIRED"
            }
            CatalogError::RoleMayNotInvite { .. } => "ROLE_MAY_NOT_INVITE",
            CatalogError::PlaceAlreadyApproved | CatalogError::AlreadyApproved => {
                "ALREADY_APPROVED"
            }
            CatalogError::PlaceNotInReview | CatalogError::NothingToReview => "NOTHING_TO_REVIEW",
            CatalogError::PlaceNotOperating => "PLACE_NOT_OPERATING",
            CatalogError::PlaceIsDraft => "PLACE_IS_DRAFT",
            CatalogError::ProductDeleted => "PRODUCT_DELETED",
            CatalogError::SellerNotVerified => "SELLER_NOT_VERIFIED",
            CatalogError::PriceMaximumLocked { .. } => "PRICE_MAXIMUM_LOCKED",
            CatalogError::OperatingPeriodLocked => "OPERATING_PERIOD_LOCKED",
            CatalogError::NoSchedules => "NO_SCHEDULES",
            CatalogError::AlwaysOpenHasOneSchedule => "ALWAYS_OPEN_HAS_ONE_SCHEDULE",
            CatalogError::Sanctioned => "SANCTIONED",
            CatalogError::InReview | CatalogError::DeleteInReview => "IN_REVIEW",
            CatalogError::RevisionInReview => "REVISION_IN_REVIEW",
            CatalogError::NotLive => "NOT_LIVE",
            CatalogError::CopyNotAllowed(_) => "COPY_NOT_ALLOWED",
            CatalogError::ActiveReservations(_) => "ACTIVE_RESERVATIONS",
            CatalogError::OnSale(_) => "ON_SALE",
            CatalogError::Denied(e) => e.reason(),
        }
    }

    /// The message of an `Invalid` refusal without its field's name (the status names the field).
    pub fn to_string_without_field(&self) -> String {
        match self {
            CatalogError::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    pub(crate) fn invalid(
        field: &'static str,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        CatalogError::Invalid {
            field,
            reason,
            message: message.into(),
        }
    }
}
