//! Requests to domain commands: every field parsed and checked, or refused with the field named.
use tonic::Status;
use yeyak_kit::status::{invalid_field, parse_uuid};
use yeyak_proto::reservations::v1 as pb;

use crate::domain::{
    booking::{MAX_LINES, MAX_QUANTITY},
    cancellation::Adjustment,
};

/// A booking's lines, from `lines` or from the one-line fields (exclusive).
pub fn book_lines(r: &pb::BookRequest) -> Result<Vec<(uuid::Uuid, u32)>, Status> {
    let quantity = |field: &str, q: u32| {
        if q == 0 || q > MAX_QUANTITY {
            Err(invalid_field(
                field,
                "OUT_OF_RANGE",
                format!("book 1 to {MAX_QUANTITY} seats"),
            ))
        } else {
            Ok(q)
        }
    };
    if r.lines.is_empty() {
        return Ok(vec![(
            parse_uuid("reservation_schedule_id", &r.reservation_schedule_id)?,
            quantity("quantity", r.quantity)?,
        )]);
    }
    if !r.reservation_schedule_id.is_empty() || r.quantity != 0 {
        return Err(invalid_field(
            "lines",
            "EXCLUSIVE",
            "give either lines, or reservation_schedule_id and quantity",
        ));
    }
    if r.lines.len() > MAX_LINES {
        return Err(invalid_field(
            "lines",
            "OUT_OF_RANGE",
            format!("a reservation has 1 to {MAX_LINES} lines"),
        ));
    }
    r.lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Ok((
                parse_uuid(
                    &format!("lines[{i}].reservation_schedule_id"),
                    &l.reservation_schedule_id,
                )?,
                quantity(&format!("lines[{i}].quantity"), l.quantity)?,
            ))
        })
        .collect()
}

/// An adjusted fee (조정 후 취소): a rate of 0 to 10 000 bps, or an amount of 0 won or more.
pub fn adjustment(a: Option<pb::cancel_request::Adjustment>) -> Result<Option<Adjustment>, Status> {
    match a {
        Some(pb::cancel_request::Adjustment::FeeBps(fee_bps)) if fee_bps <= 10_000 => {
            Ok(Some(Adjustment::Rate { fee_bps }))
        }
        Some(pb::cancel_request::Adjustment::FeeKrw(fee_krw)) if fee_krw >= 0 => {
            Ok(Some(Adjustment::Amount { fee_krw }))
        }
        Some(_) => Err(invalid_field(
            "adjustment",
            "OUT_OF_RANGE",
            "a fee is 0 to 10000 bps, or 0 won or more",
        )),
        None => Ok(None),
    }
}
