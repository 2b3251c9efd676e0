//! A person's browser without the browser: a cookie-keeping HTTP client for the pages, and
//! the bits of HTML the tests read back (hidden form fields, `data-` attributes).

use reqwest::StatusCode;

/// A visitor of the pages: its own cookie jar (so its own session), redirects followed.
pub struct WebVisitor {
    pub base_url: String,
    pub client: reqwest::Client,
}

pub struct Page {
    pub status: StatusCode,
    /// Where the last redirect ended.
    pub url: String,
    pub html: String,
}

impl WebVisitor {
    pub fn new(base_url: &str) -> WebVisitor {
        WebVisitor {
            base_url: base_url.to_string(),
            client: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .expect("an HTTP client"),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .expect("the server answers");
        Self::page(response).await
    }

    /// POSTs a form (`application/x-www-form-urlencoded`), following the redirect after it.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.base_url))
            .form(fields)
            .send()
            .await
            .expect("the server answers");
        Self::page(response).await
    }

    /// POSTs a multipart form (a form with files), following the redirect after it.
    pub async fn post_multipart(&self, path: &str, form: reqwest::multipart::Form) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.base_url))
            .multipart(form)
            .send()
            .await
            .expect("the server answers");
        Self::page(response).await
    }

    async fn page(response: reqwest::Response) -> Page {
        let status = response.status();
        let url = response.url().to_string();
        let html = response.text().await.expect("a body");
        Page { status, url, html }
    }

    /// Signs in through the development form (a server under `--demo`).
    pub async fn sign_in_as_shopper(&self, subject: &str) -> Page {
        let form = self.get("/sign-in").await;
        let csrf = form
            .hidden("csrf")
            .expect("the sign-in form carries a CSRF token");
        self.post_form(
            "/sign-in/dev",
            &[
                ("csrf", &csrf),
                ("role", "shopper"),
                ("subject", subject),
                ("next", "/cart"),
            ],
        )
        .await
    }

    /// Signs in through the demo's `/sign-in/dev` form as `role` (with `vendor_id` for a
    /// vendor), then lands on `next`.
    pub async fn sign_in_as(
        &self,
        role: &str,
        subject: &str,
        vendor_id: Option<&str>,
        next: &str,
    ) -> Page {
        let form = self.get("/sign-in").await;
        let csrf = form
            .hidden("csrf")
            .expect("the sign-in form carries a CSRF token");
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("role", role),
            ("subject", subject),
            ("next", next),
        ];
        if let Some(vendor_id) = vendor_id {
            fields.push(("vendor_id", vendor_id));
        }
        self.post_form("/sign-in/dev", &fields).await
    }

    /// Adds `quantity` of a listing from its product page's form.
    pub async fn add_to_cart(&self, listing_id: &str, quantity: u32) -> Page {
        let product = self.get(&format!("/listings/{listing_id}")).await;
        assert_eq!(product.status, StatusCode::OK, "{}", product.html);
        let csrf = product
            .hidden("csrf")
            .expect("the add-to-cart form's token");
        self.post_form(
            "/cart/add",
            &[
                ("csrf", &csrf),
                ("listing_id", listing_id),
                ("quantity", &quantity.to_string()),
            ],
        )
        .await
    }
}

/// A shipping address as the checkout form's fields (named as `POST /v1/checkouts`' JSON).
pub const ADDRESS: [(&str, &str); 6] = [
    ("shipping_address.name", "สมศรี ใจดี"),
    ("shipping_address.phone", "0812345678"),
    ("shipping_address.line1", "99 ถนนหลักเมือง"),
    ("shipping_address.district", "เมืองสุรินทร์"),
    ("shipping_address.province", "สุรินทร์"),
    ("shipping_address.postcode", "32000"),
];

impl Page {
    /// The value of the first hidden (or any) input named `name`.
    pub fn hidden(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.html.find(&marker)? + marker.len();
        let end = self.html[start..].find('"')?;
        Some(self.html[start..start + end].to_string())
    }

    /// Every value of `attribute="..."` in the page, in order.
    pub fn attribute_values(&self, attribute: &str) -> Vec<String> {
        let marker = format!("{attribute}=\"");
        let mut values = Vec::new();
        let mut rest = self.html.as_str();
        while let Some(at) = rest.find(&marker) {
            rest = &rest[at + marker.len()..];
            if let Some(end) = rest.find('"') {
                values.push(rest[..end].to_string());
                rest = &rest[end..];
            }
        }
        values
    }

    /// The listing ids of the result grid, in order.
    pub fn result_ids(&self) -> Vec<String> {
        let Some(start) = self.html.find("id=\"results\"") else {
            return Vec::new();
        };
        let end = self.html[start..]
            .find("</ul>")
            .map_or(self.html.len(), |e| start + e);
        Page {
            status: self.status,
            url: self.url.clone(),
            html: self.html[start..end].to_string(),
        }
        .attribute_values("data-listing-id")
    }
}
