//! Domain state to replies: what each caller may see of partners, places and products.
use tonic::Status;
use yeyak_proto::{
    catalog::{events::v1::ProductDefinition, v1 as pb},
    time::to_micros,
};

use super::refusal::refusal;
use crate::{
    app::ProductView,
    domain::{
        CatalogError, Entity,
        bookings::pool_usage,
        display::{self, Displayed},
        partner::Partner,
        place::{Place, PlaceState},
    },
};

pub fn partner_pb(p: Partner) -> Result<pb::Partner, Status> {
    let may_sell = p.may_sell_paid_products();
    let r = p
        .registered
        .ok_or_else(|| refusal(CatalogError::NotFound(Entity::Partner)))?;
    Ok(pb::Partner {
        partner_id: r.partner_id,
        name: r.name,
        business_registration_number: r.business_registration_number,
        channel_id: r.channel_id,
        channel_business_verified: r.channel_business_verified,
        industry: r.industry,
        home_card_installed: p.home_card_installed,
        custom_menu_kept: p.custom_menu_kept,
        one_to_one_chat: p.channel.one_to_one_chat,
        chatbot_with_chat: p.channel.chatbot_with_chat,
        settlement_account_verified: p.seller.settlement_account_verified,
        kyc_verified: p.seller.kyc_verified,
        mail_order: p.seller.mail_order,
        may_sell_paid_products: may_sell,
        operators: p
            .operators
            .by_id
            .into_iter()
            .map(|(id, o)| pb::Operator {
                operator_id: id,
                role: o.role as i32,
                all_places: o.places.is_none(),
                place_ids: o.places.into_iter().flatten().collect(),
                active: o.active,
            })
            .collect(),
    })
}

pub fn place_pb(p: Place) -> Result<pb::Place, Status> {
    let r = p
        .registered
        .ok_or_else(|| refusal(CatalogError::NotFound(Entity::Place)))?;
    Ok(pb::Place {
        place_id: r.place_id,
        partner_id: r.partner_id,
        name: r.name,
        address: r.address,
        state: match p.state {
            PlaceState::Draft => pb::PlaceState::Draft,
            PlaceState::InReview => pb::PlaceState::InReview,
            PlaceState::ReviewRejected => pb::PlaceState::ReviewRejected,
            PlaceState::Operating => pb::PlaceState::Operating,
            PlaceState::Paused => pb::PlaceState::Paused,
        } as i32,
        rejection_reason: p.rejection_reason,
        product_order: p.product_order,
    })
}

fn displayed_pb(d: Displayed) -> pb::DisplayedState {
    match d {
        Displayed::Draft => pb::DisplayedState::Draft,
        Displayed::InReview => pb::DisplayedState::InReview,
        Displayed::ReviewRejected => pb::DisplayedState::ReviewRejected,
        Displayed::Sanctioned => pb::DisplayedState::Sanctioned,
        Displayed::Unavailable => pb::DisplayedState::Unavailable,
        Displayed::Closed => pb::DisplayedState::Closed,
        Displayed::Upcoming => pb::DisplayedState::Upcoming,
        Displayed::Open => pb::DisplayedState::Open,
    }
}

fn us(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().and_then(to_micros).unwrap_or_default()
}

/// A product as `caller` may see it: customers see only the live version of a shown product.
pub fn product_pb(view: ProductView, customer: bool) -> Result<pb::Product, Status> {
    let p = &view.product;
    let r = p
        .registered
        .as_ref()
        .ok_or_else(|| refusal(CatalogError::NotFound(Entity::Product)))?;
    let hidden = p.deleted || !display::shown_on_place_page(view.displayed);
    if customer && hidden {
        return Err(refusal(CatalogError::NotFound(Entity::Product)));
    }
    let shown: &ProductDefinition = match (&p.live, customer) {
        (Some(live), _) => live,
        (None, false) => &p.working,
        (None, true) => unreachable!("a shown product is live"),
    };
    let now = view.now_us;
    let usage = pool_usage(shown, &view.bookings);
    let availability = shown
        .reservation_schedules
        .iter()
        .filter(|u| !customer || u.visible)
        .map(|u| {
            let (booked, remaining) = usage.get(&u.inventory_key).copied().unwrap_or_default();
            pb::Availability {
                reservation_schedule_id: u.reservation_schedule_id.clone(),
                inventory_key: u.inventory_key.clone(),
                capacity: u.capacity,
                booked,
                remaining,
                bookable_now: u.visible
                    && view.displayed == Displayed::Open
                    && remaining > 0
                    && us(&u.booking_opens_at) <= now
                    && now < us(&u.booking_closes_at),
            }
        })
        .collect();
    Ok(pb::Product {
        product_id: r.product_id.clone(),
        partner_id: r.partner_id.clone(),
        place_id: r.place_id.clone(),
        name: shown.name.clone(),
        confirmation_mode: shown.confirmation_mode,
        payment_mode: shown.prices.first().map_or(0, |x| x.payment_mode),
        reservation_schedules: shown
            .reservation_schedules
            .iter()
            .filter(|u| !customer || u.visible)
            .cloned()
            .collect(),
        displayed_state: if p.deleted {
            pb::DisplayedState::Deleted
        } else {
            displayed_pb(view.displayed)
        } as i32,
        status: p.status() as i32,
        live: p.live.clone(),
        working: (!customer).then(|| p.working.clone()),
        revision_pending: p.lifecycle.pending_revision,
        rejection_reason: if customer {
            String::new()
        } else {
            p.rejection_reason.clone()
        },
        sanction_reason: if customer {
            String::new()
        } else {
            p.sanction_reason.clone()
        },
        copied_from: r.copied_from.clone(),
        availability,
        revision: p.revision,
    })
}
