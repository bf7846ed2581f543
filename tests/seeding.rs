//! Building blocks shared by the end-to-end tests and the benchmark: a partner with a place and a
//! live product, bookings that wait until the reservations service knows the schedule.
use crate::{Harness, reason, until};
use tonic::Code;
use uuid::Uuid;
use yeyak_proto::{
    catalog::{
        events::v1::{ConfirmationMode, InventoryMode, MailOrder, PaymentMode, ReservationType},
        v1::{
            GetPartnerRequest, PlaceRequest, PriceInput, Product, ProductInput, ProductRequest,
            RegisterPartnerRequest, RegisterPlaceRequest, RegisterProductRequest, ReviewRequest,
            ScheduleInput,
        },
    },
    reservations::{
        events::v1::PaymentMethod,
        v1::{BookRequest, Reservation},
    },
    settlement::{
        events::v1::{BusinessType, Document, DocumentKind},
        v1::{GetSellerStatusRequest, ReviewKycRequest, SubmitSettlementInfoRequest},
    },
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

/// Asserts a refusal with its gRPC code and reason.
pub use yeyak_kit::testing::refused;

pub fn rid() -> String {
    Uuid::new_v4().to_string()
}

/// A date-time product with one price and one slot tomorrow (by the harness's clock).
pub fn product_input(
    h: &Harness,
    mode: ConfirmationMode,
    payment: PaymentMode,
    capacity: u32,
    price_krw: i64,
) -> ProductInput {
    let tomorrow = h.now_us() + 24 * 3600 * 1_000_000;
    ProductInput {
        name: "오마카세 디너".into(),
        reservation_type: ReservationType::DateTime as i32,
        confirmation_mode: mode as i32,
        inventory_mode: InventoryMode::PerReservationSchedule as i32,
        prices: vec![PriceInput {
            name: "성인".into(),
            amount_krw: price_krw,
            payment_mode: payment as i32,
            ..Default::default()
        }],
        schedules: vec![ScheduleInput {
            starts_at: Some(yeyak_proto::time::from_micros(tomorrow)),
            ..Default::default()
        }],
        capacity,
        ..Default::default()
    }
}

/// Onboards a partner whose owner is the harness's operator (platform ops), verifies it as a
/// seller, registers a place that ops approve, and a product that ops approve: the product is
/// live and its schedule becomes bookable once the reservations service learns it.
pub async fn seed(
    h: &Harness,
    mode: ConfirmationMode,
    payment: PaymentMode,
    capacity: u32,
    price_krw: i64,
) -> Seeded {
    seed_with(h, product_input(h, mode, payment, capacity, price_krw)).await
}

/// Like [`seed`], with the whole product input.
pub async fn seed_with(h: &Harness, input: ProductInput) -> Seeded {
    let mut ops = h.catalog(h.ops()).await;
    let partner = ops
        .register_partner(RegisterPartnerRequest {
            request_id: rid(),
            name: "서울 테이블".into(),
            business_registration_number: "123-45-67891".into(),
            channel_id: "_seoultable".into(),
            channel_business_verified: true,
            industry: "restaurant".into(),
            owner_operator_id: crate::OPERATOR.into(),
            ..Default::default()
        })
        .await
        .expect("register partner")
        .into_inner();
    let partner_id = Uuid::parse_str(&partner.partner_id).unwrap();
    verify_seller(h, partner_id).await;
    // The notifications plan a partner's messages once they know its operators, and give up
    // waiting after ten minutes of business time: a test that moves the clock must not move it
    // before they know them.
    let notifications = h.notifications(h.operator(partner_id, None)).await;
    until("the notifications to know the partner's operators", || {
        let mut n = notifications.clone();
        async move {
            n.list_partner_notifications(
                yeyak_proto::notifications::v1::ListPartnerNotificationsRequest {
                    partner_id: partner_id.to_string(),
                    page_size: 1,
                    ..Default::default()
                },
            )
            .await
            .ok()
        }
    })
    .await;
    let mut catalog = h.catalog(h.operator(partner_id, None)).await;
    let place = catalog
        .register_place(RegisterPlaceRequest {
            request_id: rid(),
            partner_id: partner.partner_id.clone(),
            name: "강남점".into(),
            address: "서울 강남구 테헤란로 1".into(),
        })
        .await
        .expect("register place")
        .into_inner();
    catalog
        .submit_place(PlaceRequest {
            request_id: rid(),
            place_id: place.place_id.clone(),
        })
        .await
        .expect("submit place");
    ops.review_place(ReviewRequest {
        request_id: rid(),
        id: place.place_id.clone(),
        approve: true,
        reason: String::new(),
    })
    .await
    .expect("approve place");
    let product = catalog
        .register_product(RegisterProductRequest {
            request_id: rid(),
            place_id: place.place_id.clone(),
            product: Some(input),
        })
        .await
        .expect("register product")
        .into_inner();
    catalog
        .submit_product(ProductRequest {
            request_id: rid(),
            product_id: product.product_id.clone(),
        })
        .await
        .expect("submit product");
    let product = ops
        .review_product(ReviewRequest {
            request_id: rid(),
            id: product.product_id.clone(),
            approve: true,
            reason: String::new(),
        })
        .await
        .expect("approve product")
        .into_inner();
    Seeded {
        partner_id,
        place_id: Uuid::parse_str(&place.place_id).unwrap(),
        product,
    }
}

/// Books as `customer`, waiting until the reservations service has learned the schedule from the
/// catalog's events (it answers NOT_FOUND / SCHEDULE_NOT_FOUND until then, and PLACE_PAUSED
/// until it learns that a paused place resumed).
pub async fn book(
    h: &Harness,
    customer: &str,
    schedule_id: &str,
    quantity: u32,
    request_id: &str,
) -> Reservation {
    book_request(
        h,
        customer,
        BookRequest {
            request_id: request_id.to_string(),
            reservation_schedule_id: schedule_id.to_string(),
            quantity,
            payment_method: PaymentMethod::KakaoPayCard as i32,
            ..Default::default()
        },
    )
    .await
}

/// Like [`book`], with the whole request (several lines, answers).
pub async fn book_request(h: &Harness, customer: &str, request: BookRequest) -> Reservation {
    let client = h.reservations(h.customer(customer)).await;
    until("the schedule to become bookable", || {
        let mut client = client.clone();
        let request = request.clone();
        async move {
            match client.book(request).await {
                Ok(r) => Some(r.into_inner()),
                Err(s) if ["SCHEDULE_NOT_FOUND", "PLACE_PAUSED"].contains(&reason(&s).as_str()) => {
                    None
                }
                Err(s) => panic!("booking failed: {s:?}"),
            }
        }
    })
    .await;
    let booked = client
        .clone()
        .book(request)
        .await
        .expect("retry returns the booking")
        .into_inner();
    // The partner's operators reach the reservations service on their own stream's events,
    // which over Kafka may come after the product's: wait until the owner may read it.
    let partner_id = Uuid::parse_str(&booked.partner_id).expect("partner id");
    let owner = h.reservations(h.operator(partner_id, None)).await;
    until("the partner's operators to be known", || {
        let mut owner = owner.clone();
        let reservation_id = booked.reservation_id.clone();
        async move {
            let read = owner
                .get_reservation(yeyak_proto::reservations::v1::GetReservationRequest {
                    reservation_id,
                    as_of: None,
                })
                .await;
            match read {
                Err(s) if s.code() == Code::Unavailable => None,
                _ => Some(()),
            }
        }
    })
    .await;
    booked
}

/// A reservation read back (as `client` may see it) once `ready` holds for it.
pub async fn reservation_when(
    client: &yeyak_proto::reservations::v1::reservations_service_client::ReservationsServiceClient<
        crate::Authed,
    >,
    reservation_id: &str,
    ready: impl Fn(&Reservation) -> bool,
) -> Option<Reservation> {
    let read = client
        .clone()
        .get_reservation(yeyak_proto::reservations::v1::GetReservationRequest {
            reservation_id: reservation_id.to_string(),
            as_of: None,
        })
        .await
        .expect("get reservation")
        .into_inner();
    ready(&read).then_some(read)
}

/// The settlement account in the owner's name (`110123456789` at bank `088`).
pub const ACCOUNT_NUMBER: &str = "110123456789";

/// The partner's owner submits its settlement information and KYC documents to the settlement,
/// operations verify them, and the catalog learns that the partner may sell paid products.
pub async fn verify_seller(h: &Harness, partner_id: Uuid) {
    let mut settlement = h.settlement(h.operator(partner_id, None)).await;
    until("the settlement to know the partner's operators", || {
        let mut s = settlement.clone();
        async move {
            s.get_seller_status(GetSellerStatusRequest {
                partner_id: partner_id.to_string(),
            })
            .await
            .ok()
        }
    })
    .await;
    settlement
        .submit_settlement_info(SubmitSettlementInfoRequest {
            request_id: rid(),
            partner_id: partner_id.to_string(),
            business_type: BusinessType::Individual as i32,
            business_owner: "김서울".into(),
            bank_code: "088".into(),
            account_number: ACCOUNT_NUMBER.into(),
            account_holder: "김서울".into(),
            documents: vec![Document {
                kind: DocumentKind::BusinessRegistrationCertificate as i32,
                file_ref: "kyc/business-registration.pdf".into(),
                sha256: "ab".repeat(32),
            }],
            mail_order: MailOrder::Registered as i32,
            mail_order_number: "2026-서울강남-01234".into(),
        })
        .await
        .expect("settlement information submitted");
    h.settlement(h.ops())
        .await
        .review_kyc(ReviewKycRequest {
            request_id: rid(),
            partner_id: partner_id.to_string(),
            verified: true,
            reason: String::new(),
        })
        .await
        .expect("KYC verified");
    let catalog = h.catalog(h.ops()).await;
    until(
        "the catalog to learn the partner may sell paid products",
        || {
            let mut c = catalog.clone();
            async move {
                c.get_partner(GetPartnerRequest {
                    partner_id: partner_id.to_string(),
                })
                .await
                .ok()
                .filter(|p| p.get_ref().may_sell_paid_products)
            }
        },
    )
    .await;
}
