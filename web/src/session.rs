//! Who is looking at a page: the session (tower-sessions, stored server-side in PostgreSQL's
//! `web_sessions`; the cookie holds only its id, HttpOnly and SameSite=Lax), the actor who
//! signed in, the cart, the CSRF token every POST form carries, and the language.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use otop_app::AppState;
use otop_domain::Actor;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tower_sessions::Session;
use uuid::Uuid;

use crate::error::PageError;
use crate::format::Lang;

const ACTOR_KEY: &str = "actor";
const CART_KEY: &str = "cart";
const CSRF_KEY: &str = "csrf";
const LANG_KEY: &str = "lang";

/// The most units of one listing a cart holds (an order line's limit is the domain's).
pub const MAX_CART_QUANTITY: u32 = 999;
/// The most listings one cart holds.
pub const MAX_CART_LINES: usize = 50;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    /// The Idempotency-Key of the checkout form now on screen: a double submit of that form
    /// makes one checkout. A changed cart gets a new one.
    pub checkout_key: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct CartLine {
    pub listing_id: Uuid,
    pub quantity: u32,
}

impl Cart {
    pub fn units(&self) -> u32 {
        self.lines.iter().map(|line| line.quantity).sum()
    }

    /// Adds units of a listing (capped), or a new line; the checkout key changes.
    pub fn add(&mut self, listing_id: Uuid, quantity: u32) -> Result<(), &'static str> {
        self.checkout_key = None;
        if let Some(line) = self.lines.iter_mut().find(|l| l.listing_id == listing_id) {
            line.quantity = (line.quantity + quantity).min(MAX_CART_QUANTITY);
            return Ok(());
        }
        if self.lines.len() >= MAX_CART_LINES {
            return Err("the cart is full");
        }
        self.lines.push(CartLine {
            listing_id,
            quantity: quantity.min(MAX_CART_QUANTITY),
        });
        Ok(())
    }

    /// Sets a line's quantity; 0 removes it.
    pub fn set(&mut self, listing_id: Uuid, quantity: u32) {
        self.checkout_key = None;
        if quantity == 0 {
            self.lines.retain(|l| l.listing_id != listing_id);
        } else if let Some(line) = self.lines.iter_mut().find(|l| l.listing_id == listing_id) {
            line.quantity = quantity.min(MAX_CART_QUANTITY);
        }
    }
}

/// The visitor of a page. Reading it creates no session: a session (and its cookie) is made
/// only when something is written to it (a cart, a sign-in, a form's CSRF token).
pub struct Visitor {
    pub session: Session,
    pub actor: Option<Actor>,
    pub lang: Lang,
    pub cart_units: u32,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, message)| PageError::internal(message))?;
        let asked = parts.uri.query().and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("lang="))
                .map(str::to_string)
        });
        let lang = match asked {
            Some(code) => {
                let lang = Lang::from_query(Some(&code));
                // Only a change worth remembering writes the session.
                if lang == Lang::En || session.get::<String>(LANG_KEY).await?.is_some() {
                    session.insert(LANG_KEY, lang.code()).await?;
                }
                lang
            }
            None => Lang::from_query(session.get::<String>(LANG_KEY).await?.as_deref()),
        };
        let actor = session.get::<Actor>(ACTOR_KEY).await?;
        let cart_units = session
            .get::<Cart>(CART_KEY)
            .await?
            .map_or(0, |cart| cart.units());
        Ok(Visitor {
            session,
            actor,
            lang,
            cart_units,
        })
    }
}

impl Visitor {
    /// The CSRF token of this session, made on first use: every POST form carries it in a
    /// hidden `csrf` field and every POST handler checks it ([`Visitor::check_csrf`]).
    pub async fn csrf_token(&self) -> Result<String, PageError> {
        if let Some(token) = self.session.get::<String>(CSRF_KEY).await? {
            return Ok(token);
        }
        // Two v4 UUIDs: 244 random bits from the operating system's generator.
        let token = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        self.session.insert(CSRF_KEY, &token).await?;
        Ok(token)
    }

    /// Refuses a POST whose form does not carry this session's token (403 with a page that
    /// says the form expired). Compared as hashes, so the time taken says nothing of the
    /// token.
    pub async fn check_csrf(&self, given: &str) -> Result<(), PageError> {
        let Some(expected) = self.session.get::<String>(CSRF_KEY).await? else {
            return Err(PageError::CsrfRejected);
        };
        if Sha256::digest(expected.as_bytes()) == Sha256::digest(given.as_bytes()) {
            Ok(())
        } else {
            Err(PageError::CsrfRejected)
        }
    }

    pub async fn cart(&self) -> Result<Cart, PageError> {
        Ok(self
            .session
            .get::<Cart>(CART_KEY)
            .await?
            .unwrap_or_default())
    }

    pub async fn save_cart(&self, cart: &Cart) -> Result<(), PageError> {
        self.session.insert(CART_KEY, cart).await?;
        Ok(())
    }

    /// Signs `actor` in: a fresh session id (no fixation), the cart kept.
    pub async fn sign_in(&self, actor: &Actor) -> Result<(), PageError> {
        self.session.cycle_id().await?;
        self.session.insert(ACTOR_KEY, actor).await?;
        Ok(())
    }

    pub async fn sign_out(&self) -> Result<(), PageError> {
        self.session.flush().await?;
        Ok(())
    }

    /// The signed-in actor, or the page that asks them to sign in.
    pub fn require_actor(&self, back_to: &str) -> Result<&Actor, PageError> {
        self.actor.as_ref().ok_or_else(|| PageError::SignInFirst {
            back_to: back_to.to_string(),
        })
    }
}
