//! The product aggregate: a working definition (the draft, or a live product's pending
//! revision), the live definition, the review lifecycle, the partner-set status, and the
//! operational changes that apply at once (schedules added, capacity, visibility).
use yeyak_kit::command::Aggregate;
use yeyak_proto::{
    catalog::events::v1::{
        CapacityChanged, ProductApproved, ProductDefinition, ProductDeleted, ProductEdited,
        ProductRegistered, ProductRejected, ProductRevisionRejected, ProductRevisionSubmitted,
        ProductSanctioned, ProductStatus, ProductStatusSet, ProductSubmitted, SchedulesAdded,
        VisibilityLevel, VisibilitySet,
    },
    time::to_micros,
};

use super::{
    CatalogError, Entity,
    bookings::{Bookings, pool_usage},
    capacity,
    definition::{self, ProductSpec},
    display::{self, Displayed, Facts, PartnerStatus, Review, Window},
    partner::Partner,
    place::{Place, PlaceState},
    review::{self, Lifecycle, ReviewCommand, ReviewEvent},
    schedule::{self, ScheduleSpec},
    visibility,
};

yeyak_kit::event_set! {
    /// What happens on a product's stream.
    pub enum ProductEvent {
        Registered(ProductRegistered),
        Edited(ProductEdited),
        Submitted(ProductSubmitted),
        Approved(ProductApproved),
        Rejected(ProductRejected),
        RevisionSubmitted(ProductRevisionSubmitted),
        RevisionRejected(ProductRevisionRejected),
        Sanctioned(ProductSanctioned),
        StatusSet(ProductStatusSet),
        SchedulesAdded(SchedulesAdded),
        CapacityChanged(CapacityChanged),
        VisibilitySet(VisibilitySet),
        Deleted(ProductDeleted),
    }
}

/// A product as its stream folds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Product {
    pub registered: Option<ProductRegistered>,
    /// The draft, or the pending revision of a live product (else equal to `live`).
    pub working: ProductDefinition,
    /// What customers see; `None` before the first approval.
    pub live: Option<ProductDefinition>,
    pub lifecycle: Lifecycle,
    /// Partner-set status; `None` reads as Open.
    pub status: Option<ProductStatus>,
    pub deleted: bool,
    pub revision: u32,
    pub rejection_reason: String,
    pub sanction_reason: String,
}

fn each_definition(p: &mut Product, mut f: impl FnMut(&mut ProductDefinition)) {
    f(&mut p.working);
    if let Some(live) = &mut p.live {
        f(live);
    }
}

impl Product {
    pub fn apply(&mut self, event: ProductEvent) {
        match event {
            ProductEvent::Registered(e) => {
                self.working = e.definition.clone().unwrap_or_default();
                self.registered = Some(e);
            }
            ProductEvent::Edited(e) => self.working = e.definition.unwrap_or_default(),
            ProductEvent::Submitted(_) => self.lifecycle.apply(&ReviewEvent::Submitted),
            ProductEvent::Approved(e) => {
                let review = if self.lifecycle.review == Review::Approved {
                    ReviewEvent::RevisionApproved
                } else {
                    ReviewEvent::Approved
                };
                self.lifecycle.apply(&review);
                let def = e.definition.unwrap_or_default();
                self.working = def.clone();
                self.live = Some(def);
                self.revision = e.revision;
                self.rejection_reason.clear();
            }
            ProductEvent::Rejected(e) => {
                self.lifecycle.apply(&ReviewEvent::Rejected {
                    reason: e.reason.clone(),
                });
                self.rejection_reason = e.reason;
            }
            ProductEvent::RevisionSubmitted(e) => {
                self.lifecycle.apply(&ReviewEvent::RevisionSubmitted);
                self.working = e.definition.unwrap_or_default();
            }
            ProductEvent::RevisionRejected(e) => {
                self.lifecycle.apply(&ReviewEvent::RevisionRejected {
                    reason: e.reason.clone(),
                });
                self.working = self.live.clone().unwrap_or_default();
                self.rejection_reason = e.reason;
            }
            ProductEvent::Sanctioned(e) => {
                self.lifecycle.apply(&ReviewEvent::Sanctioned {
                    reason: e.reason.clone(),
                });
                self.sanction_reason = e.reason;
            }
            ProductEvent::StatusSet(e) => self.status = Some(e.status()),
            ProductEvent::SchedulesAdded(e) => each_definition(self, |d| {
                d.schedules.extend(e.schedules.iter().cloned());
                d.reservation_schedules
                    .extend(e.reservation_schedules.iter().cloned());
                for pool in &e.inventory_pools {
                    if !d
                        .inventory_pools
                        .iter()
                        .any(|p| p.inventory_key == pool.inventory_key)
                    {
                        d.inventory_pools.push(pool.clone());
                    }
                }
            }),
            ProductEvent::CapacityChanged(e) => each_definition(self, |d| {
                for p in d
                    .inventory_pools
                    .iter_mut()
                    .filter(|p| p.inventory_key == e.inventory_key)
                {
                    p.capacity = e.capacity;
                }
                for u in d
                    .reservation_schedules
                    .iter_mut()
                    .filter(|u| u.inventory_key == e.inventory_key)
                {
                    u.capacity = e.capacity;
                }
            }),
            ProductEvent::VisibilitySet(e) => each_definition(self, |d| visibility::apply(d, &e)),
            ProductEvent::Deleted(_) => self.deleted = true,
        }
    }

