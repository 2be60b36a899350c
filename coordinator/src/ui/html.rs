//! The pages' HTML building blocks: escaping, the page frame (inline
//! style, no script, no external resource), and bar charts drawn as
//! inline SVG on the server, each with a table giving its numbers.

use std::fmt::Write;

/// `text` escaped for HTML text and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` escaped for a URL's query or path segment.
pub fn url(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}\
header{background:#1f3a5f;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.5rem;align-items:center}\
header a{color:#fff}header form{margin-left:auto}main{padding:1rem 1.2rem;max-width:78rem}\
table{border-collapse:collapse;background:#fff;margin:.5rem 0}th,td{border:1px solid #d0d4da;padding:.25rem .5rem;text-align:right}\
th{background:#eef1f5}td.l,th.l{text-align:left}caption{text-align:left;font-weight:600;padding:.3rem 0}\
.error{color:#a4121c;font-weight:600}.muted{color:#59626d}.figure{display:inline-block;background:#fff;border:1px solid #d0d4da;padding:.5rem .8rem;margin:.2rem;min-width:9rem}\
.figure b{display:block;font-size:1.4rem}button{padding:.25rem .7rem}input[type=text]{width:34rem;max-width:90%}\
svg{background:#fff;border:1px solid #d0d4da}.up{color:#13693a}.down{color:#a4121c}nav.pages a{margin-right:.6rem}";

/// A whole page: `title`, the signed-in role (for the header), `body`.
/// `refresh` makes the page reload itself every that many seconds.
pub fn page(title: &str, role: Option<&str>, body: &str, refresh: Option<u32>) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    if let Some(seconds) = refresh {
        let _ = write!(out, "<meta http-equiv=\"refresh\" content=\"{seconds}\">");
    }
    let _ = write!(
        out,
        "<title>{} · Rapport</title><style>{STYLE}</style></head><body><header><strong>Rapport</strong>",
        esc(title)
    );
    if let Some(role) = role {
        let _ = write!(
            out,
            "<a href=\"/ui/runs\">Runs</a><span class=\"muted\" style=\"color:#c9d6e8\">signed in as {}</span>\
             <form method=\"post\" action=\"/ui/signout\"><button type=\"submit\">Sign out</button></form>",
            esc(role)
        );
    }
    let _ = writeln!(
        out,
        "</header><main><h1>{}</h1>{body}</main></body></html>",
        esc(title)
    );
    out
}

/// One bar series of a chart.
pub struct Series<'a> {
    /// Its name, in the legend and the table.
    pub name: &'a str,
    /// Its colour.
    pub colour: &'a str,
    /// One value per label.
    pub values: Vec<u32>,
}

/// A grouped bar chart: one group of bars per label, one bar per series.
/// Every bar carries its value (`data-value`) and a `<title>`; the chart
/// has a text alternative and is followed by a table of its numbers.
pub fn bar_chart(id: &str, title: &str, labels: &[String], series: &[Series<'_>]) -> String {
    let (width, height, left, bottom) = (720.0_f64, 200.0_f64, 36.0_f64, 36.0_f64);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let group_width = (width - left - 8.0) / labels.len().max(1) as f64;
    let bar_width = (group_width - 6.0) / series.len().max(1) as f64;
    let scale = (height - bottom - 10.0) / f64::from(max);
    let summary: Vec<String> = series
        .iter()
        .map(|s| format!("{} {}", s.name, s.values.iter().sum::<u32>()))
        .collect();
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<figure><svg id=\"{id}\" role=\"img\" aria-labelledby=\"{id}-title\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\"><title id=\"{id}-title\">{} ({} in all)</title>",
        esc(title),
        esc(&summary.join(", "))
    );
    let base = height - bottom;
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#59626d\"/>\
         <text x=\"4\" y=\"14\" font-size=\"11\">{max}</text><text x=\"4\" y=\"{base}\" font-size=\"11\">0</text>",
        width - 4.0
    );
    for (i, label) in labels.iter().enumerate() {
        let x0 = left + i as f64 * group_width + 3.0;
        for (k, s) in series.iter().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0);
            let h = f64::from(v) * scale;
            let _ = write!(
                svg,
                "<rect class=\"bar\" data-series=\"{}\" data-label=\"{}\" data-value=\"{v}\" x=\"{:.1}\" y=\"{:.1}\" \
                 width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{}: {} {v}</title></rect>",
                esc(s.name),
                esc(label),
                x0 + k as f64 * bar_width,
                base - h,
                (bar_width - 1.0).max(1.0),
                s.colour,
                esc(label),
                esc(s.name)
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x0 + group_width / 2.0 - 3.0,
            base + 14.0,
            esc(label)
        );
    }
    let mut legend_x = left;
    for s in series {
        let _ = write!(
            svg,
            "<rect x=\"{legend_x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
            height - 14.0,
            s.colour,
            legend_x + 14.0,
            height - 5.0,
            esc(s.name)
        );
        legend_x += 20.0 + 7.0 * s.name.len() as f64;
    }
    svg.push_str("</svg>");
    let _ = write!(
        svg,
        "<figcaption><details><summary>{} as a table</summary><table><thead><tr><th class=\"l\" scope=\"col\">Period</th>",
        esc(title)
    );
    for s in series {
        let _ = write!(svg, "<th scope=\"col\">{}</th>", esc(s.name));
    }
    svg.push_str("</tr></thead><tbody>");
    for (i, label) in labels.iter().enumerate() {
        let _ = write!(svg, "<tr><th class=\"l\" scope=\"row\">{}</th>", esc(label));
        for s in series {
            let _ = write!(svg, "<td>{}</td>", s.values.get(i).copied().unwrap_or(0));
        }
        svg.push_str("</tr>");
    }
    svg.push_str("</tbody></table></details></figcaption></figure>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_html_and_urls() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(url("a b/é&"), "a%20b%2F%C3%A9%26");
    }

    #[test]
    fn a_chart_carries_every_value_and_a_table_of_them() {
        let labels = vec!["2026-01".to_owned(), "2026-02".to_owned()];
        let chart = bar_chart(
            "c",
            "Emails",
            &labels,
            &[
                Series {
                    name: "to",
                    colour: "#000",
                    values: vec![3, 0],
                },
                Series {
                    name: "from",
                    colour: "#111",
                    values: vec![1, 7],
                },
            ],
        );
        for v in [3, 0, 1, 7] {
            assert!(chart.contains(&format!("data-value=\"{v}\"")), "{v}");
        }
        assert!(chart.contains("to 3, from 8 in all"));
        assert!(chart.contains("<td>7</td>"));
        assert_eq!(chart.matches("class=\"bar\"").count(), 4);
    }
}
