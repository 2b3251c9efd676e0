//! A real headless Chromium, driven over WebDriver (fantoccini talking to Debian's
//! `chromedriver`), in a phone-sized window, with JavaScript on or off. A test that fails
//! keeps a screenshot of the page it was on in `target/browser-screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether this machine can run the browser tests. `.ci/run` installs Chromium and sets
/// `OTOP_REQUIRE_BROWSER=1`, so there a missing browser fails instead of skipping.
pub fn available() -> bool {
    let present =
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists();
    if !present {
        assert!(
            std::env::var("OTOP_REQUIRE_BROWSER").is_err(),
            "OTOP_REQUIRE_BROWSER is set but {CHROMEDRIVER} or {CHROMIUM} is missing \
             (apt-get install chromium chromium-driver)"
        );
        eprintln!(
            "skipped: no {CHROMIUM} and {CHROMEDRIVER} on this machine \
             (apt-get install chromium chromium-driver; .ci/run does)"
        );
    }
    present
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    name: String,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium through it, 412×915 (a
    /// common phone), with JavaScript enabled or not.
    pub async fn start(name: &str, javascript: bool) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut prefs = serde_json::Map::new();
        if !javascript {
            prefs.insert(
                "profile.managed_default_content_settings.javascript".into(),
                json!(2),
            );
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=412,915",
                         "--lang=th-TH", "--no-first-run"],
                "prefs": prefs,
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client,
                        driver,
                        name: name.to_string(),
                    }
                }
                Err(error) => {
                    last_error = error.to_string();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("chromedriver did not start a browser: {last_error}");
    }

    /// Whether scripts run in this browser: a page whose script would change its title.
    pub async fn runs_scripts(&self) -> bool {
        self.client
            .goto("data:text/html,<title>off</title><script>document.title='on'</script>")
            .await
            .expect("open a data page");
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.client.title().await.expect("a title") == "on"
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("{css}: {error}"))
    }

    /// Clicks the link or form button `css` finds and waits until the browser has left the
    /// page for the one the click leads to. Every click in these journeys navigates (the
    /// pages have no scripts); chromedriver may answer a click before the old page is gone,
    /// and a find straight after it would read the old page (a notice, an order's row).
    pub async fn click(&self, css: &str) {
        let target = self.find(css).await;
        self.follow(target, css).await;
    }

    /// Clicks `element` (a link or a form button) and waits for the page it leads to.
    pub async fn follow(&self, element: fantoccini::elements::Element, what: &str) {
        let old_page = self
            .client
            .find(Locator::Css("html"))
            .await
            .unwrap_or_else(|error| panic!("the page before {what}: {error}"));
        element
            .click()
            .await
            .unwrap_or_else(|error| panic!("click {what}: {error}"));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match old_page.tag_name().await {
                Err(error) if error.is_stale_element_reference() => return,
                // Mid-navigation Chromium may answer with another error: ask again.
                Err(_) | Ok(_) => {}
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: the click did not lead to another page within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear a field");
        field.send_keys(text).await.expect("type into a field");
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .expect("an element's text")
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("the current address")
            .to_string()
    }

    /// A screenshot of the page now, as PNG into `dir/name.png`.
    pub async fn screenshot_to(&self, dir: &std::path::Path, name: &str) -> PathBuf {
        std::fs::create_dir_all(dir).expect("make the screenshot folder");
        let png = self.client.screenshot().await.expect("take a screenshot");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// With `OTOP_SCREENSHOTS_DIR` set (how docs/screenshots/ is made), keeps a screenshot of
    /// the page now under `name`; otherwise does nothing.
    pub async fn keep(&self, name: &str) {
        if let Ok(dir) = std::env::var("OTOP_SCREENSHOTS_DIR") {
            self.screenshot_to(std::path::Path::new(&dir), name).await;
        }
    }

    /// Closes the browser and its driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    /// Runs a journey; if it panics, keeps a screenshot of where it stopped, then fails.
    pub async fn journey<F>(self, steps: F)
    where
        F: AsyncFnOnce(&Browser),
    {
        let outcome =
            futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(steps(&self))).await;
        if let Err(panic) = outcome {
            let dir =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots");
            let path = self.screenshot_to(&dir, &self.name).await;
            eprintln!("the journey failed; its last page is in {}", path.display());
            self.close().await;
            std::panic::resume_unwind(panic);
        }
        self.close().await;
    }
}
