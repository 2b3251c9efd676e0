//! Small inline SVG drawings that stand in for product photos.
//!
//! The demo catalog has no photos, and a page must never show a broken image, so every
//! product card gets a drawing chosen by its OTOP sub-type: a mudmee diamond for ikat silk,
//! a rice sheaf for jasmine rice, a string of prakuem beads for silver, woven checks for
//! basketry and so on. A sub-type without a drawing of its own falls back to its category's
//! drawing, and an unknown category to a neutral parcel.
//!
//! Each drawing is one `<svg>` element with a `viewBox` and no fixed size (CSS sizes it), an
//! accessible name (`role="img"`, `aria-label` and a `<title>`), and no `id`s, so any number
//! of them can sit on one page without clashing. Each is well under 1.5 kB.

use std::fmt::Write as _;

/// Writes formatted text to a `String`; writing to a `String` cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// The colours one drawing uses: a background, a main colour and two supporting ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Palette {
    bg: &'static str,
    main: &'static str,
    second: &'static str,
    accent: &'static str,
}

/// The five OTOP categories of `data/otop_categories.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    Food,
    Bev,
    Textile,
    Craft,
    Herbal,
}

impl Category {
    fn from_code(code: &str) -> Option<Category> {
        Some(match code {
            "FOOD" => Category::Food,
            "BEV" => Category::Bev,
            "TEXTILE" => Category::Textile,
            "CRAFT" => Category::Craft,
            "HERBAL" => Category::Herbal,
            _ => return None,
        })
    }

    /// The drawing of a sub-type that has none of its own.
    fn motif(self) -> Motif {
        match self {
            Category::Food => Motif::RiceSheaf,
            Category::Bev => Motif::Drink,
            Category::Textile => Motif::Mudmee,
            Category::Craft => Motif::Basketry,
            Category::Herbal => Motif::Leaf,
        }
    }

    fn palette(self) -> Palette {
        match self {
            // Warm silk: plum, gold and a deep magenta on raw-silk cream.
            Category::Textile => Palette {
                bg: "#f6eedf",
                main: "#5e2a5a",
                second: "#c8962e",
                accent: "#a8436e",
            },
            // Rice fields: greens and ripe-grain gold.
            Category::Food => Palette {
                bg: "#eef3e1",
                main: "#4f7a2c",
                second: "#d2a63c",
                accent: "#8db25a",
            },
            // Drinks: tea green, amber and a pale mint.
            Category::Bev => Palette {
                bg: "#e6f1ec",
                main: "#2e7565",
                second: "#d79b3c",
                accent: "#9ccab8",
            },
            // Crafts: silver greys with a wood brown.
            Category::Craft => Palette {
                bg: "#eceef1",
                main: "#5f6873",
                second: "#c3cad1",
                accent: "#8c6a48",
            },
            // Herbs: leaf greens and turmeric.
            Category::Herbal => Palette {
                bg: "#edf4e6",
                main: "#3d7444",
                second: "#a5c987",
                accent: "#b0823a",
            },
        }
    }
}

/// Warm greys for a product whose category is not known.
const NEUTRAL: Palette = Palette {
    bg: "#f1eee8",
    main: "#8a8275",
    second: "#d6cfc2",
    accent: "#a99e8c",
};

/// One drawing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Motif {
    Mudmee,
    Hol,
    Amprom,
    YokThong,
    SilkBolts,
    Tartan,
    Scarf,
    PhaKhaoMa,
    Bag,
    RiceSheaf,
    RiceBowl,
    Sweets,
    Jar,
    Chili,
    Tea,
    Drink,
    Juice,
    RiceDrink,
    PrakuemBeads,
    Takao,
    Basketry,
    SedgeMat,
    WoodGrain,
    Elephant,
    Soap,
    Balm,
    Compress,
    Cosmetic,
    Lemongrass,
    Leaf,
    Parcel,
}

impl Motif {
    /// The name written to `data-motif`, for CSS hooks and tests.
    fn name(self) -> &'static str {
        match self {
            Motif::Mudmee => "mudmee",
            Motif::Hol => "hol",
            Motif::Amprom => "amprom",
            Motif::YokThong => "yok-thong",
            Motif::SilkBolts => "silk-bolts",
            Motif::Tartan => "tartan",
            Motif::Scarf => "scarf",
            Motif::PhaKhaoMa => "pha-khao-ma",
            Motif::Bag => "bag",
            Motif::RiceSheaf => "rice-sheaf",
            Motif::RiceBowl => "rice-bowl",
            Motif::Sweets => "sweets",
            Motif::Jar => "jar",
            Motif::Chili => "chili",
            Motif::Tea => "tea",
            Motif::Drink => "drink",
            Motif::Juice => "juice",
            Motif::RiceDrink => "rice-drink",
            Motif::PrakuemBeads => "prakuem-beads",
            Motif::Takao => "takao",
            Motif::Basketry => "basketry",
            Motif::SedgeMat => "sedge-mat",
            Motif::WoodGrain => "wood-grain",
            Motif::Elephant => "elephant",
            Motif::Soap => "soap",
            Motif::Balm => "balm",
            Motif::Compress => "compress",
            Motif::Cosmetic => "cosmetic",
            Motif::Lemongrass => "lemongrass",
            Motif::Leaf => "leaf",
            Motif::Parcel => "parcel",
        }
    }
}

