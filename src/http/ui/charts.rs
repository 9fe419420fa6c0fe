//! Server-rendered SVG charts for the admin dashboard (no chart library, no script; only
//! presentation attributes, so the strict CSP holds).

use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 200.0;
const PAD_L: f64 = 40.0;
const PAD_B: f64 = 24.0;

/// One series of a stacked bar chart.
pub struct Series<'a> {
    pub label: &'a str,
    pub color: &'a str,
    pub values: &'a [u64],
}

fn axis(out: &mut String, max: f64, labels: &[String], title: &str, unit: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>"#
    );
    for i in 0..=4 {
        let y = (H - PAD_B) - (H - PAD_B - 10.0) * i as f64 / 4.0;
        let v = max * i as f64 / 4.0;
        let _ = write!(
            out,
            r##"<line x1="{PAD_L}" x2="{W}" y1="{y:.1}" y2="{y:.1}" stroke="#e3e6ea"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#5f6b7a">{}{unit}</text>"##,
            PAD_L - 4.0,
            y + 3.0,
            fmt_num(v)
        );
    }
    let step = (W - PAD_L) / labels.len().max(1) as f64;
    for (i, l) in labels.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle" fill="#5f6b7a">{l}</text>"##,
            PAD_L + step * (i as f64 + 0.5),
            H - 8.0
        );
    }
}

fn fmt_num(v: f64) -> String {
    if v >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Stacked bars per hour.
pub fn stacked_bars(title: &str, labels: &[String], series: &[Series<'_>]) -> String {
    let n = labels.len();
    let totals: Vec<u64> = (0..n)
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    // Round the top up to a multiple of 4 so the five gridlines fall on whole counts.
    let max = totals.iter().copied().max().unwrap_or(0).max(1).div_ceil(4) as f64 * 4.0;
    let mut out = String::with_capacity(8192);
    axis(&mut out, max, labels, title, "");
    let step = (W - PAD_L) / n.max(1) as f64;
    let plot_h = H - PAD_B - 10.0;
    for (i, label) in labels.iter().enumerate() {
        let mut y = H - PAD_B;
        for s in series {
            let v = s.values.get(i).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let h = plot_h * v as f64 / max;
            y -= h;
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{} {}: {v}</title></rect>"#,
                PAD_L + step * i as f64 + 2.0,
                (step - 4.0).max(1.0),
                s.color,
                label,
                s.label
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// A line chart (gaps where a value is missing).
pub fn line(
    title: &str,
    labels: &[String],
    values: &[Option<f64>],
    color: &str,
    unit: &str,
) -> String {
    let max = values
        .iter()
        .flatten()
        .copied()
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let mut out = String::with_capacity(4096);
    axis(&mut out, max, labels, title, unit);
    let step = (W - PAD_L) / labels.len().max(1) as f64;
    let plot_h = H - PAD_B - 10.0;
    let mut points = String::new();
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let x = PAD_L + step * (i as f64 + 0.5);
                let y = H - PAD_B - plot_h * v / max;
                let _ = write!(points, "{x:.1},{y:.1} ");
                let _ = write!(
                    out,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.5" fill="{color}"><title>{}: {v:.1}{unit}</title></circle>"#,
                    labels[i]
                );
            }
            None if !points.is_empty() => {
                let _ = write!(
                    out,
                    r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
                    points.trim()
                );
                points.clear();
            }
            None => {}
        }
    }
    if !points.is_empty() {
        let _ = write!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            points.trim()
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_stack_and_skip_zeroes() {
        let labels: Vec<String> = (0..3).map(|h| format!("{h:02}h")).collect();
        let svg = stacked_bars(
            "Webhooks",
            &labels,
            &[
                Series {
                    label: "accepted",
                    color: "#2e7d32",
                    values: &[1, 0, 3],
                },
                Series {
                    label: "rejected",
                    color: "#c62828",
                    values: &[1, 0, 1],
                },
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(svg.contains("02h accepted: 3"));
        assert!(!svg.contains("style="), "inline styles would break the CSP");
    }

    #[test]
    fn lines_break_where_there_is_no_data() {
        let labels: Vec<String> = (0..4).map(|h| h.to_string()).collect();
        let svg = line(
            "p95",
            &labels,
            &[Some(1.0), None, Some(2.0), Some(3.0)],
            "#1565c0",
            " ms",
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 3);
    }
}
