//! A realistic mix of commands through the real event store, for tests that need a log:
//! vendors apply and are approved, listings are created, published, repriced and restocked,
//! and orders are placed, reserved, confirmed, paid or cancelled.

use std::collections::HashMap;

use otop_domain::listing::{ListingDetails, StockChange};
use otop_domain::order::{OrderLine, ShippingAddress};
use otop_domain::values::{CategoryCode, DistrictCode, Phone, ProducerType, Satang, SubtypeCode};
use otop_domain::vendor::VendorProfile;
use otop_domain::{
    Actor, EventMetadata, Listing, ListingCommand, Order, OrderCommand, Role, Vendor,
    VendorCommand, VendorStanding, VendorStatus,
};
use otop_projections::AggregateStore;
use sqlx::PgPool;
use uuid::Uuid;

pub struct Stores {
    pub vendors: AggregateStore<Vendor>,
    pub listings: AggregateStore<Listing>,
    pub orders: AggregateStore<Order>,
}

impl Stores {
    pub fn new(pool: &PgPool) -> Self {
        Stores {
            vendors: AggregateStore::new(pool.clone()),
            listings: AggregateStore::new(pool.clone()),
            orders: AggregateStore::new(pool.clone()),
        }
    }
}

pub fn metadata(actor: &Actor) -> HashMap<String, String> {
    EventMetadata::for_request(
        actor.clone(),
        &Uuid::now_v7().to_string(),
        chrono::Utc::now(),
    )
    .to_map()
}

fn satang(amount: u64) -> Satang {
    Satang::parse("amount", amount as i64).expect("positive amount")
}

/// A shopper's address in Mueang Surin, for generated orders.
pub fn surin_address(name: &str, phone: Phone) -> ShippingAddress {
    ShippingAddress {
        name: name.into(),
        phone,
        line1: "99 หมู่ 1".into(),
        line2: None,
        subdistrict: None,
        district: None,
        province: "สุรินทร์".into(),
        postcode: "32000".into(),
    }
}