/// The drawing of each sub-type of `data/otop_subtypes.csv`, with the category it belongs to.
fn subtype_motif(code: &str) -> Option<(Motif, Category)> {
    use Category::*;
    Some(match code {
        "FOOD_RICE_HOMMALI" => (Motif::RiceSheaf, Food),
        "FOOD_RICE_COLOURED" => (Motif::RiceBowl, Food),
        "FOOD_SNACK" => (Motif::Sweets, Food),
        "FOOD_LOCAL" => (Motif::Jar, Food),
        "FOOD_CHILI" => (Motif::Chili, Food),
        "BEV_TEA" => (Motif::Tea, Bev),
        "BEV_JUICE" => (Motif::Juice, Bev),
        "BEV_RICE" => (Motif::RiceDrink, Bev),
        "TEX_SILK_MUDMEE" => (Motif::Mudmee, Textile),
        "TEX_SILK_HOL" => (Motif::Hol, Textile),
        "TEX_SILK_AMPROM" => (Motif::Amprom, Textile),
        "TEX_SILK_YOKTHONG" => (Motif::YokThong, Textile),
        "TEX_SILK_PLAIN" => (Motif::SilkBolts, Textile),
        "TEX_SARONG" => (Motif::Tartan, Textile),
        "TEX_SCARF" => (Motif::Scarf, Textile),
        "TEX_COTTON" => (Motif::PhaKhaoMa, Textile),
        "TEX_GARMENT" => (Motif::Bag, Textile),
        "CRF_SILVER_PRAKUEM" => (Motif::PrakuemBeads, Craft),
        "CRF_SILVER_TAKAO" => (Motif::Takao, Craft),
        "CRF_BASKETRY" => (Motif::Basketry, Craft),
        "CRF_SEDGE" => (Motif::SedgeMat, Craft),
        "CRF_WOOD" => (Motif::WoodGrain, Craft),
        "CRF_SOUVENIR" => (Motif::Elephant, Craft),
        "HERB_SOAP" => (Motif::Soap, Herbal),
        "HERB_BALM" => (Motif::Balm, Herbal),
        "HERB_COMPRESS" => (Motif::Compress, Herbal),
        "HERB_COSMETIC" => (Motif::Cosmetic, Herbal),
        "HERB_AROMA" => (Motif::Lemongrass, Herbal),
        _ => return None,
    })
}

/// Escapes text for an XML attribute value or element content, and drops the control
/// characters XML 1.0 does not allow.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The drawing for a product of sub-type `subtype_code` in category `category_code`, named
/// `title` for assistive technology. A known sub-type gets its own drawing in its own
/// category's colours; an unknown sub-type gets its category's drawing; an unknown category
/// a neutral parcel. Codes are matched ignoring case and surrounding spaces.
pub fn artwork_svg(subtype_code: &str, category_code: &str, title: &str) -> String {
    let subtype = subtype_motif(&subtype_code.trim().to_ascii_uppercase());
    let category = subtype
        .map(|(_, category)| category)
        .or_else(|| Category::from_code(&category_code.trim().to_ascii_uppercase()));
    let motif = match (subtype, category) {
        (Some((motif, _)), _) => motif,
        (None, Some(category)) => category.motif(),
        (None, None) => Motif::Parcel,
    };
    let palette = category.map_or(NEUTRAL, Category::palette);
    let label = escape(title);

    let mut out = String::with_capacity(1536);
    w!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 120" class="otop-art" data-motif="{}" role="img" aria-label="{label}"><title>{label}</title><rect width="120" height="120" rx="12" fill="{}"/>"#,
        motif.name(),
        palette.bg
    );
    draw(motif, &palette, &mut out);
    out.push_str("</svg>");
    out
}

fn draw(motif: Motif, p: &Palette, o: &mut String) {
    match motif {
        Motif::Mudmee => mudmee(p, o),
        Motif::Hol => hol(p, o),
        Motif::Amprom => amprom(p, o),
        Motif::YokThong => yok_thong(p, o),
        Motif::SilkBolts => silk_bolts(p, o),
        Motif::Tartan => tartan(p, o),
        Motif::Scarf => scarf(p, o),
        Motif::PhaKhaoMa => pha_khao_ma(o),
        Motif::Bag => bag(p, o),
        Motif::RiceSheaf => rice_sheaf(p, o),
        Motif::RiceBowl => rice_bowl(p, o),
        Motif::Sweets => sweets(p, o),
        Motif::Jar => jar(p, o),
        Motif::Chili => chili(p, o),
        Motif::Tea => tea(p, o),
        Motif::Drink => drink(p, o),
        Motif::Juice => juice(p, o),
        Motif::RiceDrink => rice_drink(p, o),
        Motif::PrakuemBeads => prakuem_beads(p, o),
        Motif::Takao => takao(p, o),
        Motif::Basketry => basketry(p, o),
        Motif::SedgeMat => sedge_mat(o),
        Motif::WoodGrain => wood_grain(o),
        Motif::Elephant => elephant(p, o),
        Motif::Soap => soap(p, o),
        Motif::Balm => balm(p, o),
        Motif::Compress => compress(p, o),
        Motif::Cosmetic => cosmetic(p, o),
        Motif::Lemongrass => lemongrass(p, o),
        Motif::Leaf => leaf(o, 60, 60, 30, 1.1, p.main, p.bg),
        Motif::Parcel => parcel(p, o),
    }
}

/// Path data for a zigzag from `x0` along `y`, `teeth` teeth of width `step`, pointing up
/// by `amp` (down when `amp` is negative).
fn zigzag(d: &mut String, x0: i32, y: i32, step: i32, amp: i32, teeth: u32) {
    w!(d, "M{x0} {y}");
    let half = step / 2;
    for _ in 0..teeth {
        w!(d, "l{half} {} {half} {amp}", -amp);
    }
}

