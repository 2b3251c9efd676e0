//! Charts drawn as SVG on the server: horizontal bars (long Thai names read well on a phone
//! that way), columns stacked by series, and a line. Every chart is an `<svg role="img">`
//! with a `<title>` and a `<desc>` that screen readers announce, scales to its container
//! (`viewBox`, no fixed width), labels its value axis in baht, and draws nothing from
//! outside. Values are integer satang; the axis steps are round baht (1, 2 or 5 × 10ⁿ).

use std::fmt::Write;

use crate::artwork::escape;
use crate::format::baht;

/// The palette: the site's silk colours, distinct in lightness too for readers who do not
/// tell hues apart.
const SERIES_COLOURS: [&str; 8] = [
    "#7a1f3d", "#b8860b", "#2f6b4f", "#3b5b92", "#a0522d", "#6b4c9a", "#4f7f8f", "#8a8a2e",
];

const WIDTH: i64 = 640;
const FONT: &str = "font-family=\"Sarabun, Noto Sans Thai, Loma, sans-serif\"";

/// A round axis step (satang) so that `max` takes at most `ticks` steps: 1, 2 or 5 times a
/// power of ten, in whole baht.
pub fn axis_step(max: i64, ticks: i64) -> i64 {
    let ticks = ticks.max(1);
    let raw = max.max(1).saturating_add(ticks - 1) / ticks;
    let mut power: i64 = 100;
    loop {
        for factor in [1, 2, 5] {
            let step = factor * power;
            if step >= raw {
                return step;
            }
        }
        match power.checked_mul(10) {
            Some(next) => power = next,
            None => return raw,
        }
    }
}

/// Baht on an axis, written as everywhere else on the site (฿12,000).
fn tick_label(satang: i64) -> String {
    baht(u64::try_from(satang).unwrap_or(0))
}

fn open_svg(out: &mut String, id: &str, height: i64, title: &str, description: &str) {
    let _ = write!(
        out,
        "<svg class=\"chart\" id=\"{id}\" role=\"img\" viewBox=\"0 0 {WIDTH} {height}\" \
         aria-labelledby=\"{id}-title {id}-desc\" {FONT} font-size=\"16\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        escape(title),
        escape(description)
    );
}

/// Horizontal bars, one per label, longest first as given; the value written at each bar's
/// end. `axis` names the value axis (it is in baht).
pub fn bars(
    id: &str,
    title: &str,
    description: &str,
    axis: &str,
    items: &[(String, i64)],
) -> String {
    let label_width = 200;
    let right = 100;
    let row = 30;
    let top = 10;
    let plot = WIDTH - label_width - right;
    let height = top + row * items.len().max(1) as i64 + 46;
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let step = axis_step(max, 4);
    let axis_max = step.saturating_mul((max.saturating_add(step - 1) / step).max(1));
    let x = |value: i64| label_width + value.max(0) * plot / axis_max;
    let mut out = String::new();
    open_svg(&mut out, id, height, title, description);
    let bottom = top + row * items.len().max(1) as i64;
    let mut tick = 0;
    while tick <= axis_max {
        let _ = write!(
            out,
            "<line x1=\"{0}\" x2=\"{0}\" y1=\"{top}\" y2=\"{bottom}\" stroke=\"#ddd\"/>\
             <text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" fill=\"#555\">{2}</text>",
            x(tick),
            bottom + 16,
            tick_label(tick)
        );
        let Some(next) = tick.checked_add(step) else {
            break;
        };
        tick = next;
    }
    for (index, (label, value)) in items.iter().enumerate() {
        let y = top + row * index as i64;
        let end = x(*value);
        let _ = write!(
            out,
            "<text x=\"{0}\" y=\"{1}\" text-anchor=\"end\">{2}</text>\
             <rect x=\"{label_width}\" y=\"{3}\" width=\"{4}\" height=\"{5}\" fill=\"{6}\" rx=\"2\"/>\
             <text x=\"{7}\" y=\"{1}\" fill=\"#333\">{8}</text>",
            label_width - 8,
            y + 17,
            escape(label),
            y + 5,
            (end - label_width).max(1),
            row - 8,
            SERIES_COLOURS[0],
            end + 6,
            tick_label(*value),
        );
    }
    let _ = write!(
        out,
        "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" fill=\"#333\">{2}</text></svg>",
        label_width + plot / 2,
        bottom + 38,
        escape(axis)
    );
    out
}