    pub fn id(&self) -> Result<&ProductRegistered, CatalogError> {
        match &self.registered {
            None => Err(CatalogError::NotFound(Entity::Product)),
            Some(_) if self.deleted => Err(CatalogError::ProductDeleted),
            Some(r) => Ok(r),
        }
    }

    pub fn status(&self) -> ProductStatus {
        self.status.unwrap_or(ProductStatus::Open)
    }
}

fn us(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().and_then(to_micros).unwrap_or_default()
}

/// The displayed state now: a projection, never stored.
pub fn displayed(product: &Product, place: &Place, bookings: &Bookings, now_us: i64) -> Displayed {
    let live = product.live.as_ref();
    let windows = live
        .map(|d| {
            d.reservation_schedules
                .iter()
                .filter(|u| u.visible)
                .map(|u| Window {
                    start_us: us(&u.booking_opens_at),
                    end_us: us(&u.booking_closes_at),
                })
                .collect()
        })
        .unwrap_or_default();
    let remaining = live.map_or(0, |d| {
        pool_usage(d, bookings)
            .values()
            .map(|(_, left)| u64::from(*left))
            .sum()
    });
    display::displayed(&Facts {
        review: product.lifecycle.review,
        sanctioned: product.lifecycle.sanctioned,
        status: match product.status() {
            ProductStatus::Closed => PartnerStatus::Closed,
            ProductStatus::Ended => PartnerStatus::Ended,
            _ => PartnerStatus::Open,
        },
        place_operating: place.operating(),
        windows,
        remaining,
        now_us,
    })
}

fn require_paid_allowed(def: &ProductDefinition, partner: &Partner) -> Result<(), CatalogError> {
    if definition::is_paid(def) && !partner.may_sell_paid_products() {
        return Err(CatalogError::SellerNotVerified);
    }
    Ok(())
}

/// Registers a product in `Draft`. Products are registered only on a place that is past its
/// draft, and paid ones only by a verified seller.
pub fn register(
    state: &Product,
    place: &Place,
    partner: &Partner,
    product_id: &str,
    def: ProductDefinition,
) -> Result<Vec<ProductEvent>, CatalogError> {
    if state.registered.is_some() {
        return Err(CatalogError::AlreadyExists(Entity::Product));
    }
    let Some(p) = &place.registered else {
        return Err(CatalogError::NotFound(Entity::Place));
    };
    if place.state == PlaceState::Draft {
        return Err(CatalogError::PlaceIsDraft);
    }
    require_paid_allowed(&def, partner)?;
    Ok(vec![
        ProductRegistered {
            product_id: product_id.to_string(),
            partner_id: p.partner_id.clone(),
            place_id: p.place_id.clone(),
            definition: Some(def),
            copied_from: String::new(),
        }
        .into(),
    ])
}

fn operating_period(def: &ProductDefinition) -> Vec<(i64, i64)> {
    def.schedules
        .iter()
        .map(|s| (us(&s.starts_at), us(&s.ends_at)))
        .collect()
}

