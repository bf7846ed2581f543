//! The catalog's commands: which streams each reads and writes. The runner loads, checks the
//! caller and decides with the domain's aggregates, then appends with the expected version of
//! every stream read.
use std::collections::BTreeSet;

use uuid::Uuid;
use yeyak_kit::{
    access::{self as shared_access, Scope},
    auth::Caller,
    command::{Aggregate, Command, Decision, Error, Reads},
};
use yeyak_proto::catalog::events::v1::ProductDeleted;

use super::streams;
use crate::domain::{
    CatalogError, Entity,
    access::{self, Action},
    bookings::{Bookings, BookingsEvent},
    partner::{Partner, PartnerCommand, PartnerContext},
    place::{Place, PlaceCommand, PlaceContext},
    product::{Product, ProductCommand, ProductContext},
};

type Failed = Error<CatalogError>;

fn refused(e: CatalogError) -> Failed {
    Error::Refused(e)
}

/// Who may run a partner command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerAuth {
    /// The RPC policy already limits it to platform operations (onboarding).
    Policy,
    /// The token must name the partner; the account need not be active yet (an acceptance).
    Token,
    /// The operator check for this action.
    Action(Action<'static>),
}

/// A command on a partner's stream.
pub struct OnPartner {
    pub caller: Caller,
    pub partner_id: Uuid,
    pub auth: PartnerAuth,
    pub command: PartnerCommand,
}

#[async_trait::async_trait]
impl Command for OnPartner {
    type State = (Partner, PartnerContext);
    type Output = ();
    type Error = CatalogError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Self::State, Failed> {
        let partner: Partner = reads.aggregate(&streams::partner(self.partner_id)).await?;
        // An invitation grants only places of this partner.
        let mut known_places = BTreeSet::new();
        if let PartnerCommand::InviteOperator { invitation, .. } = &self.command {
            for id in invitation.places.iter().flatten() {
                let place: Place = reads.aggregate(&streams::place(streams::id_of(id))).await?;
                if place
                    .registered
                    .is_some_and(|p| p.partner_id == self.partner_id.to_string())
                {
                    known_places.insert(id.clone());
                }
            }
        }
        Ok((partner, PartnerContext { known_places }))
    }

    fn decide(
        &self,
        (partner, context): Self::State,
        _now_us: i64,
    ) -> Result<Decision<()>, Failed> {
        let partner_id = self.partner_id.to_string();
        match self.auth {
            PartnerAuth::Policy => {}
            PartnerAuth::Token => {
                shared_access::token_allows(&self.caller, &partner_id, Scope::Partner)?
            }
            PartnerAuth::Action(action) => {
                access::authorize(&self.caller, &partner_id, &partner, action).map_err(refused)?
            }
        }
        let events = partner
            .decide(self.command.clone(), &context)
            .map_err(refused)?;
        Ok(Decision::new(()).emit_all(streams::partner(self.partner_id), events))
    }
}

/// A command on a place's stream. `action` is what the caller needs at the place.
pub struct OnPlace {
    pub caller: Caller,
    pub place_id: Uuid,
    pub action: fn(&str) -> Action<'_>,
    pub command: PlaceCommand,
}

#[async_trait::async_trait]
impl Command for OnPlace {
    type State = (Place, Partner, Uuid);
    type Output = ();
    type Error = CatalogError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<Self::State, Failed> {
        let place: Place = reads.aggregate(&streams::place(self.place_id)).await?;
        let partner_id = match (&place.registered, &self.command) {
            (Some(p), _) => streams::id_of(&p.partner_id),
            (None, PlaceCommand::Register(cmd)) => cmd.partner_id,
            (None, _) => return Err(refused(CatalogError::NotFound(Entity::Place))),
        };
        let partner: Partner = reads.aggregate(&streams::partner(partner_id)).await?;
        Ok((place, partner, partner_id))
    }

    fn decide(
        &self,
        (place, partner, partner_id): Self::State,
        _now_us: i64,
    ) -> Result<Decision<()>, Failed> {
        let place_id = self.place_id.to_string();
        access::authorize(
            &self.caller,
            &partner_id.to_string(),
            &partner,
            (self.action)(&place_id),
        )
        .map_err(refused)?;
        let events = place
            .decide(self.command.clone(), &PlaceContext { partner })
            .map_err(refused)?;
        Ok(Decision::new(()).emit_all(streams::place(self.place_id), events))
    }
}