/// A line over `points` (in order), with a dot and the value at each point.
pub fn line(
    id: &str,
    title: &str,
    description: &str,
    axis: &str,
    points: &[(String, i64)],
) -> String {
    let left = 90;
    let right = 20;
    let top = 20;
    let plot_height = 200;
    let height = top + plot_height + 60;
    let plot = WIDTH - left - right;
    let max = points.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let step = axis_step(max, 4);
    let axis_max = step.saturating_mul((max.saturating_add(step - 1) / step).max(1));
    let y = |value: i64| top + plot_height - value.max(0) * plot_height / axis_max;
    let count = points.len().max(1) as i64;
    let x = |index: usize| {
        if count == 1 {
            left + plot / 2
        } else {
            left + index as i64 * plot / (count - 1)
        }
    };
    let mut out = String::new();
    open_svg(&mut out, id, height, title, description);
    let mut tick = 0;
    while tick <= axis_max {
        let _ = write!(
            out,
            "<line x1=\"{left}\" x2=\"{0}\" y1=\"{1}\" y2=\"{1}\" stroke=\"#ddd\"/>\
             <text x=\"{2}\" y=\"{3}\" text-anchor=\"end\" fill=\"#555\">{4}</text>",
            left + plot,
            y(tick),
            left - 6,
            y(tick) + 4,
            tick_label(tick)
        );
        let Some(next) = tick.checked_add(step) else {
            break;
        };
        tick = next;
    }
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(index, (_, value))| format!("{},{}", x(index), y(*value)))
        .collect();
    let _ = write!(
        out,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"3\"/>",
        path.join(" "),
        SERIES_COLOURS[0]
    );
    // Every label when they fit, else every other one.
    let every = if points.len() > 8 { 2 } else { 1 };
    for (index, (label, value)) in points.iter().enumerate() {
        let _ = write!(
            out,
            "<circle cx=\"{0}\" cy=\"{1}\" r=\"4\" fill=\"{2}\"><title>{3}: {4}</title></circle>",
            x(index),
            y(*value),
            SERIES_COLOURS[0],
            escape(label),
            tick_label(*value)
        );
        if index % every == 0 {
            let _ = write!(
                out,
                "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" fill=\"#555\">{2}</text>",
                x(index),
                top + plot_height + 18,
                escape(label)
            );
        }
    }
    let _ = write!(
        out,
        "<text x=\"14\" y=\"{0}\" transform=\"rotate(-90 14 {0})\" text-anchor=\"middle\" \
         fill=\"#333\">{1}</text></svg>",
        top + plot_height / 2,
        escape(axis)
    );
    out
}