/// Saves a new definition. The reservation type and inventory mode are fixed at registration;
/// the operating period cannot change once reservations exist. A draft is replaced; a rejected
/// product is replaced and goes back to review; a live product gets a pending revision.
pub fn edit(
    state: &Product,
    partner: &Partner,
    bookings: &Bookings,
    def: ProductDefinition,
) -> Result<Vec<ProductEvent>, CatalogError> {
    let id = state.id()?.product_id.clone();
    if def.inventory_mode != state.working.inventory_mode {
        return Err(CatalogError::invalid(
            "inventory_mode",
            "INVENTORY_MODE_FIXED",
            "the inventory mode is fixed at registration; register a new product instead",
        ));
    }
    if def.reservation_type != state.working.reservation_type {
        return Err(CatalogError::invalid(
            "reservation_type",
            "RESERVATION_TYPE_FIXED",
            "the reservation type is fixed at registration",
        ));
    }
    let current = state.live.as_ref().unwrap_or(&state.working);
    // A new or tighter price maximum would start counting from zero while seats of that price
    // are already held: refused once the price has reservations.
    let booked = bookings.booked();
    for price in &def.prices {
        let before = current
            .prices
            .iter()
            .find(|p| p.price_id == price.price_id)
            .map_or(0, |p| p.max_quantity);
        let tighter = price.max_quantity > 0 && (before == 0 || price.max_quantity < before);
        let reserved = current
            .reservation_schedules
            .iter()
            .filter(|u| u.price_id == price.price_id)
            .any(|u| booked.contains_key(u.reservation_schedule_id.as_str()));
        if tighter && reserved {
            return Err(CatalogError::PriceMaximumLocked {
                price: price.name.clone(),
            });
        }
    }
    if bookings.any() {
        let kept = operating_period(&def);
        if operating_period(current).iter().any(|s| !kept.contains(s)) {
            return Err(CatalogError::OperatingPeriodLocked);
        }
    }
    require_paid_allowed(&def, partner)?;
    let review = review::decide(&state.lifecycle, ReviewCommand::EditReviewedFields)?;
    Ok(match review.as_slice() {
        // A draft saved again stays a draft; a rejected one saved again goes back to review.
        [ReviewEvent::Submitted] if state.lifecycle.review == Review::Draft => {
            if def == state.working {
                vec![]
            } else {
                vec![
                    ProductEdited {
                        product_id: id,
                        definition: Some(def),
                    }
                    .into(),
                ]
            }
        }
        [ReviewEvent::Submitted] => vec![
            ProductEdited {
                product_id: id.clone(),
                definition: Some(def),
            }
            .into(),
            ProductSubmitted { product_id: id }.into(),
        ],
        [ReviewEvent::RevisionSubmitted] if Some(&def) == state.live.as_ref() => vec![],
        _ => vec![
            ProductRevisionSubmitted {
                product_id: id,
                definition: Some(def),
            }
            .into(),
        ],
    })
}

/// 심사요청 of a draft; it needs at least one schedule (a copy may have none left).
pub fn submit(state: &Product) -> Result<Vec<ProductEvent>, CatalogError> {
    let id = state.id()?.product_id.clone();
    review::decide(&state.lifecycle, ReviewCommand::Submit)?;
    if state.working.reservation_schedules.is_empty() {
        return Err(CatalogError::NoSchedules);
    }
    Ok(vec![ProductSubmitted { product_id: id }.into()])
}

/// A reviewer approves (the working definition goes live) or rejects with a reason.
pub fn review(
    state: &Product,
    approve: bool,
    reason: String,
) -> Result<Vec<ProductEvent>, CatalogError> {
    let r = state.id()?;
    let command = if approve {
        ReviewCommand::Approve
    } else {
        ReviewCommand::Reject { reason }
    };
    let events = review::decide(&state.lifecycle, command)?;
    Ok(events
        .into_iter()
        .map(|e| match e {
            ReviewEvent::Rejected { reason } => ProductRejected {
                product_id: r.product_id.clone(),
                reason,
            }
            .into(),
            ReviewEvent::RevisionRejected { reason } => ProductRevisionRejected {
                product_id: r.product_id.clone(),
                reason,
            }
            .into(),
            _ => ProductApproved {
                product_id: r.product_id.clone(),
                partner_id: r.partner_id.clone(),
                place_id: r.place_id.clone(),
                definition: Some(state.working.clone()),
                revision: state.revision + 1,
            }
            .into(),
        })
        .collect())
}

/// 운영제재 of a live product.
pub fn sanction(state: &Product, reason: String) -> Result<Vec<ProductEvent>, CatalogError> {
    let id = state.id()?.product_id.clone();
    let events = review::decide(&state.lifecycle, ReviewCommand::Sanction { reason })?;
    Ok(events
        .into_iter()
        .filter_map(|e| match e {
            ReviewEvent::Sanctioned { reason } => Some(
                ProductSanctioned {
                    product_id: id.clone(),
                    reason,
                }
                .into(),
            ),
            _ => None,
        })
        .collect())
}