/// A small deterministic generator (xorshift), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Runs `rounds` rounds of mixed commands over `vendors` vendors with 5 listings each.
pub async fn generate(stores: &Stores, seed: u64, vendors: usize, rounds: usize) {
    let mut rng = Rng::new(seed);
    let admin = Actor::new("admin", Role::Admin);
    let system = Actor::system();
    let districts = ["3201", "3202", "3216", "3210"];
    let mut listings: Vec<(Uuid, Uuid, u64)> = Vec::new();
    for index in 0..vendors {
        let vendor_id = Uuid::now_v7();
        let profile = VendorProfile {
            name_th: format!("กลุ่มทอผ้าบ้าน {index}"),
            name_en: Some(format!("Weavers {index}")),
            district_code: DistrictCode::parse("d", districts[index % districts.len()])
                .expect("district"),
            producer_type: ProducerType::CommunityGroup,
            phone: Phone::parse("p", "0812345678").expect("phone"),
            email: None,
            payout_promptpay: None,
        };
        let id = vendor_id.to_string();
        stores
            .vendors
            .execute(
                &id,
                VendorCommand::Apply {
                    vendor_id,
                    profile,
                    actor: admin.clone(),
                },
                &metadata(&admin),
            )
            .await
            .expect("apply");
        stores
            .vendors
            .execute(
                &id,
                VendorCommand::Approve {
                    actor: admin.clone(),
                },
                &metadata(&admin),
            )
            .await
            .expect("approve");
        let actor = Actor::vendor(format!("vendor-{index}"), vendor_id);
        let standing = VendorStanding {
            vendor_id,
            status: VendorStatus::Approved,
        };
        for item in 0..5 {
            let listing_id = Uuid::now_v7();
            let category = CategoryCode::parse("c", "TEXTILE").expect("category");
            let price = 10_000 + rng.below(500_000);
            let details = ListingDetails {
                title_th: format!("ผ้าไหมมัดหมี่ ลาย {item}"),
                title_en: Some(format!("Mudmee silk {item}")),
                description_th: None,
                description_en: None,
                subtype_code: SubtypeCode::parse("s", "TEX_SILK_MUDMEE", &category)
                    .expect("subtype"),
                category_code: category,
                weight_grams: Some(300),
                otop_stars: None,
                tags: vec!["silk".into()],
                image_urls: vec![],
            };
            let lid = listing_id.to_string();
            stores
                .listings
                .execute(
                    &lid,
                    ListingCommand::Create {
                        listing_id,
                        actor: actor.clone(),
                        vendor: standing,
                        details,
                        price: satang(price),
                        stock: 50,
                    },
                    &metadata(&actor),
                )
                .await
                .expect("create listing");
            stores
                .listings
                .execute(
                    &lid,
                    ListingCommand::Publish {
                        actor: actor.clone(),
                        vendor: standing,
                    },
                    &metadata(&actor),
                )
                .await
                .expect("publish");
            listings.push((listing_id, vendor_id, price));
        }
    }
    for round in 0..rounds {
        let (listing_id, vendor_id, price) = listings[rng.below(listings.len() as u64) as usize];
        let actor = Actor::vendor("vendor", vendor_id);
        let standing = VendorStanding {
            vendor_id,
            status: VendorStatus::Approved,
        };
        let lid = listing_id.to_string();
        match rng.below(4) {
            0 => {
                let price = satang(10_000 + rng.below(500_000));
                let _ = stores
                    .listings
                    .execute(
                        &lid,
                        ListingCommand::ChangePrice {
                            actor: actor.clone(),
                            price,
                        },
                        &metadata(&actor),
                    )
                    .await;
            }
            1 => {
                let change = StockChange::Delta(rng.below(5) as i64 + 1);
                let _ = stores
                    .listings
                    .execute(
                        &lid,
                        ListingCommand::ChangeStock {
                            actor: actor.clone(),
                            change,
                            expected: None,
                        },
                        &metadata(&actor),
                    )
                    .await;
            }
            _ => {
                let order_id = Uuid::now_v7();
                let quantity = rng.below(3) as u32 + 1;
                let shopper = Actor::new(format!("shopper-{}", round % 7), Role::Shopper);
                let oid = order_id.to_string();
                let place = OrderCommand::Place {
                    order_id,
                    checkout_id: Uuid::now_v7(),
                    actor: shopper.clone(),
                    shopper_id: shopper.id.clone(),
                    vendor_id,
                    lines: vec![OrderLine {
                        listing_id,
                        quantity,
                        unit_price: satang(price),
                    }],
                    shipping_address: surin_address(
                        "สมหญิง",
                        Phone::parse("p", "0812345678").expect("phone"),
                    ),
                };
                stores
                    .orders
                    .execute(&oid, place, &metadata(&shopper))
                    .await
                    .expect("place");
                let reserved = stores
                    .listings
                    .execute(
                        &lid,
                        ListingCommand::Reserve {
                            order_id,
                            quantity,
                            vendor: standing,
                        },
                        &metadata(&system),
                    )
                    .await;
                if reserved.is_err() {
                    let reject = OrderCommand::Reject {
                        actor: system.clone(),
                        reason: "no stock".into(),
                        failed_listings: vec![listing_id],
                    };
                    stores
                        .orders
                        .execute(&oid, reject, &metadata(&system))
                        .await
                        .expect("reject");
                    continue;
                }
                stores
                    .orders
                    .execute(
                        &oid,
                        OrderCommand::Confirm {
                            actor: system.clone(),
                        },
                        &metadata(&system),
                    )
                    .await
                    .expect("confirm");
                if rng.below(3) == 0 {
                    stores
                        .orders
                        .execute(
                            &oid,
                            OrderCommand::Cancel {
                                actor: shopper.clone(),
                                reason: "changed mind".into(),
                            },
                            &metadata(&shopper),
                        )
                        .await
                        .expect("cancel");
                    stores
                        .listings
                        .execute(
                            &lid,
                            ListingCommand::Release { order_id },
                            &metadata(&system),
                        )
                        .await
                        .expect("release");
                } else {
                    let pay = OrderCommand::RecordPayment {
                        commission_bps: 0,
                        actor: system.clone(),
                        amount: satang(price * u64::from(quantity)),
                        reference: format!("pp-{order_id}"),
                    };
                    stores
                        .orders
                        .execute(&oid, pay, &metadata(&system))
                        .await
                        .expect("pay");
                    stores
                        .listings
                        .execute(
                            &lid,
                            ListingCommand::Commit { order_id },
                            &metadata(&system),
                        )
                        .await
                        .expect("commit");
                }
            }
        }
    }
}
