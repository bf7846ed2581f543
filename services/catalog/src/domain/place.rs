//! Places (장소) of a partner: `Draft → InReview → Operating | ReviewRejected`,
//! `Operating ⇄ Paused`; never deleted. The place owns the order of its products.
use std::collections::BTreeSet;

use yeyak_proto::catalog::events::v1::{
    PlaceApproved, PlacePaused, PlaceRegistered, PlaceRejected, PlaceResumed, PlaceSubmitted,
    ProductsReordered,
};

use yeyak_kit::command::Aggregate;

use super::{CatalogError, Entity, partner::Partner, review::reason_text};

yeyak_kit::event_set! {
    /// What happens on a place's stream.
    pub enum PlaceEvent {
        Registered(PlaceRegistered),
        Submitted(PlaceSubmitted),
        Approved(PlaceApproved),
        Rejected(PlaceRejected),
        Paused(PlacePaused),
        Resumed(PlaceResumed),
        Reordered(ProductsReordered),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlaceState {
    #[default]
    Draft,
    InReview,
    ReviewRejected,
    /// 운영중.
    Operating,
    /// 일시정지: the place and its products are hidden.
    Paused,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    pub registered: Option<PlaceRegistered>,
    pub state: PlaceState,
    pub rejection_reason: String,
    /// The partner's order of the place's products.
    pub product_order: Vec<String>,
}

impl Place {
    pub fn apply(&mut self, event: PlaceEvent) {
        match event {
            PlaceEvent::Registered(e) => self.registered = Some(e),
            PlaceEvent::Submitted(_) => self.state = PlaceState::InReview,
            PlaceEvent::Approved(_) => {
                self.state = PlaceState::Operating;
                self.rejection_reason.clear();
            }
            PlaceEvent::Rejected(e) => {
                self.state = PlaceState::ReviewRejected;
                self.rejection_reason = e.reason;
            }
            PlaceEvent::Paused(_) => self.state = PlaceState::Paused,
            PlaceEvent::Resumed(_) => self.state = PlaceState::Operating,
            PlaceEvent::Reordered(e) => self.product_order = e.product_ids,
        }
    }

    /// Approved and not paused: its products may be shown.
    pub fn operating(&self) -> bool {
        self.state == PlaceState::Operating
    }

    fn id(&self) -> Result<String, CatalogError> {
        self.registered
            .as_ref()
            .map(|p| p.place_id.clone())
            .ok_or(CatalogError::NotFound(Entity::Place))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegisterPlace {
    pub place_id: uuid::Uuid,
    pub partner_id: uuid::Uuid,
    pub name: String,
    pub address: String,
}

/// A place belongs to an onboarded partner and starts as a draft.
pub fn register(
    state: &Place,
    partner: &Partner,
    cmd: RegisterPlace,
) -> Result<Vec<PlaceEvent>, CatalogError> {
    if state.registered.is_some() {
        return Err(CatalogError::AlreadyExists(Entity::Place));
    }
    if partner.registered.is_none() {
        return Err(CatalogError::NotFound(Entity::Partner));
    }
    Ok(vec![
        PlaceRegistered {
            place_id: cmd.place_id.to_string(),
            partner_id: cmd.partner_id.to_string(),
            name: cmd.name,
            address: cmd.address,
        }
        .into(),
    ])
}

/// A draft or rejected place goes to review.
pub fn submit(state: &Place) -> Result<Vec<PlaceEvent>, CatalogError> {
    let place_id = state.id()?;
    match state.state {
        PlaceState::Draft | PlaceState::ReviewRejected => {
            Ok(vec![PlaceSubmitted { place_id }.into()])
        }
        PlaceState::InReview => Ok(vec![]),
        PlaceState::Operating | PlaceState::Paused => Err(CatalogError::PlaceAlreadyApproved),
    }
}

/// A reviewer approves, or rejects with a reason, a place in review.
pub fn review(state: &Place, approve: bool, reason: &str) -> Result<Vec<PlaceEvent>, CatalogError> {
    let place_id = state.id()?;
    if state.state != PlaceState::InReview {
        return Err(CatalogError::PlaceNotInReview);
    }
    Ok(vec![if approve {
        PlaceApproved { place_id }.into()
    } else {
        PlaceRejected {
            place_id,
            reason: reason_text(reason)?,
        }
        .into()
    }])
}

/// Pausing hides an operating place and its products; resuming shows them again. A place is
/// never deleted: pausing is how it is hidden.
pub fn set_paused(state: &Place, paused: bool) -> Result<Vec<PlaceEvent>, CatalogError> {
    let place_id = state.id()?;
    match (state.state, paused) {
        (PlaceState::Operating, true) => Ok(vec![PlacePaused { place_id }.into()]),
        (PlaceState::Paused, false) => Ok(vec![PlaceResumed { place_id }.into()]),
        (PlaceState::Paused, true) | (PlaceState::Operating, false) => Ok(vec![]),
        _ => Err(CatalogError::PlaceNotOperating),
    }
}

/// The operator gives the full new order: every product of the place that is not deleted,
/// each exactly once.
pub fn reorder(
    state: &Place,
    products: &BTreeSet<String>,
    order: Vec<String>,
) -> Result<Vec<PlaceEvent>, CatalogError> {
    let place_id = state.id()?;
    let given: BTreeSet<String> = order.iter().cloned().collect();
    if given.len() != order.len() {
        return Err(CatalogError::invalid(
            "product_ids",
            "DUPLICATE_PRODUCT",
            "each product appears once",
        ));
    }
    if &given != products {
        let missing = products.difference(&given).count();
        let foreign = given.difference(products).count();
        return Err(CatalogError::invalid(
            "product_ids",
            "NOT_THE_FULL_ORDER",
            format!(
                "give every product of the place exactly once ({missing} missing, {foreign} not of this place)"
            ),
        ));
    }
    if order == state.product_order {
        return Ok(vec![]);
    }
    Ok(vec![
        ProductsReordered {
            place_id,
            product_ids: order,
        }
        .into(),
    ])
}

/// What an operator or a reviewer asks of a place.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaceCommand {
    Register(RegisterPlace),
    Submit,
    Review {
        approve: bool,
        reason: String,
    },
    SetPaused(bool),
    /// The operator's full new order of the place's products.
    Reorder(Vec<String>),
    /// A product registered or copied onto the place joins the end of its order.
    Include(String),
    /// A deleted product leaves the order.
    Exclude(String),
}

/// What a place decision needs besides the place: its partner.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlaceContext {
    pub partner: Partner,
}

impl Aggregate for Place {
    type Event = PlaceEvent;
    type Command = PlaceCommand;
    type Context = PlaceContext;
    type Decision = Vec<PlaceEvent>;
    type Error = CatalogError;

    fn evolve(&mut self, event: PlaceEvent) {
        self.apply(event);
    }

    fn decide(
        &self,
        command: PlaceCommand,
        context: &PlaceContext,
    ) -> Result<Vec<PlaceEvent>, CatalogError> {
        let all = || self.product_order.iter().cloned().collect::<BTreeSet<_>>();
        match command {
            PlaceCommand::Register(cmd) => register(self, &context.partner, cmd),
            PlaceCommand::Submit => submit(self),
            PlaceCommand::Review { approve, reason } => review(self, approve, &reason),
            PlaceCommand::SetPaused(paused) => set_paused(self, paused),
            PlaceCommand::Reorder(order) => reorder(self, &all(), order),
            PlaceCommand::Include(product_id) => {
                let mut order: Vec<String> = self
                    .product_order
                    .iter()
                    .filter(|p| **p != product_id)
                    .cloned()
                    .collect();
                order.push(product_id);
                let products = order.iter().cloned().collect();
                reorder(self, &products, order)
            }
            PlaceCommand::Exclude(product_id) => {
                let order: Vec<String> = self
                    .product_order
                    .iter()
                    .filter(|p| **p != product_id)
                    .cloned()
                    .collect();
                let products = order.iter().cloned().collect();
                reorder(self, &products, order)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(events: Vec<PlaceEvent>) -> Place {
        let mut p = Place::default();
        for e in events {
            p.apply(e);
        }
        p
    }

    fn draft() -> Place {
        given(vec![
            PlaceRegistered {
                place_id: "pl".into(),
                partner_id: "pa".into(),
                name: "강남점".into(),
                address: "서울".into(),
            }
            .into(),
        ])
    }

    fn then(mut p: Place, events: Result<Vec<PlaceEvent>, CatalogError>) -> Place {
        for e in events.unwrap() {
            p.apply(e);
        }
        p
    }

    #[test]
    fn a_place_needs_an_onboarded_partner() {
        let cmd = RegisterPlace {
            place_id: uuid::Uuid::nil(),
            partner_id: uuid::Uuid::nil(),
            name: "Gangnam".into(),
            address: "Seoul".into(),
        };
        let err = register(&Place::default(), &Partner::default(), cmd).unwrap_err();
        assert_eq!(err.reason(), "PARTNER_NOT_FOUND");
    }

    #[test]
    fn a_place_goes_from_draft_through_review_to_operating_or_rejected() {
        let p = draft();
        assert_eq!(p.state, PlaceState::Draft);
        let in_review = then(p, submit(&draft()));
        assert_eq!(in_review.state, PlaceState::InReview);
        let operating = then(in_review.clone(), review(&in_review, true, ""));
        assert_eq!(operating.state, PlaceState::Operating);
        let rejected = then(in_review.clone(), review(&in_review, false, "주소 불일치"));
        assert_eq!(rejected.state, PlaceState::ReviewRejected);
        assert_eq!(rejected.rejection_reason, "주소 불일치");
        assert_eq!(
            review(&in_review, false, " ").unwrap_err().reason(),
            "REQUIRED"
        );
        let resubmitted = then(rejected.clone(), submit(&rejected));
        assert_eq!(resubmitted.state, PlaceState::InReview);
        assert_eq!(
            review(&operating, true, "").unwrap_err().reason(),
            "NOTHING_TO_REVIEW"
        );
    }

    #[test]
    fn an_operating_place_pauses_and_resumes_and_a_draft_cannot_pause() {
        let operating = given(vec![
            PlaceRegistered::default().into(),
            PlaceSubmitted::default().into(),
            PlaceApproved::default().into(),
        ]);
        let paused = then(operating.clone(), set_paused(&operating, true));
        assert_eq!(paused.state, PlaceState::Paused);
        assert!(!paused.operating(), "pausing hides the place's products");
        let resumed = then(paused.clone(), set_paused(&paused, false));
        assert!(resumed.operating());
        assert_eq!(
            set_paused(&draft(), true).unwrap_err().reason(),
            "PLACE_NOT_OPERATING"
        );
    }

    #[test]
    fn reorder_takes_the_full_order_of_the_places_products() {
        let place = draft();
        let products: BTreeSet<String> = ["a", "b", "c"].map(String::from).into();
        let order = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let reordered = then(
            place.clone(),
            reorder(&place, &products, order(&["c", "a", "b"])),
        );
        assert_eq!(reordered.product_order, order(&["c", "a", "b"]));
        assert_eq!(
            reorder(&place, &products, order(&["c", "a"]))
                .unwrap_err()
                .reason(),
            "NOT_THE_FULL_ORDER"
        );
        assert_eq!(
            reorder(&place, &products, order(&["c", "a", "b", "x"]))
                .unwrap_err()
                .reason(),
            "NOT_THE_FULL_ORDER"
        );
        assert_eq!(
            reorder(&place, &products, order(&["c", "a", "a", "b"]))
                .unwrap_err()
                .reason(),
            "DUPLICATE_PRODUCT"
        );
        assert_eq!(
            reorder(&reordered, &products, order(&["c", "a", "b"])).unwrap(),
            vec![],
            "the same order appends nothing"
        );
    }
}