pub(super) fn require_changeable(state: &Product) -> Result<String, CatalogError> {
    let id = state.id()?.product_id.clone();
    if state.lifecycle.sanctioned {
        return Err(CatalogError::Sanctioned);
    }
    Ok(id)
}

/// 예약가능 / 예약마감 / 예약종료 of a live product.
pub fn set_status(
    state: &Product,
    status: ProductStatus,
) -> Result<Vec<ProductEvent>, CatalogError> {
    let id = require_changeable(state)?;
    if state.lifecycle.review != Review::Approved {
        return Err(CatalogError::NotLive);
    }
    if status == ProductStatus::Unspecified {
        return Err(CatalogError::invalid(
            "status",
            "REQUIRED",
            "choose OPEN, CLOSED or ENDED",
        ));
    }
    Ok(if state.status() == status {
        vec![]
    } else {
        vec![
            ProductStatusSet {
                product_id: id,
                status: status as i32,
            }
            .into(),
        ]
    })
}

/// Copies a product into a new draft named `<name> (복사)`, from an allowed displayed state.
/// Schedules entirely in the past are left out; reservations, reviews and statistics are never
/// copied (they live on other streams).
pub fn copy(
    source: &Product,
    shown: Displayed,
    new_product_id: &str,
    now_us: i64,
) -> Result<Vec<ProductEvent>, CatalogError> {
    let r = source.id()?;
    display::may_copy(shown)?;
    let from = source.live.as_ref().unwrap_or(&source.working);
    let name = display::copy_name(&from.name);
    let def = definition::copy(from, new_product_id, name, now_us);
    Ok(vec![
        ProductRegistered {
            product_id: new_product_id.to_string(),
            partner_id: r.partner_id.clone(),
            place_id: r.place_id.clone(),
            definition: Some(def),
            copied_from: r.product_id.clone(),
        }
        .into(),
    ])
}

/// Deletes for good, by the rules of S6.
pub fn delete(
    state: &Product,
    shown: Displayed,
    bookings: &Bookings,
) -> Result<Vec<ProductEvent>, CatalogError> {
    let id = state.id()?.product_id.clone();
    display::may_delete(shown, bookings.active())?;
    Ok(vec![ProductDeleted { product_id: id }.into()])
}

/// What an operator or a reviewer asks of a product.
#[derive(Debug, Clone, PartialEq)]
pub enum ProductCommand {
    /// Register a new product (a draft) with this id, built from the operator's input.
    Register {
        product_id: String,
        spec: ProductSpec,
    },
    /// Save a new definition.
    Edit(ProductSpec),
    Submit,
    Review {
        approve: bool,
        reason: String,
    },
    Sanction {
        reason: String,
    },
    SetStatus(ProductStatus),
    AddSchedules(Vec<ScheduleSpec>),
    ChangeCapacity {
        inventory_key: String,
        capacity: u32,
    },
    SetVisibility {
        level: VisibilityLevel,
        target_id: String,
        visible: bool,
    },
    Delete,
    /// Copy this product into a new draft with this id (the events are the new product's).
    CopyTo {
        product_id: String,
    },
}

/// What a product decision needs besides the product: its place, its partner, its reservations
/// and the time.
#[derive(Debug, Clone, Default)]
pub struct ProductContext {
    pub place: Place,
    pub partner: Partner,
    pub bookings: Bookings,
    pub now_us: i64,
}

impl Aggregate for Product {
    type Event = ProductEvent;
    type Command = ProductCommand;
    type Context = ProductContext;
    type Decision = Vec<ProductEvent>;
    type Error = CatalogError;

    fn evolve(&mut self, event: ProductEvent) {
        self.apply(event);
    }