/// A leaf (80 units tall before scaling) with its veins, centred on `(x, y)`.
fn leaf(o: &mut String, x: i32, y: i32, rotate: i32, scale: f32, fill: &str, vein: &str) {
    w!(
        o,
        r#"<g transform="translate({x} {y}) rotate({rotate}) scale({scale})"><path d="M0-40C30-24 32 16 0 40C-32 16-30-24 0-40Z" fill="{fill}"/><path d="M0-32V34M0-12l14-10M0 4l16-10M0 20l12-8M0-12l-14-10M0 4l-16-10M0 20l-12-8" fill="none" stroke="{vein}" stroke-width="2.5" stroke-linecap="round"/></g>"#
    );
}

// --- Textiles -------------------------------------------------------------------------

/// Mudmee (ikat): nested diamonds with the blurred, dashed edge of tie-dyed threads,
/// between zigzag borders.
fn mudmee(p: &Palette, o: &mut String) {
    let mut d = String::new();
    zigzag(&mut d, 10, 16, 10, 6, 10);
    zigzag(&mut d, 10, 104, 10, -6, 10);
    w!(
        o,
        r#"<path d="{d}" fill="none" stroke="{s}" stroke-width="3"/><path d="M60 22 98 60 60 98 22 60Z" fill="none" stroke="{a}" stroke-width="3" stroke-dasharray="5 3"/><path d="M60 28 92 60 60 92 28 60Z" fill="{m}"/><path d="M60 40 80 60 60 80 40 60Z" fill="{s}"/><path d="M60 50 70 60 60 70 50 60Z" fill="{a}"/><path d="M60 32V36M60 84V88M32 60H36M84 60H88" stroke="{s}" stroke-width="3"/>"#,
        s = p.second,
        a = p.accent,
        m = p.main
    );
}

/// Hol: bands of zigzags across the whole cloth.
fn hol(p: &Palette, o: &mut String) {
    let colours = [p.main, p.second, p.accent];
    for (i, colour) in colours.iter().enumerate() {
        let mut d = String::new();
        for band in [i as i32, i as i32 + 3] {
            zigzag(&mut d, 4, 26 + band * 16, 16, 8, 7);
        }
        w!(
            o,
            r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="7"/>"#
        );
    }
}

/// Amprom: a dark ground scattered with small gold diamonds and dots.
fn amprom(p: &Palette, o: &mut String) {
    let mut diamonds = String::new();
    let mut dots = String::new();
    for row in 0..5 {
        for col in 0..5 {
            let (x, y) = (24 + col * 18, 24 + row * 18);
            w!(diamonds, "M{x} {}l5 5-5 5-5-5Z", y - 5);
            if row < 4 && col < 4 {
                w!(dots, "M{} {}h0", x + 9, y + 9);
            }
        }
    }
    w!(
        o,
        r#"<rect x="12" y="12" width="96" height="96" rx="6" fill="{m}"/><path d="{diamonds}" fill="{s}"/><path d="{dots}" stroke="{a}" stroke-width="4" stroke-linecap="round"/>"#,
        m = p.main,
        s = p.second,
        a = p.accent
    );
}

/// Yok thong: gold brocade, a gold flower on purple between toothed borders.
fn yok_thong(p: &Palette, o: &mut String) {
    let mut teeth = String::new();
    zigzag(&mut teeth, 10, 28, 10, -6, 10);
    zigzag(&mut teeth, 10, 92, 10, 6, 10);
    w!(
        o,
        r#"<rect x="10" y="10" width="100" height="100" rx="6" fill="{m}"/><path d="M10 24H110M10 96H110" stroke="{s}" stroke-width="5"/><path d="{teeth}" fill="none" stroke="{s}" stroke-width="2"/><path d="M60 38 82 60 60 82 38 60Z" fill="none" stroke="{s}" stroke-width="3"/><g fill="{s}"><circle cx="60" cy="50" r="6"/><circle cx="70" cy="60" r="6"/><circle cx="60" cy="70" r="6"/><circle cx="50" cy="60" r="6"/></g><circle cx="60" cy="60" r="4" fill="{a}"/>"#,
        m = p.main,
        s = p.second,
        a = p.accent
    );
}

/// Luk kaeo twill and plain silk: a stack of folded lengths with a twill sheen.
fn silk_bolts(p: &Palette, o: &mut String) {
    w!(
        o,
        r##"<rect x="16" y="74" width="88" height="24" rx="6" fill="{m}"/><rect x="20" y="50" width="80" height="24" rx="6" fill="{a}"/><rect x="24" y="26" width="72" height="24" rx="6" fill="{s}"/><path d="M30 38h60M26 62h68M22 86h76" stroke="#fff" stroke-opacity=".45" stroke-width="3" stroke-dasharray="2 3"/>"##,
        m = p.main,
        a = p.accent,
        s = p.second
    );
}

/// Sarongs: a broad tartan check.
fn tartan(p: &Palette, o: &mut String) {
    w!(
        o,
        r##"<rect x="12" y="12" width="96" height="96" rx="6" fill="{a}"/><path d="M12 36H108M12 84H108M36 12V108M84 12V108" stroke="{m}" stroke-width="16" stroke-opacity=".7"/><path d="M12 60H108M60 12V108" stroke="{s}" stroke-width="6" stroke-opacity=".85"/><path d="M12 24H108M12 48H108M12 72H108M12 96H108M24 12V108M48 12V108M72 12V108M96 12V108" stroke="#fff" stroke-opacity=".35" stroke-width="1.5"/>"##,
        a = p.accent,
        m = p.main,
        s = p.second
    );
}

