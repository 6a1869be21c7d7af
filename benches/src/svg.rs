//! A hand-written SVG of the latency distributions: one panel per query
//! kind and view (largest tenant) and one for number lookups, each the cumulative
//! distribution of every system on a logarithmic time axis. (plotters would
//! add a dependency tree for six line charts.)

use std::fmt::Write;

use crate::report::Report;

const W: f64 = 460.0;
const H: f64 = 230.0;
const PAD_L: f64 = 50.0;
const PAD_R: f64 = 15.0;
const PAD_T: f64 = 28.0;
const PAD_B: f64 = 36.0;
const COLORS: &[(&str, &str)] = &[
    ("caselog", "#d62728"),
    ("sqlite", "#1f77b4"),
    ("sqlite-rowid", "#9467bd"),
    ("raw", "#2ca02c"),
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The plot as an SVG document.
pub fn latency_plot(r: &Report) -> String {
    let scope = r.scopes.first().map_or("largest tenant", |s| s.name.as_str());
    let mut panels: Vec<(String, String)> = crate::queries::kinds(&r.settings.mix)
        .into_iter()
        .chain(crate::queries::VIEWS.iter().map(|v| (*v).to_owned()))
        .map(|k| (k, scope.to_owned()))
        .collect();
    panels.push(("number lookup".into(), "tenant".into()));
    let cols = 2;
    let rows = panels.len().div_ceil(cols);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="11">"#,
        W * cols as f64,
        H * rows as f64 + 30.0
    );
    let _ = write!(
        svg,
        r#"<rect width="100%" height="100%" fill="white"/><text x="10" y="18" font-size="13">Latency CDF, largest tenant, {} cases (x: µs, log scale; y: fraction of queries)</text>"#,
        r.cases
    );
    for (n, (kind, scope)) in panels.iter().enumerate() {
        let (ox, oy) = ((n % cols) as f64 * W, (n / cols) as f64 * H + 30.0);
        let series: Vec<(&str, &str, Vec<f64>)> = COLORS
            .iter()
            .filter_map(|(sys, color)| {
                let mut v = r.samples.get(*sys)?.get(kind)?.get(scope)?.clone();
                v.retain(|x| x.is_finite() && *x > 0.0);
                v.sort_by(f64::total_cmp);
                (!v.is_empty()).then_some((*sys, *color, v))
            })
            .collect();
        let lo = series.iter().map(|s| s.2[0]).fold(f64::INFINITY, f64::min);
        let hi = series.iter().map(|s| *s.2.last().unwrap_or(&1.0)).fold(0.0, f64::max);
        if !lo.is_finite() {
            continue;
        }
        let (l0, l1) = (lo.log10().floor(), hi.log10().ceil().max(lo.log10().floor() + 1.0));
        let pw = W - PAD_L - PAD_R;
        let ph = H - PAD_T - PAD_B;
        let x = |v: f64| ox + PAD_L + (v.log10() - l0) / (l1 - l0) * pw;
        let y = |f: f64| oy + PAD_T + (1.0 - f) * ph;
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" font-weight="bold">{}</text><rect x="{}" y="{}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>"##,
            ox + PAD_L,
            oy + PAD_T - 8.0,
            escape(kind),
            ox + PAD_L,
            oy + PAD_T
        );
        let mut e = l0 as i32;
        while f64::from(e) <= l1 {
            let xv = x(10f64.powi(e));
            let label = match e {
                e if e < 0 => format!("{}", 10f64.powi(e)),
                e if e < 3 => format!("{}", 10i64.pow(e as u32)),
                e if e < 6 => format!("{}k", 10i64.pow(e as u32 - 3)),
                e => format!("{}M", 10i64.pow(e as u32 - 6)),
            };
            let _ = write!(
                svg,
                r##"<line x1="{xv:.1}" y1="{}" x2="{xv:.1}" y2="{}" stroke="#eee"/><text x="{xv:.1}" y="{}" text-anchor="middle">{label}</text>"##,
                y(1.0),
                y(0.0),
                y(0.0) + 14.0
            );
            e += 1;
        }
        for f in [0.0, 0.5, 0.99] {
            let _ = write!(
                svg,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{f}</text>"#,
                ox + PAD_L - 4.0,
                y(f) + 4.0
            );
        }
        for (i, (sys, color, v)) in series.iter().enumerate() {
            let mut d = String::new();
            for (k, val) in v.iter().enumerate() {
                let f = (k + 1) as f64 / v.len() as f64;
                let _ = write!(d, "{}{:.1},{:.1}", if k == 0 { "M" } else { " L" }, x(*val), y(f));
            }
            let _ = write!(
                svg,
                r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="1.5"/><text x="{}" y="{}" fill="{color}">{sys}</text>"#,
                ox + PAD_L + 6.0,
                oy + PAD_T + 14.0 + i as f64 * 13.0
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">µs</text>"#,
            ox + PAD_L + pw / 2.0,
            oy + H - 6.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}
