//! Every word the pages say, in Thai (the default) and English (`?lang=en`). A page picks one
//! [`Texts`] for the request; templates read its fields, so a missing translation is a
//! compile error, not a blank on the page.

use otop_domain::reference;

use crate::format::Lang;

pub struct Texts {
    pub site_name: &'static str,
    pub tagline: &'static str,
    pub search_placeholder: &'static str,
    pub search_button: &'static str,
    pub search_label: &'static str,
    pub categories: &'static str,
    pub districts: &'static str,
    pub popular: &'static str,
    pub cart: &'static str,
    pub orders: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub signed_in_as: &'static str,
    pub other_language: &'static str,
    pub results: &'static str,
    pub no_results: &'static str,
    pub filters: &'static str,
    pub district: &'static str,
    pub category: &'static str,
    pub subtype: &'static str,
    pub stars: &'static str,
    pub stars_and_up: &'static str,
    pub price: &'static str,
    pub price_range: &'static str,
    pub in_stock_only: &'static str,
    pub apply: &'static str,
    pub clear_filters: &'static str,
    pub sort: &'static str,
    pub sort_relevance: &'static str,
    pub sort_price_asc: &'static str,
    pub sort_price_desc: &'static str,
    pub sort_newest: &'static str,
    pub sort_best_selling: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    pub page: &'static str,
    pub in_stock: &'static str,
    pub out_of_stock: &'static str,
    pub units_left: &'static str,
    pub by_group: &'static str,
    pub from_district: &'static str,
    pub description: &'static str,
    pub more_from_group: &'static str,
    pub quantity: &'static str,
    pub add_to_cart: &'static str,
    pub added_to_cart: &'static str,
    pub cart_empty: &'static str,
    pub update: &'static str,
    pub remove: &'static str,
    pub subtotal: &'static str,
    pub total: &'static str,
    pub shipping_address: &'static str,
    pub address_name: &'static str,
    pub address_phone: &'static str,
    pub address_line1: &'static str,
    pub address_line2: &'static str,
    pub address_subdistrict: &'static str,
    pub address_district: &'static str,
    pub address_province: &'static str,
    pub address_postcode: &'static str,
    pub check_out: &'static str,
    pub sign_in_to_check_out: &'static str,
    pub one_order_per_group: &'static str,
    pub order: &'static str,
    pub order_status: &'static str,
    pub no_orders: &'static str,
    pub placed: &'static str,
    pub paid: &'static str,
    pub accepted: &'static str,
    pub packed: &'static str,
    pub shipped: &'static str,
    pub delivered: &'static str,
    pub cancelled: &'static str,
    pub expired: &'static str,
    pub carrier: &'static str,
    pub tracking_number: &'static str,
    pub pay_with_promptpay: &'static str,
    pub scan_to_pay: &'static str,
    pub no_promptpay: &'static str,
    pub pay_demo: &'static str,
    pub demo_note: &'static str,
    pub cancel_order: &'static str,
    pub cancel_reason: &'static str,
    pub other_orders_of_checkout: &'static str,
    pub sign_in_title: &'static str,
    pub sign_in_with_provider: &'static str,
    pub dev_sign_in: &'static str,
    pub role: &'static str,
    pub vendor_id: &'static str,
    pub subject: &'static str,
    pub error_title: &'static str,
    pub not_found: &'static str,
    pub back_home: &'static str,
    pub fix_fields: &'static str,
    pub lines_not_reservable: &'static str,
    pub form_expired: &'static str,
    pub footer: &'static str,
    pub skip_to_content: &'static str,
}