/// Scarves: two lengths hanging from a rail, striped and fringed.
fn scarf(p: &Palette, o: &mut String) {
    let mut fringe = String::new();
    for x in (36..56).step_by(4) {
        w!(fringe, "M{x} 88v8");
    }
    for x in (58..78).step_by(4) {
        w!(fringe, "M{x} 74v8");
    }
    w!(
        o,
        r#"<path d="M20 24H100" stroke="{ac}" stroke-width="5" stroke-linecap="round"/><rect x="34" y="24" width="22" height="64" fill="{m}"/><rect x="56" y="24" width="22" height="50" fill="{s}"/><path d="M34 40h22M34 76h22" stroke="{s}" stroke-width="4"/><path d="M56 40h22M56 62h22" stroke="{m}" stroke-width="4"/><path d="{fringe}" stroke="{ac}" stroke-width="2"/>"#,
        ac = p.accent,
        m = p.main,
        s = p.second
    );
}

/// Handwoven cotton and pha khao ma: an indigo and red checked cloth with a fringe.
fn pha_khao_ma(o: &mut String) {
    let mut fringe = String::new();
    for x in (18..106).step_by(6) {
        w!(fringe, "M{x} 94v10");
    }
    w!(
        o,
        r##"<rect x="14" y="14" width="92" height="80" fill="#2f4f7f"/><path d="M14 30H106M14 54H106M14 78H106M30 14V94M54 14V94M78 14V94M102 14V94" stroke="#b8403a" stroke-width="8" stroke-opacity=".8"/><path d="M14 42H106M14 66H106M42 14V94M66 14V94M90 14V94" stroke="#eadcb4" stroke-width="3" stroke-opacity=".8"/><path d="{fringe}" stroke="#2f4f7f" stroke-width="2"/>"##
    );
}

/// Garments and bags: a tote with a woven band.
fn bag(p: &Palette, o: &mut String) {
    let mut band = String::new();
    zigzag(&mut band, 32, 72, 8, 6, 7);
    w!(
        o,
        r#"<path d="M44 46V38a16 16 0 0 1 32 0v8" fill="none" stroke="{a}" stroke-width="5"/><path d="M28 46h64l-6 52H34Z" fill="{m}"/><path d="M30 64h60v14H30Z" fill="{s}"/><path d="{band}" fill="none" stroke="{m}" stroke-width="2"/>"#,
        a = p.accent,
        m = p.main,
        s = p.second
    );
}

// --- Food and drink -------------------------------------------------------------------

/// Rice: a sheaf tied at the middle, its heavy heads drooping.
fn rice_sheaf(p: &Palette, o: &mut String) {
    w!(
        o,
        r#"<path d="M46 42 66 104M60 34V104M74 42 54 104M36 54 70 102M84 54 50 102" stroke="{m}" stroke-width="3" stroke-linecap="round"/><path d="M46 42q-10 2-14 18M60 34q-8 4-10 20M74 42q10 2 14 18M60 34q8 4 10 20M36 54q-8 4-10 18M84 54q8 4 10 18" fill="none" stroke="{s}" stroke-width="5" stroke-linecap="round" stroke-dasharray="3 4"/><path d="M50 80h20" stroke="{a}" stroke-width="7" stroke-linecap="round"/>"#,
        m = p.main,
        s = p.second,
        a = p.accent
    );
}

/// Brown and pigmented rice: a bowl heaped with riceberry, brown and white grains.
fn rice_bowl(p: &Palette, o: &mut String) {
    w!(
        o,
        r##"<path d="M28 62Q60 18 92 62Z" fill="#5a2d4e"/><path d="M38 56h44M44 49h32M52 43h16" stroke="#c98d5a" stroke-width="4" stroke-linecap="round" stroke-dasharray="3 5"/><path d="M41 52h38M47 46h26" stroke="#f4ecd8" stroke-width="4" stroke-linecap="round" stroke-dasharray="3 6"/><path d="M22 62h76a38 34 0 0 1-76 0Z" fill="{m}"/><path d="M28 74h64" stroke="{s}" stroke-width="3"/><rect x="48" y="94" width="24" height="6" rx="2" fill="{m}"/>"##,
        m = p.main,
        s = p.second
    );
}

/// Snacks and sweets: three round sweets on a plate.
fn sweets(p: &Palette, o: &mut String) {
    w!(
        o,
        r##"<ellipse cx="60" cy="84" rx="46" ry="14" fill="{a}"/><ellipse cx="60" cy="82" rx="38" ry="10" fill="#fff" fill-opacity=".6"/><circle cx="42" cy="70" r="14" fill="{s}"/><circle cx="78" cy="70" r="14" fill="{s}"/><circle cx="60" cy="56" r="14" fill="#e0b860"/><g fill="none" stroke="{m}" stroke-width="2.5" stroke-linecap="round" stroke-dasharray="0 5"><circle cx="42" cy="70" r="8"/><circle cx="78" cy="70" r="8"/><circle cx="60" cy="56" r="8"/></g>"##,
        a = p.accent,
        s = p.second,
        m = p.main
    );
}

/// Local preserved foods: a jar with a cloth-covered lid and a label.
fn jar(p: &Palette, o: &mut String) {
    w!(
        o,
        r#"<rect x="34" y="38" width="52" height="62" rx="12" fill="{m}"/><path d="M32 32q28-14 56 0l-4 10H36Z" fill="{s}"/><path d="M36 40h48" stroke="{a}" stroke-width="3"/><rect x="42" y="58" width="36" height="24" rx="4" fill="{bg}"/><path d="M48 66h24M48 74h16" stroke="{m}" stroke-width="3" stroke-linecap="round"/>"#,
        m = p.main,
        s = p.second,
        a = p.accent,
        bg = p.bg
    );
}

