//! A pool's quantity (예약수량), changed by the partner: lowering it below what is booked keeps
//! the bookings; the pool simply has nothing left.
use yeyak_proto::catalog::events::v1::CapacityChanged;

use super::{
    CatalogError, Entity,
    definition::MAX_CAPACITY,
    product::{Product, ProductEvent, require_changeable},
};

/// Changes one pool's quantity. Lowering it below what is booked keeps the bookings; the pool
/// simply has nothing left.
pub fn change_capacity(
    state: &Product,
    inventory_key: &str,
    capacity: u32,
) -> Result<Vec<ProductEvent>, CatalogError> {
    let id = require_changeable(state)?;
    if capacity > MAX_CAPACITY {
        return Err(CatalogError::invalid(
            "capacity",
            "OUT_OF_RANGE",
            format!("capacity is 0 to {}", MAX_CAPACITY),
        ));
    }
    let Some(pool) = state
        .working
        .inventory_pools
        .iter()
        .find(|p| p.inventory_key == inventory_key)
    else {
        return Err(CatalogError::NotFound(Entity::InventoryPool));
    };
    Ok(if pool.capacity == capacity {
        vec![]
    } else {
        vec![
            CapacityChanged {
                product_id: id,
                inventory_key: inventory_key.to_string(),
                capacity,
            }
            .into(),
        ]
    })
}