pub const TH: Texts = Texts {
    site_name: "ตลาดโอทอปสุรินทร์",
    tagline: "ผ้าไหม เครื่องเงิน ข้าวหอมมะลิ และงานฝีมือจากกลุ่มผู้ผลิตทั้ง 17 อำเภอของสุรินทร์",
    search_placeholder: "ค้นหา เช่น ผ้าไหมมัดหมี่ ข้าวหอมมะลิ",
    search_button: "ค้นหา",
    search_label: "ค้นหาสินค้า",
    categories: "หมวดสินค้า",
    districts: "อำเภอ",
    popular: "สินค้าขายดี",
    cart: "ตะกร้า",
    orders: "คำสั่งซื้อ",
    sign_in: "เข้าสู่ระบบ",
    sign_out: "ออกจากระบบ",
    signed_in_as: "เข้าสู่ระบบเป็น",
    other_language: "English",
    results: "รายการ",
    no_results: "ไม่พบสินค้าที่ตรงกับคำค้น ลองใช้คำอื่นหรือลดตัวกรอง",
    filters: "ตัวกรอง",
    district: "อำเภอ",
    category: "หมวด",
    subtype: "ประเภท",
    stars: "ระดับดาว OTOP",
    stars_and_up: "ดาวขึ้นไป",
    price: "ราคา",
    price_range: "ช่วงราคา",
    in_stock_only: "เฉพาะที่มีสินค้า",
    apply: "ใช้ตัวกรอง",
    clear_filters: "ล้างตัวกรอง",
    sort: "เรียงตาม",
    sort_relevance: "ตรงที่สุด",
    sort_price_asc: "ราคาต่ำไปสูง",
    sort_price_desc: "ราคาสูงไปต่ำ",
    sort_newest: "ใหม่ล่าสุด",
    sort_best_selling: "ขายดี",
    previous: "ก่อนหน้า",
    next: "ถัดไป",
    page: "หน้า",
    in_stock: "มีสินค้า",
    out_of_stock: "สินค้าหมด",
    units_left: "ชิ้นพร้อมส่ง",
    by_group: "ผลิตโดย",
    from_district: "อำเภอ",
    description: "รายละเอียด",
    more_from_group: "สินค้าอื่นของกลุ่มนี้",
    quantity: "จำนวน",
    add_to_cart: "ใส่ตะกร้า",
    added_to_cart: "ใส่ตะกร้าแล้ว",
    cart_empty: "ตะกร้ายังว่างอยู่",
    update: "ปรับจำนวน",
    remove: "ลบ",
    subtotal: "รวม",
    total: "ยอดรวม",
    shipping_address: "ที่อยู่จัดส่ง",
    address_name: "ชื่อผู้รับ",
    address_phone: "เบอร์โทรศัพท์",
    address_line1: "บ้านเลขที่ ถนน",
    address_line2: "รายละเอียดเพิ่มเติม (ถ้ามี)",
    address_subdistrict: "ตำบล/แขวง",
    address_district: "อำเภอ/เขต",
    address_province: "จังหวัด",
    address_postcode: "รหัสไปรษณีย์",
    check_out: "สั่งซื้อ",
    sign_in_to_check_out: "เข้าสู่ระบบเพื่อสั่งซื้อ",
    one_order_per_group: "แต่ละกลุ่มผู้ผลิตจะได้คำสั่งซื้อแยกกัน และชำระแยกกัน",
    order: "คำสั่งซื้อ",
    order_status: "สถานะ",
    no_orders: "ยังไม่มีคำสั่งซื้อ",
    placed: "สั่งซื้อ",
    paid: "ชำระเงินแล้ว",
    accepted: "ผู้ขายรับคำสั่งซื้อ",
    packed: "แพ็กสินค้าแล้ว",
    shipped: "จัดส่งแล้ว",
    delivered: "ได้รับสินค้าแล้ว",
    cancelled: "ยกเลิกแล้ว",
    expired: "หมดเวลาชำระเงิน",
    carrier: "ขนส่ง",
    tracking_number: "เลขพัสดุ",
    pay_with_promptpay: "ชำระด้วยพร้อมเพย์",
    scan_to_pay: "สแกนด้วยแอปธนาคารเพื่อชำระ",
    no_promptpay: "ยังไม่ได้ตั้งค่าพร้อมเพย์ของตลาด โปรดติดต่อสำนักงาน",
    pay_demo: "ชำระเงิน (ทดลอง)",
    demo_note: "โหมดทดลอง: ปุ่มนี้ส่งการยืนยันการชำระเงินที่ลงนามแล้วผ่านระบบชำระเงินจริง",
    cancel_order: "ยกเลิกคำสั่งซื้อ",
    cancel_reason: "เหตุผล",
    other_orders_of_checkout: "คำสั่งซื้ออื่นในการสั่งซื้อครั้งนี้",
    sign_in_title: "เข้าสู่ระบบ",
    sign_in_with_provider: "เข้าสู่ระบบด้วย",
    dev_sign_in: "เข้าสู่ระบบสำหรับทดลอง (เฉพาะโหมดทดลอง)",
    role: "บทบาท",
    vendor_id: "รหัสกลุ่มผู้ผลิต (สำหรับผู้ขาย)",
    subject: "ชื่อผู้ใช้",
    error_title: "เกิดข้อผิดพลาด",
    not_found: "ไม่พบหน้าที่ต้องการ",
    back_home: "กลับหน้าแรก",
    fix_fields: "โปรดแก้ไขข้อมูลต่อไปนี้",
    lines_not_reservable: "สินค้าบางรายการไม่พอสำหรับจำนวนที่สั่ง ยังไม่มีการเรียกเก็บเงิน",
    form_expired: "แบบฟอร์มหมดอายุ โปรดลองอีกครั้ง",
    footer: "ตลาดสินค้าหนึ่งตำบลหนึ่งผลิตภัณฑ์ จังหวัดสุรินทร์",
    skip_to_content: "ข้ามไปยังเนื้อหา",
};