    fn decide(
        &self,
        command: ProductCommand,
        c: &ProductContext,
    ) -> Result<Vec<ProductEvent>, CatalogError> {
        let shown = || displayed(self, &c.place, &c.bookings, c.now_us);
        match command {
            ProductCommand::Register { product_id, spec } => {
                let def = definition::build(&product_id, spec, None, c.now_us)?;
                register(self, &c.place, &c.partner, &product_id, def)
            }
            ProductCommand::Edit(spec) => {
                let id = self.id()?.product_id.clone();
                let previous = self.live.as_ref().unwrap_or(&self.working);
                let def = definition::build(&id, spec, Some(previous), c.now_us)?;
                edit(self, &c.partner, &c.bookings, def)
            }
            ProductCommand::Submit => submit(self),
            ProductCommand::Review { approve, reason } => review(self, approve, reason),
            ProductCommand::Sanction { reason } => sanction(self, reason),
            ProductCommand::SetStatus(status) => set_status(self, status),
            ProductCommand::AddSchedules(specs) => {
                // New pools start at the product's largest current pool quantity.
                let capacity = self
                    .working
                    .inventory_pools
                    .iter()
                    .map(|p| p.capacity)
                    .max()
                    .unwrap_or(1)
                    .max(1);
                schedule::add_schedules(self, &specs, capacity, c.now_us)
            }
            ProductCommand::ChangeCapacity {
                inventory_key,
                capacity,
            } => capacity::change_capacity(self, &inventory_key, capacity),
            ProductCommand::SetVisibility {
                level,
                target_id,
                visible,
            } => visibility::set_visibility_of(self, level, &target_id, visible),
            ProductCommand::Delete => delete(self, shown(), &c.bookings),
            ProductCommand::CopyTo { product_id } => copy(self, shown(), &product_id, c.now_us),
        }
    }
}

#[cfg(test)]
mod tests {
    use yeyak_proto::catalog::events::v1::{
        MailOrder, PaymentMode, PlaceApproved, PlaceRegistered, PlaceSubmitted, ReservationTracked,
        SellerVerificationRecorded, TrackedState,
    };

    use super::*;
    use crate::domain::{
        bookings::BookingsEvent,
        cancellation_policy::Policy,
        capacity::change_capacity,
        definition::{
            ProductSpec, build,
            tests::{DAY, NOW, price, slot, spec},
        },
        partner::PartnerEvent,
        place::PlaceEvent,
        schedule::add_schedules,
        visibility::set_visibility_of,
    };

    fn place(operating: bool) -> Place {
        let mut p = Place::default();
        p.apply(PlaceEvent::Registered(PlaceRegistered {
            place_id: "pl".into(),
            partner_id: "pa".into(),
            ..Default::default()
        }));
        p.apply(PlaceSubmitted::default().into());
        if operating {
            p.apply(PlaceApproved::default().into());
        }
        p
    }

    fn verified(yes: bool) -> Partner {
        let mut p = Partner::default();
        if yes {
            p.apply(PartnerEvent::SellerVerification(
                SellerVerificationRecorded {
                    partner_id: "pa".into(),
                    settlement_account_verified: true,
                    kyc_verified: true,
                    mail_order: MailOrder::Registered as i32,
                },
            ));
        }
        p
    }

    fn given(events: Vec<ProductEvent>) -> Product {
        let mut p = Product::default();
        for e in events {
            p.apply(e);
        }
        p
    }

    fn then(mut p: Product, events: Result<Vec<ProductEvent>, CatalogError>) -> Product {
        for e in events.unwrap() {
            p.apply(e);
        }
        p
    }

    fn draft() -> Product {
        let def = build("p", spec(), None, NOW).unwrap();
        given(
            register(
                &Product::default(),
                &place(true),
                &verified(false),
                "p",
                def,
            )
            .unwrap(),
        )
    }

    fn live() -> Product {
        let d = draft();
        let d = then(d.clone(), submit(&d));
        then(d.clone(), review(&d, true, String::new()))
    }

    fn booked(state: TrackedState) -> Bookings {
        let mut b = Bookings::default();
        b.apply(BookingsEvent::Tracked(ReservationTracked {
            product_id: "p".into(),
            reservation_id: "r".into(),
            reservation_schedule_id: live().working.reservation_schedules[0]
                .reservation_schedule_id
                .clone(),
            quantity: 2,
            state: state as i32,
            ..Default::default()
        }));
        b
    }

    #[test]
    fn a_product_is_registered_as_a_draft_only_on_a_place_past_its_draft() {
        let def = build("p", spec(), None, NOW).unwrap();
        let mut draft_place = Place::default();
        draft_place.apply(PlaceEvent::Registered(PlaceRegistered::default()));
        assert_eq!(
            register(
                &Product::default(),
                &draft_place,
                &verified(false),
                "p",
                def.clone()
            )
            .unwrap_err()
            .reason(),
            "PLACE_IS_DRAFT"
        );
        let p = draft();
        assert_eq!(p.lifecycle.review, Review::Draft);
        assert!(p.live.is_none());
    }

