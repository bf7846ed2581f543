//! Places (장소) of a partner.
use yeyak_proto::catalog::events::v1::PlaceRegistered;

use super::{CatalogError, partner::Partner};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    pub registered: Option<PlaceRegistered>,
}

impl Place {
    pub fn apply(&mut self, event: PlaceRegistered) {
        self.registered = Some(event);
    }
}

#[derive(Debug, Clone)]
pub struct RegisterPlace {
    pub place_id: uuid::Uuid,
    pub partner_id: uuid::Uuid,
    pub name: String,
    pub address: String,
}

/// A place belongs to an onboarded partner.
pub fn register(
    state: &Place,
    partner: &Partner,
    cmd: RegisterPlace,
) -> Result<Vec<PlaceRegistered>, CatalogError> {
    if state.registered.is_some() {
        return Err(CatalogError::AlreadyExists("place"));
    }
    if partner.registered.is_none() {
        return Err(CatalogError::NotFound {
            what: "partner",
            reason: "PARTNER_NOT_FOUND",
        });
    }
    Ok(vec![PlaceRegistered {
        place_id: cmd.place_id.to_string(),
        partner_id: cmd.partner_id.to_string(),
        name: cmd.name,
        address: cmd.address,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_needs_an_onboarded_partner() {
        let cmd = RegisterPlace {
            place_id: uuid::Uuid::nil(),
            partner_id: uuid::Uuid::nil(),
            name: "Gangnam".into(),
            address: "Seoul".into(),
        };
        let err = register(&Place::default(), &Partner::default(), cmd).unwrap_err();
        assert!(matches!(
            err,
            CatalogError::NotFound {
                reason: "PARTNER_NOT_FOUND",
                ..
            }
        ));
    }
}
