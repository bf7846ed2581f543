//! The three visibility levels (노출상태): a price everywhere, a schedule, or one price on one
//! schedule (a reservation schedule). A unit is shown when it, its schedule and its price are.
use std::collections::BTreeMap;

use yeyak_proto::catalog::events::v1::{
    ProductDefinition, UnitVisibility, VisibilityLevel, VisibilitySet,
};

use super::{
    CatalogError, Entity,
    product::{Product, ProductEvent, require_changeable},
};

/// Applies a visibility change to a definition and its units.
pub fn apply(def: &mut ProductDefinition, e: &VisibilitySet) {
    match e.level() {
        VisibilityLevel::Price => def
            .prices
            .iter_mut()
            .filter(|p| p.price_id == e.target_id)
            .for_each(|p| p.visible = e.visible),
        VisibilityLevel::Schedule => def
            .schedules
            .iter_mut()
            .filter(|s| s.schedule_id == e.target_id)
            .for_each(|s| s.visible = e.visible),
        _ => {}
    }
    let prices: BTreeMap<&str, bool> = def
        .prices
        .iter()
        .map(|p| (p.price_id.as_str(), p.visible))
        .collect();
    let schedules: BTreeMap<&str, bool> = def
        .schedules
        .iter()
        .map(|s| (s.schedule_id.as_str(), s.visible))
        .collect();
    for u in &mut def.reservation_schedules {
        let own = if e.level() == VisibilityLevel::ReservationSchedule
            && u.reservation_schedule_id == e.target_id
        {
            e.visible
        } else {
            u.visible || e.level() != VisibilityLevel::ReservationSchedule
        };
        // A unit is visible when it, its schedule and its price are; switching a schedule or a
        // price back ON shows its units again unless they were switched OFF themselves.
        let parents = prices.get(u.price_id.as_str()).copied().unwrap_or(true)
            && schedules
                .get(u.schedule_id.as_str())
                .copied()
                .unwrap_or(true);
        u.visible = own && parents;
    }
}

/// Switches a price, a schedule or a reservation schedule ON or OFF.
pub fn set_visibility_of(
    state: &Product,
    level: VisibilityLevel,
    target_id: &str,
    visible: bool,
) -> Result<Vec<ProductEvent>, CatalogError> {
    let id = require_changeable(state)?;
    let d = &state.working;
    let current = match level {
        VisibilityLevel::Price => d
            .prices
            .iter()
            .find(|p| p.price_id == target_id)
            .map(|p| p.visible),
        VisibilityLevel::Schedule => d
            .schedules
            .iter()
            .find(|s| s.schedule_id == target_id)
            .map(|s| s.visible),
        VisibilityLevel::ReservationSchedule => d
            .reservation_schedules
            .iter()
            .find(|u| u.reservation_schedule_id == target_id)
            .map(|u| u.visible),
        VisibilityLevel::Unspecified => {
            return Err(CatalogError::invalid(
                "level",
                "REQUIRED",
                "choose PRICE, SCHEDULE or RESERVATION_SCHEDULE",
            ));
        }
    };
    match current {
        None => Err(CatalogError::NotFound(Entity::VisibilityTarget)),
        Some(v) if v == visible => Ok(vec![]),
        Some(_) => {
            let mut event = VisibilitySet {
                product_id: id,
                level: level as i32,
                target_id: target_id.to_string(),
                visible,
                units: vec![],
            };
            let mut after = d.clone();
            apply(&mut after, &event);
            event.units = after
                .reservation_schedules
                .iter()
                .zip(&d.reservation_schedules)
                .filter(|(a, b)| a.visible != b.visible)
                .map(|(a, _)| UnitVisibility {
                    reservation_schedule_id: a.reservation_schedule_id.clone(),
                    visible: a.visible,
                })
                .collect();
            Ok(vec![event.into()])
        }
    }
}