/// Chili pastes and condiments: a red chili with its green stem.
fn chili(p: &Palette, o: &mut String) {
    w!(
        o,
        r##"<path d="M38 38C34 66 52 88 92 100C66 84 58 62 56 36Z" fill="#c8312a"/><path d="M43 46c1 16 8 30 22 40" fill="none" stroke="#fff" stroke-opacity=".35" stroke-width="3" stroke-linecap="round"/><path d="M36 38q11-8 22 0" fill="none" stroke="{m}" stroke-width="6" stroke-linecap="round"/><path d="M47 34c0-8 4-14 12-18" fill="none" stroke="{m}" stroke-width="5" stroke-linecap="round"/>"##,
        m = p.main
    );
}

/// Herbal teas: a steaming cup with a leaf, on a saucer.
fn tea(p: &Palette, o: &mut String) {
    w!(
        o,
        r#"<path d="M46 46c-6-8 6-12 0-20M62 46c-6-8 6-12 0-20" fill="none" stroke="{a}" stroke-width="3" stroke-linecap="round"/><ellipse cx="56" cy="94" rx="38" ry="6" fill="{a}"/><path d="M82 62h6a8 8 0 0 1 0 16h-8" fill="none" stroke="{m}" stroke-width="5"/><path d="M30 54h52v12a26 26 0 0 1-52 0Z" fill="{m}"/>"#,
        a = p.accent,
        m = p.main
    );
    leaf(o, 56, 70, 40, 0.22, p.second, p.main);
}

/// A glass with `liquid` in it (the drink drawings share it).
fn glass(o: &mut String, p: &Palette, liquid: &str) {
    w!(
        o,
        r##"<path d="M36 30h48l-6 66H42Z" fill="#fff" fill-opacity=".6" stroke="{m}" stroke-width="3"/><path d="M39 50h42l-4 44H43Z" fill="{liquid}"/>"##,
        m = p.main
    );
}

