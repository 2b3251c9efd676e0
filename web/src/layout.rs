//! What every page's frame shows: the language, the header (search box, cart, who is signed
//! in), and the page's title, description and canonical address.

use otop_app::AppState;
use otop_domain::Role;

use crate::error::PageError;
use crate::format::Lang;
use crate::i18n::{texts, Texts};
use crate::session::Visitor;

/// The stylesheet, inlined into every page: one request per page, nothing fetched from
/// elsewhere.
pub const CSS: &str = include_str!("../assets/site.css");

pub struct Layout {
    pub t: &'static Texts,
    pub lang: &'static str,
    pub title: String,
    pub description: String,
    pub canonical: Option<String>,
    /// "role: subject" of who is signed in.
    pub signed_in: Option<String>,
    pub is_shopper: bool,
    /// The signed-in staff member's own page (console, desk, audit, dashboard) and its name.
    pub work_link: Option<(&'static str, &'static str)>,
    pub cart_units: u32,
    /// The session's CSRF token when the page has a POST form (always, once signed in).
    pub csrf: String,
    pub lang_switch_href: String,
    pub search_q: String,
    pub demo: bool,
    pub css: &'static str,
}

impl Layout {
    /// The frame of a page at `path_and_query` (the language switch links to it in the
    /// other language). `needs_csrf`: the page carries a POST form.
    pub async fn new(
        state: &AppState,
        visitor: &Visitor,
        path_and_query: &str,
        title: String,
        description: String,
        needs_csrf: bool,
    ) -> Result<Layout, PageError> {
        let csrf = if needs_csrf || visitor.actor.is_some() {
            visitor.csrf_token().await?
        } else {
            String::new()
        };
        let other = match visitor.lang {
            Lang::Th => "en",
            Lang::En => "th",
        };
        Ok(Layout {
            t: texts(visitor.lang),
            lang: visitor.lang.code(),
            title,
            description,
            canonical: None,
            signed_in: visitor
                .actor
                .as_ref()
                .map(|a| format!("{}: {}", a.role.as_str(), a.id)),
            is_shopper: visitor
                .actor
                .as_ref()
                .is_some_and(|a| a.role == Role::Shopper),
            work_link: visitor
                .actor
                .as_ref()
                .and_then(|a| work_link(a.role, visitor.lang)),
            cart_units: visitor.cart_units,
            csrf,
            lang_switch_href: with_lang(path_and_query, other),
            search_q: String::new(),
            demo: state.config.demo,
            css: CSS,
        })
    }

    pub fn with_canonical(mut self, state: &AppState, path: &str) -> Layout {
        self.canonical = Some(format!("{}{path}", state.config.public_url));
        self
    }
}

/// `path_and_query` with its `lang=` set to `lang`.
fn with_lang(path_and_query: &str, lang: &str) -> String {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut pairs: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("lang="))
        .collect();
    let lang_pair = format!("lang={lang}");
    pairs.push(&lang_pair);
    format!("{path}?{}", pairs.join("&"))
}

/// Where each staff role works, named in the reader's language.
fn work_link(role: Role, lang: Lang) -> Option<(&'static str, &'static str)> {
    let thai = lang == Lang::Th;
    match role {
        Role::Vendor => Some((
            "/vendor",
            if thai {
                "ร้านของกลุ่ม"
            } else {
                "Our shop"
            },
        )),
        Role::Admin => Some((
            "/admin",
            if thai {
                "สำนักงานจังหวัด"
            } else {
                "Office desk"
            },
        )),
        Role::Auditor => Some((
            "/audit",
            if thai {
                "ตรวจสอบ"
            } else {
                "Audit"
            },
        )),
        Role::Analyst => Some(("/analytics", if thai { "ยอดขาย" } else { "Sales" })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::with_lang;

    #[test]
    fn the_language_switch_keeps_the_rest_of_the_query() {
        assert_eq!(with_lang("/", "en"), "/?lang=en");
        assert_eq!(
            with_lang("/search?q=silk&lang=th&page=2", "en"),
            "/search?q=silk&page=2&lang=en"
        );
    }
}