pub const EN: Texts = Texts {
    site_name: "Surin OTOP Market",
    tagline:
        "Silk, silver, jasmine rice and crafts from producer groups in all 17 districts of Surin",
    search_placeholder: "Search, e.g. mudmee silk, jasmine rice",
    search_button: "Search",
    search_label: "Search products",
    categories: "Categories",
    districts: "Districts",
    popular: "Best sellers",
    cart: "Cart",
    orders: "Orders",
    sign_in: "Sign in",
    sign_out: "Sign out",
    signed_in_as: "Signed in as",
    other_language: "ภาษาไทย",
    results: "results",
    no_results: "No products match. Try other words or fewer filters.",
    filters: "Filters",
    district: "District",
    category: "Category",
    subtype: "Type",
    stars: "OTOP stars",
    stars_and_up: "stars and up",
    price: "Price",
    price_range: "Price range",
    in_stock_only: "In stock only",
    apply: "Apply filters",
    clear_filters: "Clear filters",
    sort: "Sort by",
    sort_relevance: "Best match",
    sort_price_asc: "Price, low to high",
    sort_price_desc: "Price, high to low",
    sort_newest: "Newest",
    sort_best_selling: "Best selling",
    previous: "Previous",
    next: "Next",
    page: "Page",
    in_stock: "In stock",
    out_of_stock: "Sold out",
    units_left: "ready to ship",
    by_group: "Made by",
    from_district: "District",
    description: "Description",
    more_from_group: "More from this group",
    quantity: "Quantity",
    add_to_cart: "Add to cart",
    added_to_cart: "Added to your cart",
    cart_empty: "Your cart is empty",
    update: "Update",
    remove: "Remove",
    subtotal: "Subtotal",
    total: "Total",
    shipping_address: "Shipping address",
    address_name: "Recipient",
    address_phone: "Phone",
    address_line1: "House number, street",
    address_line2: "More details (optional)",
    address_subdistrict: "Subdistrict",
    address_district: "District",
    address_province: "Province",
    address_postcode: "Postcode",
    check_out: "Place order",
    sign_in_to_check_out: "Sign in to check out",
    one_order_per_group: "Each producer group gets its own order, paid separately",
    order: "Order",
    order_status: "Status",
    no_orders: "No orders yet",
    placed: "Placed",
    paid: "Paid",
    accepted: "Accepted by the seller",
    packed: "Packed",
    shipped: "Shipped",
    delivered: "Delivered",
    cancelled: "Cancelled",
    expired: "Payment time ran out",
    carrier: "Carrier",
    tracking_number: "Tracking number",
    pay_with_promptpay: "Pay with PromptPay",
    scan_to_pay: "Scan with your banking app to pay",
    no_promptpay: "The market's PromptPay id is not set up; please contact the office",
    pay_demo: "Pay (demo)",
    demo_note:
        "Demo mode: this button sends a signed payment callback through the real payment path",
    cancel_order: "Cancel order",
    cancel_reason: "Reason",
    other_orders_of_checkout: "Other orders of this checkout",
    sign_in_title: "Sign in",
    sign_in_with_provider: "Sign in with",
    dev_sign_in: "Development sign-in (demo mode only)",
    role: "Role",
    vendor_id: "Vendor id (for a vendor)",
    subject: "User name",
    error_title: "Something went wrong",
    not_found: "Page not found",
    back_home: "Back to the home page",
    fix_fields: "Please correct the following",
    lines_not_reservable:
        "Some items are not available in the quantity ordered. Nothing was charged.",
    form_expired: "The form expired; please try again",
    footer: "One Tambon One Product marketplace of Surin province",
    skip_to_content: "Skip to content",
};

pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Th => &TH,
        Lang::En => &EN,
    }
}

/// The name of a district in the page's language (its code when unknown).
pub fn district_name(code: &str, lang: Lang) -> String {
    reference::district(code).map_or_else(
        || code.to_string(),
        |d| match lang {
            Lang::Th => d.name_th.clone(),
            Lang::En => d.name_en.clone(),
        },
    )
}

pub fn category_name(code: &str, lang: Lang) -> String {
    reference::category(code).map_or_else(
        || code.to_string(),
        |c| match lang {
            Lang::Th => c.name_th.clone(),
            Lang::En => c.name_en.clone(),
        },
    )
}

pub fn subtype_name(code: &str, lang: Lang) -> String {
    reference::subtype(code).map_or_else(
        || code.to_string(),
        |s| match lang {
            Lang::Th => s.name_th.clone(),
            Lang::En => s.name_en.clone(),
        },
    )
}

/// An order status as a shopper reads it.
pub fn order_status(status: &str, lang: Lang) -> &'static str {
    let th = matches!(lang, Lang::Th);
    match status {
        "pending" => {
            if th {
                "กำลังจองสินค้า"
            } else {
                "Reserving stock"
            }
        }
        "awaiting_payment" => {
            if th {
                "รอชำระเงิน"
            } else {
                "Awaiting payment"
            }
        }
        "paid" => texts(lang).paid,
        "accepted" => texts(lang).accepted,
        "packed" => texts(lang).packed,
        "shipped" => texts(lang).shipped,
        "delivered" => texts(lang).delivered,
        "cancelled" => texts(lang).cancelled,
        "expired" => texts(lang).expired,
        "rejected" => {
            if th {
                "จองสินค้าไม่สำเร็จ"
            } else {
                "Could not be reserved"
            }
        }
        "refunded" => {
            if th {
                "คืนเงินแล้ว"
            } else {
                "Refunded"
            }
        }
        _ => {
            if th {
                "ไม่ทราบสถานะ"
            } else {
                "Unknown"
            }
        }
    }
}