    #[test]
    fn paid_products_need_a_verified_seller() {
        let paid = build(
            "p",
            ProductSpec {
                prices: vec![price("성인", 30_000, PaymentMode::PayAtBooking)],
                cancellation_policy: Some(Policy::NotCancellable),
                ..spec()
            },
            None,
            NOW,
        )
        .unwrap();
        assert_eq!(
            register(
                &Product::default(),
                &place(true),
                &verified(false),
                "p",
                paid.clone()
            )
            .unwrap_err()
            .reason(),
            "SELLER_NOT_VERIFIED"
        );
        assert!(
            register(
                &Product::default(),
                &place(true),
                &verified(true),
                "p",
                paid
            )
            .is_ok()
        );
    }

    #[test]
    fn approval_puts_the_working_definition_live_with_a_revision_number() {
        let p = live();
        assert_eq!(p.lifecycle.review, Review::Approved);
        assert_eq!(p.live.as_ref(), Some(&p.working));
        assert_eq!(p.revision, 1);
    }

    #[test]
    fn editing_a_rejected_product_and_saving_it_again_goes_back_to_review() {
        let d = draft();
        let in_review = then(d.clone(), submit(&d));
        let rejected = then(
            in_review.clone(),
            review(&in_review, false, "사진 부적합".into()),
        );
        assert_eq!(rejected.rejection_reason, "사진 부적합");
        let def = build(
            "p",
            ProductSpec {
                name: "새 이름".into(),
                ..spec()
            },
            Some(&rejected.working),
            NOW,
        )
        .unwrap();
        let events = edit(&rejected, &verified(false), &Bookings::default(), def).unwrap();
        assert!(matches!(
            events.as_slice(),
            [ProductEvent::Edited(_), ProductEvent::Submitted(_)]
        ));
    }

    #[test]
    fn editing_a_live_product_makes_a_pending_revision_while_the_live_version_keeps_serving() {
        let p = live();
        let def = build(
            "p",
            ProductSpec {
                name: "새 이름".into(),
                ..spec()
            },
            Some(&p.working),
            NOW,
        )
        .unwrap();
        let pending = then(
            p.clone(),
            edit(&p, &verified(false), &Bookings::default(), def),
        );
        assert!(pending.lifecycle.pending_revision);
        assert_eq!(
            pending.live.as_ref().unwrap().name,
            "오마카세",
            "live keeps serving"
        );
        assert_eq!(pending.working.name, "새 이름");
        let rejected = then(pending.clone(), review(&pending, false, "과장 광고".into()));
        assert_eq!(
            rejected.working.name, "오마카세",
            "a rejected revision falls back to live"
        );
        let approved = then(pending.clone(), review(&pending, true, String::new()));
        assert_eq!(approved.live.as_ref().unwrap().name, "새 이름");
        assert_eq!(approved.revision, 2);
    }

    #[test]
    fn the_inventory_mode_and_reservation_type_are_fixed_at_registration() {
        let p = draft();
        let def = build(
            "p",
            ProductSpec {
                inventory_mode: yeyak_proto::catalog::events::v1::InventoryMode::PerDate,
                ..spec()
            },
            None,
            NOW,
        )
        .unwrap();
        assert_eq!(
            edit(&p, &verified(false), &Bookings::default(), def)
                .unwrap_err()
                .reason(),
            "INVENTORY_MODE_FIXED"
        );
    }

    #[test]
    fn the_operating_period_cannot_change_once_reservations_exist() {
        let p = live();
        let moved = build(
            "p",
            ProductSpec {
                schedules: vec![slot(NOW + 3 * DAY)],
                ..spec()
            },
            Some(&p.working),
            NOW,
        )
        .unwrap();
        assert_eq!(
            edit(
                &p,
                &verified(false),
                &booked(TrackedState::Released),
                moved.clone()
            )
            .unwrap_err()
            .reason(),
            "OPERATING_PERIOD_LOCKED"
        );
        assert!(edit(&p, &verified(false), &Bookings::default(), moved).is_ok());
    }

