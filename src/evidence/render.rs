//! The report for people: Markdown for a pull request or wiki, and one self-contained HTML page
//! for reviewers (inline CSS, no script, no external asset; every value HTML-escaped), both a
//! summary table of the controls followed by each control's facts.

use super::report::{Control, Report, Status};
use std::fmt::Write as _;

fn functions(control: &Control) -> String {
    control
        .nist_ai_rmf
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Escapes text for a Markdown table cell or line: pipes, backticks, angle brackets and line
/// breaks cannot break the layout or inject markup.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '`' => out.push_str("\\`"),
            '*' | '_' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// The report as Markdown.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Security evidence\n");
    let _ = writeln!(
        out,
        "Generated {} by {}. Schema `{}`, SHA-256 `{}`.\n",
        md(&report.generated_at),
        md(&report.generator),
        report.schema,
        report.sha256
    );
    let _ = writeln!(
        out,
        "| Control | NIST AI RMF | AI-SEC-01 | Status | Summary |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for c in &report.controls {
        let _ = writeln!(
            out,
            "| {} | {} | {} | **{}** | {} |",
            md(&c.title),
            functions(c),
            md(&c.ai_sec_01),
            c.status.label(),
            md(&c.summary)
        );
    }
    for c in &report.controls {
        let _ = writeln!(out, "\n## {} ({})\n", md(&c.title), c.status.label());
        let _ = writeln!(out, "{}\n", md(&c.summary));
        if c.facts.is_empty() {
            let _ = writeln!(out, "No facts were read.");
            continue;
        }
        let _ = writeln!(out, "| Holds | Observed | When | How |");
        let _ = writeln!(out, "|---|---|---|---|");
        for f in &c.facts {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                if f.holds { "yes" } else { "no" },
                md(&f.observed),
                md(&f.at),
                md(&f.method)
            );
        }
    }
    out
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b;max-width:72rem}\
table{border-collapse:collapse;width:100%;margin:0 0 1.5rem}\
th,td{border:1px solid #c8c8c8;padding:.35rem .55rem;text-align:left;vertical-align:top}\
th{background:#f0f0f0}code{font-size:.9em}\
.pass{background:#e3f5e1;color:#0b5d1e;font-weight:600}\
.fail{background:#fbe3e3;color:#8a1111;font-weight:600}\
.not-checked{background:#f3f0e0;color:#5c4b00;font-weight:600}\
td.no{color:#8a1111;font-weight:600}";

fn status_cell(status: Status) -> String {
    format!("<td class=\"{0}\">{0}</td>", html_escape(status.label()))
}

/// The report as one HTML page that needs nothing else to display.
pub fn html(report: &Report) -> String {
    let e = html_escape;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Security evidence</title><style>{STYLE}</style></head><body>\n<h1>Security evidence</h1>\n\
<p>Generated {} by {}. Schema <code>{}</code>, SHA-256 <code>{}</code>.</p>\n",
        e(&report.generated_at),
        e(&report.generator),
        e(&report.schema),
        e(&report.sha256)
    );
    let _ = writeln!(
        out,
        "<table id=\"summary\"><thead><tr><th>Control</th><th>NIST AI RMF</th><th>AI-SEC-01</th>\
<th>Status</th><th>Summary</th></tr></thead><tbody>"
    );
    for c in &report.controls {
        let _ = writeln!(
            out,
            "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td>{}<td>{}</td></tr>",
            e(&c.id),
            e(&c.title),
            e(&functions(c)),
            e(&c.ai_sec_01),
            status_cell(c.status),
            e(&c.summary)
        );
    }
    let _ = writeln!(out, "</tbody></table>");
    for c in &report.controls {
        let _ = writeln!(
            out,
            "<section id=\"{}\"><h2>{} <span class=\"{}\">{}</span></h2><p>{}</p>",
            e(&c.id),
            e(&c.title),
            e(c.status.label()),
            e(c.status.label()),
            e(&c.summary)
        );
        if c.facts.is_empty() {
            let _ = writeln!(out, "<p>No facts were read.</p>");
        } else {
            let _ = writeln!(
                out,
                "<table><thead><tr><th>Holds</th><th>Observed</th><th>When</th><th>How</th></tr></thead><tbody>"
            );
            for f in &c.facts {
                let _ = writeln!(
                    out,
                    "<tr><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                    if f.holds { "yes" } else { "no" },
                    if f.holds { "yes" } else { "no" },
                    e(&f.observed),
                    e(&f.at),
                    e(&f.method)
                );
            }
            let _ = writeln!(out, "</tbody></table>");
        }
        let _ = writeln!(out, "</section>");
    }
    let _ = writeln!(out, "</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::report::{Fact, RmfFunction};

    fn hostile() -> Report {
        let mut c = Control::new(
            "x\"><script>",
            "<b>title</b>",
            &[RmfFunction::Measure, RmfFunction::Manage],
            "a|b",
        );
        c.fact(Fact::now(
            "<img src=x onerror=alert(1)>",
            "GET http://h/x?a=1&b=2",
            false,
        ));
        c.conclude("fails | <i>");
        Report::new(vec![c])
    }

    #[test]
    fn html_escapes_every_value_and_loads_nothing() {
        let page = html(&hostile());
        assert!(!page.contains("<script>"));
        assert!(!page.contains("<img"));
        assert!(!page.contains("<b>title"));
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(page.contains("a=1&amp;b=2"));
        assert!(!page.contains("src=\""));
        assert!(!page.contains("<link"));
        assert!(page.contains("<td class=\"fail\">fail</td>"));
    }

    #[test]
    fn markdown_keeps_the_table_shape() {
        let text = markdown(&hostile());
        let row = text.lines().find(|l| l.contains("title")).unwrap();
        assert_eq!(row.matches(" | ").count(), 4, "{row}");
        assert!(text.contains("Measure, Manage"));
        assert!(!text.contains("<img"));
    }
}