/// Columns, one per `columns` label, each stacked from `series` (name, value per column),
/// with a legend.
pub fn stacked(
    id: &str,
    title: &str,
    description: &str,
    axis: &str,
    columns: &[String],
    series: &[(String, Vec<i64>)],
) -> String {
    let left = 90;
    let right = 20;
    let top = 20;
    let plot_height = 200;
    let legend_rows = series.len().div_ceil(3) as i64;
    let height = top + plot_height + 40 + legend_rows * 22 + 10;
    let plot = WIDTH - left - right;
    let totals: Vec<i64> = (0..columns.len())
        .map(|c| {
            series
                .iter()
                .map(|(_, values)| values.get(c).copied().unwrap_or(0).max(0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let step = axis_step(max, 4);
    let axis_max = step.saturating_mul((max.saturating_add(step - 1) / step).max(1));
    let scale = |value: i64| value.max(0) * plot_height / axis_max;
    let slot = plot / columns.len().max(1) as i64;
    let bar = (slot * 2 / 3).max(4);
    let mut out = String::new();
    open_svg(&mut out, id, height, title, description);
    let mut tick = 0;
    while tick <= axis_max {
        let y = top + plot_height - scale(tick);
        let _ = write!(
            out,
            "<line x1=\"{left}\" x2=\"{0}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#ddd\"/>\
             <text x=\"{1}\" y=\"{2}\" text-anchor=\"end\" fill=\"#555\">{3}</text>",
            left + plot,
            left - 6,
            y + 4,
            tick_label(tick)
        );
        let Some(next) = tick.checked_add(step) else {
            break;
        };
        tick = next;
    }
    let every = if columns.len() > 8 { 2 } else { 1 };
    for (c, label) in columns.iter().enumerate() {
        let x = left + slot * c as i64 + (slot - bar) / 2;
        let mut base = top + plot_height;
        for (s, (name, values)) in series.iter().enumerate() {
            let value = values.get(c).copied().unwrap_or(0).max(0);
            let h = scale(value);
            if h == 0 {
                continue;
            }
            base -= h;
            let _ = write!(
                out,
                "<rect x=\"{x}\" y=\"{base}\" width=\"{bar}\" height=\"{h}\" fill=\"{}\">\
                 <title>{} · {}: {}</title></rect>",
                SERIES_COLOURS[s % SERIES_COLOURS.len()],
                escape(label),
                escape(name),
                tick_label(value)
            );
        }
        if c % every == 0 {
            let _ = write!(
                out,
                "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" fill=\"#555\">{2}</text>",
                x + bar / 2,
                top + plot_height + 18,
                escape(label)
            );
        }
    }
    for (s, (name, _)) in series.iter().enumerate() {
        let x = left + (s as i64 % 3) * (plot / 3);
        let y = top + plot_height + 40 + (s as i64 / 3) * 22;
        let _ = write!(
            out,
            "<rect x=\"{x}\" y=\"{0}\" width=\"14\" height=\"14\" fill=\"{1}\"/>\
             <text x=\"{2}\" y=\"{3}\">{4}</text>",
            y - 11,
            SERIES_COLOURS[s % SERIES_COLOURS.len()],
            x + 20,
            y,
            escape(name)
        );
    }
    let _ = write!(
        out,
        "<text x=\"14\" y=\"{0}\" transform=\"rotate(-90 14 {0})\" text-anchor=\"middle\" \
         fill=\"#333\">{1}</text></svg>",
        top + plot_height / 2,
        escape(axis)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_steps_are_round_baht() {
        assert_eq!(axis_step(0, 4), 100);
        assert_eq!(axis_step(350, 4), 100);
        assert_eq!(axis_step(1_000_000, 4), 500_000);
        assert_eq!(axis_step(1_280_000, 4), 500_000);
        assert_eq!(axis_step(750_000, 4), 200_000);
        assert!(axis_step(i64::MAX, 4) > 0);
    }

    #[test]
    fn a_chart_is_an_image_with_a_title_a_description_and_escaped_labels() {
        let svg = bars(
            "by-district",
            "ยอดขายตามอำเภอ",
            "ยอดขายสุทธิของแต่ละอำเภอ",
            "บาท",
            &[
                ("เมือง<สุรินทร์>".to_string(), 128_000),
                ("ท่าตูม".into(), 64_000),
            ],
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("<title id=\"by-district-title\">ยอดขายตามอำเภอ</title>"));
        assert!(svg.contains("<desc id=\"by-district-desc\">"));
        assert!(svg.contains("เมือง&lt;สุรินทร์&gt;"));
        assert!(!svg.contains("<สุรินทร์>"));
        assert!(svg.contains("฿1,280"), "values in baht: {svg}");
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn stacked_columns_and_lines_draw_every_point() {
        let svg = stacked(
            "by-category",
            "t",
            "d",
            "บาท",
            &["ม.ค.".to_string(), "ก.พ.".to_string()],
            &[
                ("ผ้า".to_string(), vec![100, 200]),
                ("อาหาร".to_string(), vec![50, 0]),
            ],
        );
        assert_eq!(
            svg.matches("<rect").count(),
            3 + 2,
            "three pieces and two legend keys"
        );
        let svg = line(
            "by-month",
            "t",
            "d",
            "บาท",
            &[("a".into(), 1), ("b".into(), 2)],
        );
        assert_eq!(svg.matches("<circle").count(), 2);
    }
}