/// A command on a product, decided with its place, its partner and its reservations; a
/// registration or a copy joins the place's product order, a deletion leaves it, in the same
/// append. `action` is what the caller needs at the product's place.
pub struct OnProduct {
    pub caller: Caller,
    pub product_id: Uuid,
    /// Where a product being registered goes (other commands find it on the product).
    pub place_id: Option<Uuid>,
    pub action: fn(&str) -> Action<'_>,
    pub command: ProductCommand,
}

/// What a product command loaded.
pub struct ProductState {
    product: Product,
    place_id: Uuid,
    context: ProductContext,
}

impl OnProduct {
    /// The stream the product's events go to: a copy's are the new product's.
    fn target(&self) -> Option<Uuid> {
        match &self.command {
            ProductCommand::CopyTo { product_id } => Uuid::parse_str(product_id).ok(),
            _ => Some(self.product_id),
        }
    }
}

#[async_trait::async_trait]
impl Command for OnProduct {
    type State = ProductState;
    type Output = ();
    type Error = CatalogError;

    async fn load(&self, reads: &mut Reads<'_>) -> Result<ProductState, Failed> {
        let product: Product = reads.aggregate(&streams::product(self.product_id)).await?;
        let place_id = match (&product.registered, self.place_id) {
            (Some(r), _) => streams::id_of(&r.place_id),
            (None, Some(place)) => place,
            (None, None) => return Err(refused(CatalogError::NotFound(Entity::Product))),
        };
        let place: Place = reads.aggregate(&streams::place(place_id)).await?;
        let Some(partner_id) = place
            .registered
            .as_ref()
            .map(|p| streams::id_of(&p.partner_id))
        else {
            return Err(refused(CatalogError::NotFound(Entity::Place)));
        };
        let partner: Partner = reads.aggregate(&streams::partner(partner_id)).await?;
        let bookings: Bookings = reads.aggregate(&streams::bookings(self.product_id)).await?;
        if let Some(copy) = self.target().filter(|t| *t != self.product_id) {
            // A copy is a new stream: read, so the append expects it not to exist yet.
            let _: Product = reads.aggregate(&streams::product(copy)).await?;
        }
        Ok(ProductState {
            product,
            place_id,
            context: ProductContext {
                place,
                partner,
                bookings,
                now_us: 0,
            },
        })
    }

    fn decide(&self, mut state: ProductState, now_us: i64) -> Result<Decision<()>, Failed> {
        state.context.now_us = now_us;
        let c = &state.context;
        let partner_id = c
            .place
            .registered
            .as_ref()
            .map(|p| p.partner_id.clone())
            .unwrap_or_default();
        let place = state.place_id.to_string();
        access::authorize(&self.caller, &partner_id, &c.partner, (self.action)(&place))
            .map_err(refused)?;
        let target = self
            .target()
            .ok_or_else(|| refused(CatalogError::NotFound(Entity::Product)))?;
        let events = state
            .product
            .decide(self.command.clone(), c)
            .map_err(refused)?;
        let order = match &self.command {
            ProductCommand::Register { .. } | ProductCommand::CopyTo { .. }
                if !events.is_empty() =>
            {
                Some(PlaceCommand::Include(target.to_string()))
            }
            ProductCommand::Delete => Some(PlaceCommand::Exclude(target.to_string())),
            _ => None,
        };
        let mut decision = Decision::new(()).emit_all(streams::product(target), events);
        if let Some(order) = order {
            let reordered = c
                .place
                .decide(
                    order,
                    &PlaceContext {
                        partner: c.partner.clone(),
                    },
                )
                .map_err(refused)?;
            decision = decision.emit_all(streams::place(state.place_id), reordered);
        }
        if self.command == ProductCommand::Delete {
            // The bookings stream records the deletion at the version the decision saw: a
            // reservation learned meanwhile makes it decide again.
            let gone = BookingsEvent::Deleted(ProductDeleted {
                product_id: self.product_id.to_string(),
            });
            decision = decision.emit(streams::bookings(self.product_id), &gone);
        }
        Ok(decision)
    }
}