    #[test]
    fn a_price_maximum_cannot_be_added_to_a_price_with_reservations() {
        let mode = yeyak_proto::catalog::events::v1::InventoryMode::PerDate;
        let pooled = ProductSpec {
            inventory_mode: mode,
            ..spec()
        };
        let def = build("p", pooled.clone(), None, NOW).unwrap();
        let p = given(
            register(
                &Product::default(),
                &place(true),
                &verified(false),
                "p",
                def,
            )
            .unwrap(),
        );
        let p = then(p.clone(), submit(&p));
        let p = then(p.clone(), review(&p, true, String::new()));
        let mut b = Bookings::default();
        b.apply(BookingsEvent::Tracked(ReservationTracked {
            product_id: "p".into(),
            reservation_id: "r".into(),
            reservation_schedule_id: p.working.reservation_schedules[0]
                .reservation_schedule_id
                .clone(),
            quantity: 1,
            state: TrackedState::Active as i32,
            ..Default::default()
        }));
        let capped = build(
            "p",
            ProductSpec {
                prices: vec![definition::PriceSpec {
                    max_quantity: 3,
                    ..price("성인", 0, PaymentMode::ReservationOnly)
                }],
                ..pooled
            },
            Some(&p.working),
            NOW,
        )
        .unwrap();
        assert_eq!(
            edit(&p, &verified(false), &b, capped.clone())
                .unwrap_err()
                .reason(),
            "PRICE_MAXIMUM_LOCKED"
        );
        assert!(edit(&p, &verified(false), &Bookings::default(), capped).is_ok());
    }

    #[test]
    fn a_sanctioned_product_is_hidden_and_cannot_change() {
        let p = live();
        let s = then(p.clone(), sanction(&p, "신고 누적".into()));
        assert_eq!(
            displayed(&s, &place(true), &Bookings::default(), NOW),
            Displayed::Sanctioned
        );
        assert_eq!(
            set_status(&s, ProductStatus::Closed).unwrap_err().reason(),
            "SANCTIONED"
        );
    }

    #[test]
    fn the_displayed_state_is_projected_from_status_schedules_quantity_place_and_clock() {
        let p = live();
        let open = place(true);
        assert_eq!(
            displayed(&p, &open, &Bookings::default(), NOW),
            Displayed::Open
        );
        assert_eq!(
            displayed(&p, &place(false), &Bookings::default(), NOW),
            Displayed::Unavailable
        );
        assert_eq!(
            displayed(&p, &open, &Bookings::default(), NOW + 10 * DAY),
            Displayed::Unavailable
        );
        let closed = then(p.clone(), set_status(&p, ProductStatus::Closed));
        assert_eq!(
            displayed(&closed, &open, &Bookings::default(), NOW),
            Displayed::Closed
        );
        let ended = then(p.clone(), set_status(&p, ProductStatus::Ended));
        assert_eq!(
            displayed(&ended, &open, &Bookings::default(), NOW),
            Displayed::Unavailable
        );
        // Sold out: every pool used up.
        let mut sold_out = p.clone();
        for pool in p.working.inventory_pools.clone() {
            sold_out = then(
                sold_out.clone(),
                change_capacity(&sold_out, &pool.inventory_key, 0),
            );
        }
        assert_eq!(
            displayed(&sold_out, &open, &Bookings::default(), NOW),
            Displayed::Closed
        );
    }

    #[test]
    fn lowering_capacity_below_what_is_booked_keeps_the_bookings_and_closes_the_pool() {
        let p = live();
        let key = p.working.reservation_schedules[0].inventory_key.clone();
        let lowered = then(p.clone(), change_capacity(&p, &key, 1));
        let usage = pool_usage(
            lowered.live.as_ref().unwrap(),
            &booked(TrackedState::Active),
        );
        assert_eq!(
            usage[&key],
            (2, 0),
            "two booked stay booked, nothing remains"
        );
    }

    #[test]
    fn visibility_switches_at_three_levels() {
        let p = live();
        let price_id = p.working.prices[0].price_id.clone();
        let schedule_id = p.working.schedules[0].schedule_id.clone();
        let unit = p.working.reservation_schedules[1]
            .reservation_schedule_id
            .clone();
        let hidden_price = then(
            p.clone(),
            set_visibility_of(&p, VisibilityLevel::Price, &price_id, false),
        );
        assert!(
            hidden_price
                .live
                .as_ref()
                .unwrap()
                .reservation_schedules
                .iter()
                .all(|u| !u.visible)
        );
        let hidden_schedule = then(
            p.clone(),
            set_visibility_of(&p, VisibilityLevel::Schedule, &schedule_id, false),
        );
        let units = &hidden_schedule.live.as_ref().unwrap().reservation_schedules;
        assert!(
            units
                .iter()
                .all(|u| u.visible == (u.schedule_id != schedule_id))
        );
        let hidden_unit = then(
            p.clone(),
            set_visibility_of(&p, VisibilityLevel::ReservationSchedule, &unit, false),
        );
        let units = &hidden_unit.live.as_ref().unwrap().reservation_schedules;
        assert!(
            units
                .iter()
                .all(|u| u.visible == (u.reservation_schedule_id != unit))
        );
        assert_eq!(
            set_visibility_of(&p, VisibilityLevel::Price, "nope", false)
                .unwrap_err()
                .reason(),
            "TARGET_NOT_FOUND"
        );
    }