/// Drinks in general: a glass with ice.
fn drink(p: &Palette, o: &mut String) {
    glass(o, p, p.second);
    o.push_str(r##"<g fill="#fff" fill-opacity=".7"><rect x="46" y="56" width="11" height="11" rx="2"/><rect x="61" y="64" width="11" height="11" rx="2"/></g>"##);
}

/// Fruit and herbal drinks: a glass with a straw and a citrus slice on the rim.
fn juice(p: &Palette, o: &mut String) {
    w!(
        o,
        r#"<path d="M66 64 78 18h10" fill="none" stroke="{a}" stroke-width="4"/>"#,
        a = p.accent
    );
    glass(o, p, "#e8912e");
    o.push_str(r##"<circle cx="38" cy="32" r="13" fill="#f2c14e" stroke="#e09a2a" stroke-width="3"/><path d="M38 20v24M26 32h24M30 24l16 16M46 24 30 40" stroke="#e09a2a" stroke-width="1.5"/>"##);
}

/// Rice-based drinks: a bottle whose label carries three rice grains.
fn rice_drink(p: &Palette, o: &mut String) {
    w!(
        o,
        r#"<path d="M50 18h20v12c10 6 14 14 14 24v42a6 6 0 0 1-6 6H42a6 6 0 0 1-6-6V54c0-10 4-18 14-24Z" fill="{m}"/><rect x="48" y="12" width="24" height="8" rx="2" fill="{s}"/><rect x="40" y="58" width="40" height="28" rx="3" fill="{bg}"/><g fill="{s}"><ellipse cx="51" cy="73" rx="4" ry="8" transform="rotate(-30 51 73)"/><ellipse cx="60" cy="71" rx="4" ry="8"/><ellipse cx="69" cy="73" rx="4" ry="8" transform="rotate(30 69 73)"/></g>"#,
        m = p.main,
        s = p.second,
        bg = p.bg
    );
}

// --- Crafts ---------------------------------------------------------------------------

/// Prakuem: a necklace of granulated silver beads with a diamond pendant.
fn prakuem_beads(p: &Palette, o: &mut String) {
    // The string is the quadratic from (14, 22) through (60, 86) to (106, 22); the beads
    // grow towards the middle one and sit far enough apart not to overlap.
    const BEADS: [(f64, u32); 7] = [
        (0.08, 5),
        (0.2, 5),
        (0.34, 7),
        (0.5, 9),
        (0.66, 7),
        (0.8, 5),
        (0.92, 5),
    ];
    let mut beads = String::new();
    let mut granules = String::new();
    for (t, r) in BEADS {
        let x = 14.0 + 92.0 * t;
        let y = 22.0 + 256.0 * t * (1.0 - t);
        w!(beads, r#"<circle cx="{x:.0}" cy="{y:.0}" r="{r}"/>"#);
        if r > 5 {
            w!(
                granules,
                r#"<circle cx="{x:.0}" cy="{y:.0}" r="{}"/>"#,
                r - 3
            );
        }
    }
    w!(
        o,
        r#"<path d="M14 22Q60 150 106 22" fill="none" stroke="{m}" stroke-width="2"/><path d="M60 94 68 104 60 114 52 104Z" fill="{s}" stroke="{m}" stroke-width="2"/><g fill="{s}" stroke="{m}" stroke-width="2">{beads}</g><g fill="none" stroke="{m}" stroke-width="2" stroke-linecap="round" stroke-dasharray="0 3">{granules}</g>"#,
        m = p.main,
        s = p.second
    );
}

/// Takao: a filigree flower of twisted silver wire.
fn takao(p: &Palette, o: &mut String) {
    let mut petals = String::new();
    for angle in (0..360).step_by(60) {
        w!(
            petals,
            r#"<ellipse cx="60" cy="38" rx="8" ry="15" transform="rotate({angle} 60 60)"/>"#
        );
    }
    let mut curls = String::new();
    for i in 0..6 {
        let angle = (30.0 + 60.0 * f64::from(i)).to_radians();
        let (x, y) = (60.0 + 34.0 * angle.sin(), 60.0 - 34.0 * angle.cos());
        w!(curls, r#"<circle cx="{x:.0}" cy="{y:.0}" r="3"/>"#);
    }
    w!(
        o,
        r#"<g fill="none" stroke="{m}" stroke-width="2.5"><circle cx="60" cy="60" r="46" stroke-dasharray="2 3"/>{petals}{curls}</g><circle cx="60" cy="60" r="7" fill="{s}" stroke="{m}" stroke-width="2.5"/>"#,
        m = p.main,
        s = p.second
    );
}

/// Bamboo and rattan basketry: an over-and-under weave of bamboo strips.
fn basketry(p: &Palette, o: &mut String) {
    let mut strips = String::new();
    for row in 0..4 {
        for col in 0..4 {
            let (x, y) = (20 + col * 20, 20 + row * 20);
            if (row + col) % 2 == 0 {
                w!(strips, "M{x} {}h20M{x} {}h20", y + 5, y + 15);
            } else {
                w!(strips, "M{} {y}v20M{} {y}v20", x + 5, x + 15);
            }
        }
    }
    w!(
        o,
        r##"<rect x="16" y="16" width="88" height="88" rx="6" fill="{a}"/><path d="{strips}" stroke="#dcb97c" stroke-width="7"/><rect x="16" y="16" width="88" height="88" rx="6" fill="none" stroke="{m}" stroke-width="4"/>"##,
        a = p.accent,
        m = p.main
    );
}

/// Sedge mats: a striped mat with a diamond, its end rolled.
fn sedge_mat(o: &mut String) {
    let mut warp = String::new();
    for x in (22..94).step_by(8) {
        w!(warp, "M{x} 22v76");
    }
    w!(
        o,
        r##"<rect x="14" y="22" width="82" height="76" rx="3" fill="#d8c48c"/><path d="{warp}" stroke="#000" stroke-opacity=".08" stroke-width="2"/><path d="M14 32h82M14 88h82" stroke="#9b3d5b" stroke-width="6"/><path d="M14 44h82M14 76h82" stroke="#3f7a5a" stroke-width="4"/><path d="M55 50 65 60 55 70 45 60Z" fill="#9b3d5b"/><rect x="92" y="18" width="16" height="84" rx="8" fill="#c4ad70"/><ellipse cx="100" cy="24" rx="6" ry="4" fill="#a8915a"/>"##
    );
}

/// Wood products: a plank with flowing grain around a knot.
fn wood_grain(o: &mut String) {
    o.push_str(r##"<rect x="14" y="24" width="92" height="72" rx="8" fill="#b9824f"/><path d="M14 36c24-6 48 6 92 0M14 46c20-4 36 4 44 0s20-6 48-2M14 56c20 0 36-6 56-6s30 6 36 6M14 74c20 0 36 6 56 6s30-6 36-6M14 86c24 4 48-6 92 0" fill="none" stroke="#8a5a32" stroke-width="2.5"/><ellipse cx="70" cy="64" rx="10" ry="6" fill="none" stroke="#8a5a32" stroke-width="2.5"/><ellipse cx="70" cy="64" rx="4" ry="2" fill="#8a5a32"/>"##);
}

/// Souvenirs: a Surin elephant in a silk saddle cloth.
fn elephant(p: &Palette, o: &mut String) {
    w!(
        o,
        r##"<path d="M94 56q8 6 5 16" fill="none" stroke="{m}" stroke-width="3" stroke-linecap="round"/><g fill="{m}"><ellipse cx="66" cy="60" rx="30" ry="22"/><circle cx="38" cy="52" r="16"/><rect x="42" y="70" width="11" height="26" rx="3"/><rect x="56" y="72" width="11" height="24" rx="3"/><rect x="72" y="72" width="11" height="24" rx="3"/><rect x="85" y="68" width="10" height="28" rx="3"/></g><path d="M26 56c-6 10-6 22 2 32" fill="none" stroke="{m}" stroke-width="8" stroke-linecap="round"/><ellipse cx="46" cy="54" rx="9" ry="13" fill="{s}"/><circle cx="32" cy="48" r="2" fill="#2b2f33"/><path d="M30 62q4 6 10 4" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round"/><path d="M58 41q14-5 28 0v24H58Z" fill="#6b2d5c" stroke="#c9962e" stroke-width="3"/>"##,
        m = p.main,
        s = p.second
    );
}

// --- Herbal products ------------------------------------------------------------------

/// Herbal soaps and shampoos: a bar of soap with a leaf, and bubbles.
fn soap(p: &Palette, o: &mut String) {
    w!(
        o,
        r##"<g fill="none" stroke="{m}" stroke-width="2"><circle cx="82" cy="34" r="8"/><circle cx="96" cy="48" r="5"/><circle cx="68" cy="24" r="4"/></g><rect x="22" y="50" width="68" height="42" rx="12" fill="{s}"/><rect x="28" y="56" width="56" height="30" rx="8" fill="none" stroke="#fff" stroke-opacity=".7" stroke-width="2"/>"##,
        m = p.main,
        s = p.second
    );
    leaf(o, 56, 71, 60, 0.28, p.main, p.second);
}

/// Herbal balms and massage oils: a balm tin and a drop of oil.
fn balm(p: &Palette, o: &mut String) {
    w!(
        o,
        r#"<path d="M92 20c6 8 8 12 8 16a8 8 0 0 1-16 0c0-4 2-8 8-16Z" fill="{a}"/><ellipse cx="56" cy="82" rx="36" ry="12" fill="{m}"/><rect x="20" y="64" width="72" height="18" fill="{m}"/><ellipse cx="56" cy="64" rx="36" ry="12" fill="{s}"/>"#,
        a = p.accent,
        m = p.main,
        s = p.second
    );
    leaf(o, 56, 64, 90, 0.22, p.main, p.second);
}

/// Herbal compress balls (luk prakob): a cloth ball gathered and tied under a handle.
fn compress(p: &Palette, o: &mut String) {
    w!(
        o,
        r##"<rect x="55" y="14" width="10" height="26" rx="4" fill="#d8c7a2"/><path d="M50 50 60 34 70 50Z" fill="#e9dcc0"/><circle cx="60" cy="74" r="28" fill="#e9dcc0" stroke="{a}" stroke-width="2"/><path d="M60 48 44 92M60 48V102M60 48 76 92M60 48 36 70M60 48 84 70" stroke="#c9b48a" stroke-width="2"/><rect x="48" y="40" width="24" height="7" rx="3" fill="{m}"/>"##,
        a = p.accent,
        m = p.main
    );
}

/// Natural cosmetics: a pump bottle with a leaf label and a little jar of cream.
fn cosmetic(p: &Palette, o: &mut String) {
    w!(
        o,
        r##"<path d="M55 34V24h18" fill="none" stroke="{m}" stroke-width="5"/><rect x="50" y="32" width="16" height="12" fill="{m}"/><rect x="38" y="44" width="40" height="58" rx="8" fill="{s}"/><rect x="44" y="58" width="28" height="28" rx="3" fill="#fff" fill-opacity=".7"/><rect x="82" y="84" width="22" height="18" rx="4" fill="{a}"/><rect x="80" y="78" width="26" height="8" rx="2" fill="{m}"/>"##,
        m = p.main,
        s = p.second,
        a = p.accent
    );
    leaf(o, 58, 72, 20, 0.26, p.main, p.second);
}

/// Herbal aromatics and insect repellents: lemongrass stalks giving off their scent.
fn lemongrass(p: &Palette, o: &mut String) {
    w!(
        o,
        r#"<path d="M50 102C48 80 40 56 26 34M58 102C58 76 60 50 64 22M66 102C70 82 80 62 96 48" fill="none" stroke="{m}" stroke-width="6" stroke-linecap="round"/><ellipse cx="58" cy="100" rx="13" ry="6" fill="{s}"/><path d="M78 30c4-4 8 4 12 0s8 4 12 0M82 18c4-4 8 4 12 0" fill="none" stroke="{a}" stroke-width="2.5" stroke-linecap="round"/>"#,
        m = p.main,
        s = p.second,
        a = p.accent
    );
}

/// Anything else: a parcel tied with a ribbon.
fn parcel(p: &Palette, o: &mut String) {
    w!(
        o,
        r#"<rect x="26" y="42" width="68" height="56" rx="4" fill="{s}"/><rect x="22" y="32" width="76" height="14" rx="3" fill="{m}"/><path d="M60 32v66" stroke="{a}" stroke-width="8"/><path d="M60 32C48 16 36 26 48 32ZM60 32C72 16 84 26 72 32Z" fill="{a}"/>"#,
        s = p.second,
        m = p.main,
        a = p.accent
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBTYPES_CSV: &str = include_str!("../../data/otop_subtypes.csv");
    const CATEGORIES_CSV: &str = include_str!("../../data/otop_categories.csv");

    /// `(code, category_code, name_th, name_en)` of every sub-type in the CSV. No field
    /// of that file is quoted or holds a comma.
    fn subtypes() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
        let rows: Vec<_> = SUBTYPES_CSV
            .lines()
            .skip(1)
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let fields: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
                assert_eq!(fields.len(), 4, "unexpected row {line:?}");
                (fields[0], fields[1], fields[2], fields[3])
            })
            .collect();
        assert_eq!(rows.len(), 28);
        rows
    }

    fn category_codes() -> Vec<&'static str> {
        CATEGORIES_CSV
            .lines()
            .skip(1)
            .filter_map(|line| line.split(',').next())
            .filter(|code| !code.trim().is_empty())
            .collect()
    }

    fn motif_of(svg: &str) -> &str {
        let start = svg.find("data-motif=\"").expect("data-motif") + "data-motif=\"".len();
        let end = start + svg[start..].find('"').expect("closing quote");
        &svg[start..end]
    }

    /// Checks that every tag is closed in order, that no text sits between tags except
    /// in `<title>`, and that no number came out as NaN.
    fn assert_well_formed(svg: &str) {
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            let text = &rest[..open];
            if stack.last() != Some(&"title") {
                assert!(text.trim().is_empty(), "stray text {text:?} in {svg}");
            }
            let close = rest[open..].find('>').expect("unclosed tag") + open;
            let tag = &rest[open + 1..close];
            assert!(!tag.contains('<'), "'<' inside tag {tag:?}");
            assert_eq!(
                tag.matches('"').count() % 2,
                0,
                "unbalanced quotes in {tag:?}"
            );
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name), "mismatched </{name}> in {svg}");
            } else if !tag.ends_with('/') {
                let name = tag.split_whitespace().next().expect("tag name");
                stack.push(name);
            }
            rest = &rest[close + 1..];
        }
        assert!(rest.is_empty(), "text after the last tag");
        assert!(stack.is_empty(), "unclosed elements {stack:?}");
        assert!(!svg.contains("NaN"), "bad number");
    }

    #[test]
    fn every_subtype_in_the_csv_yields_a_small_accessible_svg() {
        for (code, category, name_th, name_en) in subtypes() {
            for title in [name_th, name_en] {
                let svg = artwork_svg(code, category, title);
                assert!(svg.starts_with("<svg"), "{code}");
                assert!(svg.ends_with("</svg>"), "{code}");
                assert!(svg.contains(r#"role="img""#), "{code}");
                assert!(svg.contains(r#"viewBox="0 0 120 120""#), "{code}");
                assert!(
                    !svg.contains("width=\"120\" height=\"120\" viewBox"),
                    "{code}"
                );
                assert!(svg.contains(&format!(r#"aria-label="{}""#, escape(title))));
                assert!(svg.contains(&format!("<title>{}</title>", escape(title))));
                assert!(svg.len() < 2000, "{code}: {} bytes", svg.len());
                assert!(
                    !svg.contains(" id="),
                    "{code}: ids clash between inline SVGs"
                );
                assert_well_formed(&svg);
            }
        }
    }

    #[test]
    fn drawings_stay_under_one_and_a_half_kilobytes_for_a_typical_title() {
        for (code, category, name_th, _) in subtypes() {
            let svg = artwork_svg(code, category, name_th);
            let body = svg.len() - 2 * escape(name_th).len();
            assert!(body < 1500, "{code}: {body} bytes besides the title");
        }
    }

    #[test]
    fn every_subtype_in_the_csv_has_its_own_drawing_in_its_own_category() {
        let mut motifs = Vec::new();
        for (code, category, _, _) in subtypes() {
            let (motif, own) = subtype_motif(code).unwrap_or_else(|| panic!("{code}"));
            assert_eq!(Category::from_code(category), Some(own), "{code}");
            assert_ne!(motif, Motif::Parcel, "{code}");
            assert_eq!(motif_of(&artwork_svg(code, category, "x")), motif.name());
            motifs.push(motif);
        }
        let count = motifs.len();
        motifs.sort_by_key(|m| m.name());
        motifs.dedup();
        assert_eq!(motifs.len(), count, "two sub-types share a drawing");
    }

    #[test]
    fn every_category_in_the_csv_has_a_drawing_and_a_palette() {
        let codes = category_codes();
        assert_eq!(codes.len(), 5);
        for code in codes {
            let category = Category::from_code(code).unwrap_or_else(|| panic!("{code}"));
            let svg = artwork_svg("NO_SUCH_SUBTYPE", code, "x");
            assert_eq!(motif_of(&svg), category.motif().name(), "{code}");
            assert!(svg.contains(category.palette().bg), "{code}");
            assert_well_formed(&svg);
        }
    }

    #[test]
    fn unknown_subtype_falls_back_to_its_category_drawing() {
        let svg = artwork_svg("TEX_SILK_NEW", "TEXTILE", "New silk");
        assert_eq!(motif_of(&svg), "mudmee");
        assert_eq!(svg, artwork_svg("TEX_SILK_MUDMEE", "TEXTILE", "New silk"));
        assert_eq!(motif_of(&artwork_svg("", "HERBAL", "x")), "leaf");
        assert_eq!(motif_of(&artwork_svg("", "CRAFT", "x")), "basketry");
    }

    #[test]
    fn unknown_codes_give_the_neutral_fallback() {
        for (subtype, category) in [("NOPE", "NOPE"), ("", ""), ("<b>", "&amp;")] {
            let svg = artwork_svg(subtype, category, "Mystery item");
            assert_eq!(motif_of(&svg), "parcel");
            assert!(svg.contains(NEUTRAL.bg));
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
            assert!(svg.contains(r#"role="img""#));
            assert!(!svg.contains("<b>") && !svg.contains("&amp;amp;"));
            assert_well_formed(&svg);
        }
    }

    #[test]
    fn known_subtype_keeps_its_own_colours_whatever_category_is_passed() {
        let right = artwork_svg("FOOD_RICE_HOMMALI", "FOOD", "Rice");
        assert_eq!(artwork_svg("FOOD_RICE_HOMMALI", "CRAFT", "Rice"), right);
        assert_eq!(artwork_svg("FOOD_RICE_HOMMALI", "", "Rice"), right);
    }

    #[test]
    fn codes_are_matched_ignoring_case_and_spaces() {
        assert_eq!(
            artwork_svg(" crf_silver_prakuem ", "craft", "Beads"),
            artwork_svg("CRF_SILVER_PRAKUEM", "CRAFT", "Beads")
        );
        assert_eq!(motif_of(&artwork_svg("x", " bev ", "x")), "drink");
    }

    #[test]
    fn title_is_escaped() {
        let svg = artwork_svg("TEX_SILK_MUDMEE", "TEXTILE", r#"<script>&"'"#);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains(r#"aria-label="&lt;script&gt;&amp;&quot;&#39;""#));
        assert!(svg.contains("<title>&lt;script&gt;&amp;&quot;&#39;</title>"));
        assert_well_formed(&svg);
    }

    #[test]
    fn escape_replaces_markup_and_drops_control_characters() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert_eq!(escape("ผ้าไหม & silk"), "ผ้าไหม &amp; silk");
        assert_eq!(escape("a\u{0}b\u{1b}c\nd"), "abc d");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn empty_title_still_gives_a_named_element() {
        let svg = artwork_svg("CRF_WOOD", "CRAFT", "");
        assert!(svg.contains(r#"aria-label="""#) && svg.contains("<title></title>"));
        assert_well_formed(&svg);
    }
}
