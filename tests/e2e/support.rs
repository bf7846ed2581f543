//! Building blocks shared by the end-to-end tests: a partner with a place and a product.
use tonic::Code;
use uuid::Uuid;
use yeyak_e2e::{Harness, reason, until};
use yeyak_proto::{
    catalog::{
        events::v1::{ConfirmationMode, PaymentMode},
        v1::{
            Product, RegisterPartnerRequest, RegisterPlaceRequest, RegisterProductRequest,
            ScheduleInput,
        },
    },
    reservations::v1::{BookRequest, Reservation},
};

pub struct Seeded {
    pub partner_id: Uuid,
    pub place_id: Uuid,
    pub product: Product,
}

impl Seeded {
    pub fn schedule_id(&self) -> String {
        self.product.reservation_schedules[0]
            .reservation_schedule_id
            .clone()
    }
}

/// Onboards a partner (platform ops), registers a place and a product (the partner's operator).
pub async fn seed(
    h: &Harness,
    mode: ConfirmationMode,
    payment: PaymentMode,
    capacity: u32,
    price_krw: i64,
) -> Seeded {
    let partner = h
        .catalog(h.ops())
        .await
        .register_partner(RegisterPartnerRequest {
            request_id: Uuid::new_v4().to_string(),
            name: "서울 테이블".into(),
            business_registration_number: "123-45-67891".into(),
            channel_id: "_seoultable".into(),
            channel_business_verified: true,
        })
        .await
        .expect("register partner")
        .into_inner();
    let partner_id = Uuid::parse_str(&partner.partner_id).unwrap();
    let mut catalog = h.catalog(h.operator(partner_id, None)).await;
    let place = catalog
        .register_place(RegisterPlaceRequest {
            request_id: Uuid::new_v4().to_string(),
            partner_id: partner.partner_id.clone(),
            name: "강남점".into(),
            address: "서울 강남구 테헤란로 1".into(),
        })
        .await
        .expect("register place")
        .into_inner();
    let tomorrow = jiff::Timestamp::now().as_microsecond() + 24 * 3600 * 1_000_000;
    let product = catalog
        .register_product(RegisterProductRequest {
            request_id: Uuid::new_v4().to_string(),
            place_id: place.place_id.clone(),
            name: "오마카세 디너".into(),
            confirmation_mode: mode as i32,
            payment_mode: payment as i32,
            schedules: vec![ScheduleInput {
                starts_at: Some(yeyak_proto::time::from_micros(tomorrow)),
                capacity,
                price_krw,
            }],
        })
        .await
        .expect("register product")
        .into_inner();
    Seeded {
        partner_id,
        place_id: Uuid::parse_str(&place.place_id).unwrap(),
        product,
    }
}

/// Books as `customer`, waiting until the reservations service has learned the schedule from the
/// catalog's events (it answers NOT_FOUND / SCHEDULE_NOT_FOUND until then).
pub async fn book(
    h: &Harness,
    customer: &str,
    schedule_id: &str,
    quantity: u32,
    request_id: &str,
) -> Reservation {
    let mut client = h.reservations(h.customer(customer)).await;
    until("the schedule to become bookable", || {
        let mut client = client.clone();
        let request = BookRequest {
            request_id: request_id.to_string(),
            reservation_schedule_id: schedule_id.to_string(),
            quantity,
        };
        async move {
            match client.book(request).await {
                Ok(r) => Some(r.into_inner()),
                Err(s) if s.code() == Code::NotFound && reason(&s) == "SCHEDULE_NOT_FOUND" => None,
                Err(s) => panic!("booking failed: {s:?}"),
            }
        }
    })
    .await;
    client
        .book(BookRequest {
            request_id: request_id.to_string(),
            reservation_schedule_id: schedule_id.to_string(),
            quantity,
        })
        .await
        .expect("retry returns the booking")
        .into_inner()
}
