//! Lighthouse's scores of pages of a running server, under its mobile defaults, with
//! Debian's Chromium: the pinned Lighthouse of `bench/lighthouse` (`npm ci` there first) is
//! run once per page and round, and each figure is the median of the rounds, since
//! Lighthouse's performance score moves from run to run on a busy machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value};

/// The categories scored, in Lighthouse's names, and their targets (issue 13: ≥ 0.95, SEO
/// ≥ 0.9).
pub const CATEGORIES: [(&str, f64); 4] = [
    ("performance", 0.95),
    ("accessibility", 0.95),
    ("best-practices", 0.95),
    ("seo", 0.9),
];

/// Where to find the tools.
pub struct Tools {
    /// The `lighthouse` script (`bench/lighthouse/node_modules/.bin/lighthouse`).
    pub lighthouse: PathBuf,
    /// The Chromium binary Lighthouse drives.
    pub chrome: PathBuf,
}

/// One page to audit: a name for the report, its path, and a cookie to send (a signed-in
/// session for pages that need one).
pub struct PageToAudit {
    pub name: String,
    pub path: String,
    pub cookie: Option<String>,
}

/// The median figures of one page.
pub struct Audited {
    pub name: String,
    pub path: String,
    pub scores: BTreeMap<&'static str, f64>,
    pub largest_contentful_paint_ms: f64,
    pub total_blocking_time_ms: f64,
    /// Where the page ended (a redirect to sign-in shows here).
    pub final_url: String,
}

pub struct LighthouseFigures {
    pub json: Value,
    pub markdown: String,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One Lighthouse run of `url`: its JSON report.
fn lighthouse_once(tools: &Tools, url: &str, cookie: Option<&str>) -> anyhow::Result<Value> {
    let categories: Vec<&str> = CATEGORIES.iter().map(|(name, _)| *name).collect();
    let mut command = std::process::Command::new(&tools.lighthouse);
    command
        .arg(url)
        .arg("--output=json")
        .arg("--output-path=stdout")
        .arg("--quiet")
        .arg(format!("--only-categories={}", categories.join(",")))
        .arg("--chrome-flags=--headless=new --no-sandbox --disable-gpu")
        .env("CHROME_PATH", &tools.chrome);
    if let Some(cookie) = cookie {
        command.arg(format!("--extra-headers={}", json!({ "Cookie": cookie })));
    }
    let output = command
        .output()
        .with_context(|| format!("running {}", tools.lighthouse.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "lighthouse {url} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).context("lighthouse's report")?;
    if let Some(error) = report["runtimeError"]["message"].as_str() {
        anyhow::bail!("lighthouse {url}: {error}");
    }
    Ok(report)
}

/// Audits every page `rounds` times.
pub fn run(
    tools: &Tools,
    base: &str,
    pages: &[PageToAudit],
    rounds: usize,
) -> anyhow::Result<Vec<Audited>> {
    anyhow::ensure!(
        tools.lighthouse.exists(),
        "{} is missing: run `npm ci --prefix bench/lighthouse` first",
        tools.lighthouse.display()
    );
    anyhow::ensure!(
        tools.chrome.exists(),
        "{} is missing: install Chromium (Debian: apt-get install chromium) or set CHROME_PATH",
        tools.chrome.display()
    );
    let mut audited = Vec::new();
    for page in pages {
        let url = format!("{}{}", base.trim_end_matches('/'), page.path);
        let mut scores: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
        let (mut lcp, mut tbt) = (Vec::new(), Vec::new());
        let mut final_url = String::new();
        for _ in 0..rounds.max(1) {
            let report = lighthouse_once(tools, &url, page.cookie.as_deref())?;
            for (category, _) in CATEGORIES {
                let score = report["categories"][category]["score"]
                    .as_f64()
                    .with_context(|| format!("{url}: no {category} score"))?;
                scores.entry(category).or_default().push(score);
            }
            let numeric = |audit: &str| report["audits"][audit]["numericValue"].as_f64();
            lcp.push(numeric("largest-contentful-paint").unwrap_or(f64::NAN));
            tbt.push(numeric("total-blocking-time").unwrap_or(f64::NAN));
            final_url = report["finalDisplayedUrl"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
        audited.push(Audited {
            name: page.name.clone(),
            path: page.path.clone(),
            scores: scores
                .into_iter()
                .map(|(category, values)| (category, median(values)))
                .collect(),
            largest_contentful_paint_ms: median(lcp),
            total_blocking_time_ms: median(tbt),
            final_url,
        });
    }
    Ok(audited)
}

/// The report: a table with a column per category, and whether every target holds.
pub fn report(audited: &[Audited], rounds: usize) -> LighthouseFigures {
    let mut markdown = format!(
        "## Lighthouse 12.2.3 (mobile defaults, median of {rounds} runs)\n\n\
         | page | performance | accessibility | best practices | SEO | LCP | TBT | targets |\n\
         |---|---|---|---|---|---|---|---|\n"
    );
    let mut pages = Vec::new();
    for page in audited {
        let score = |category: &str| page.scores.get(category).copied().unwrap_or(f64::NAN);
        // A page that ended elsewhere (a sign-in redirect) was not the page asked for.
        let arrived = page.final_url.is_empty() || page.final_url.ends_with(&page.path);
        let met = arrived
            && CATEGORIES
                .iter()
                .all(|(category, target)| score(category) >= *target);
        markdown.push_str(&format!(
            "| {} `{}` | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} s | {:.0} ms | {} |\n",
            page.name,
            page.path,
            score("performance"),
            score("accessibility"),
            score("best-practices"),
            score("seo"),
            page.largest_contentful_paint_ms / 1000.0,
            page.total_blocking_time_ms,
            if met { "met" } else { "**missed**" },
        ));
        pages.push(json!({
            "page": page.name,
            "path": page.path,
            "scores": page.scores,
            "largest_contentful_paint_ms": page.largest_contentful_paint_ms,
            "total_blocking_time_ms": page.total_blocking_time_ms,
            "final_url": page.final_url,
            "targets_met": met,
        }));
    }
    LighthouseFigures {
        json: json!({ "lighthouse": { "rounds": rounds, "pages": pages } }),
        markdown,
    }
}

/// The `lighthouse` script of `bench/lighthouse`, looked for from the working directory.
pub fn default_lighthouse() -> PathBuf {
    Path::new("bench/lighthouse/node_modules/.bin/lighthouse").to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_middle_run() {
        assert_eq!(median(vec![0.99, 0.91, 1.0]), 0.99);
        assert_eq!(median(vec![0.5]), 0.5);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn a_missed_target_is_marked() {
        let page = |performance: f64| Audited {
            name: "home".into(),
            path: "/".into(),
            scores: CATEGORIES
                .iter()
                .map(|(category, _)| (*category, 1.0))
                .chain([("performance", performance)])
                .collect(),
            largest_contentful_paint_ms: 900.0,
            total_blocking_time_ms: 20.0,
            final_url: "http://127.0.0.1:8080/".into(),
        };
        let figures = report(&[page(0.99), page(0.80)], 3);
        assert_eq!(figures.markdown.matches("| met |").count(), 1);
        assert_eq!(figures.markdown.matches("**missed**").count(), 1);
        assert_eq!(
            figures.json["lighthouse"]["pages"][1]["targets_met"],
            json!(false)
        );
    }
}