    #[test]
    fn schedules_are_added_in_bulk_and_live_at_once() {
        let p = live();
        let added = then(
            p.clone(),
            add_schedules(&p, &[slot(NOW + 5 * DAY), slot(NOW + 6 * DAY)], 4, NOW),
        );
        assert_eq!(added.live.as_ref().unwrap().schedules.len(), 4);
        assert_eq!(
            add_schedules(&added, &[slot(NOW + 5 * DAY)], 4, NOW)
                .unwrap_err()
                .reason(),
            "DUPLICATE_SCHEDULE"
        );
        assert_eq!(
            add_schedules(&p, &[slot(NOW + 190 * DAY)], 4, NOW)
                .unwrap_err()
                .reason(),
            "TOO_FAR_AHEAD"
        );
    }

    #[test]
    fn a_copy_is_a_new_draft_named_with_the_copy_suffix() {
        let p = live();
        let events = copy(&p, Displayed::Open, "q", NOW).unwrap();
        let c = given(events);
        assert_eq!(c.lifecycle.review, Review::Draft);
        assert_eq!(c.working.name, "오마카세 (복사)");
        assert_eq!(c.registered.as_ref().unwrap().copied_from, "p");
        assert_eq!(
            copy(&p, Displayed::InReview, "q", NOW)
                .unwrap_err()
                .reason(),
            "COPY_NOT_ALLOWED"
        );
        // All schedules past: the copy has none and must get new ones before review.
        let late = given(copy(&p, Displayed::Unavailable, "q", NOW + 30 * DAY).unwrap());
        assert!(late.working.schedules.is_empty());
        assert_eq!(submit(&late).unwrap_err().reason(), "NO_SCHEDULES");
    }

    #[test]
    fn delete_is_final_and_blocked_by_active_reservations() {
        let p = live();
        assert_eq!(
            delete(&p, Displayed::Unavailable, &booked(TrackedState::Active))
                .unwrap_err()
                .reason(),
            "ACTIVE_RESERVATIONS"
        );
        let gone = then(
            p.clone(),
            delete(&p, Displayed::Unavailable, &booked(TrackedState::Completed)),
        );
        assert!(gone.deleted);
        assert_eq!(
            set_status(&gone, ProductStatus::Open).unwrap_err().reason(),
            "PRODUCT_DELETED"
        );
        assert_eq!(
            delete(&p, Displayed::Open, &Bookings::default())
                .unwrap_err()
                .reason(),
            "ON_SALE"
        );
    }

    #[test]
    fn given_a_live_product_when_the_partner_ends_its_sale_then_the_status_is_set_once() {
        use yeyak_kit::command::testing::given;
        let p = live();
        let id = p.registered.as_ref().unwrap().product_id.clone();
        let context = ProductContext {
            place: place(true),
            partner: verified(false),
            bookings: Bookings::default(),
            now_us: NOW,
        };
        let ended = ProductStatusSet {
            product_id: id,
            status: ProductStatus::Ended as i32,
        };
        let history = || {
            let mut events = vec![];
            let d = draft();
            events.extend(
                register(
                    &Product::default(),
                    &place(true),
                    &verified(false),
                    "p",
                    d.working.clone(),
                )
                .unwrap(),
            );
            events.extend(submit(&d).unwrap());
            events.extend(review(&then(d.clone(), submit(&d)), true, String::new()).unwrap());
            events
        };
        given::<Product>(history())
            .when(ProductCommand::SetStatus(ProductStatus::Ended), &context)
            .then_expect(vec![ProductEvent::StatusSet(ended.clone())]);
        given::<Product>(
            history()
                .into_iter()
                .chain([ProductEvent::StatusSet(ended)]),
        )
        .when(ProductCommand::SetStatus(ProductStatus::Ended), &context)
        .then_expect(vec![]);
        given::<Product>([])
            .when(ProductCommand::Submit, &context)
            .then_refused(CatalogError::NotFound(Entity::Product));
    }
}
