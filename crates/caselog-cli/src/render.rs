//! Output: aligned text tables (CJK-aware), short times, and JSON lines.

use std::borrow::Cow;
use std::io::Write;

use caselog_core::Timestamp;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// `1 case`, `2 cases`: a count with its noun (English plural in `s`).
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A time as `2026-01-16 08:30` (UTC), for tables.
pub fn short_time(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    // RFC 3339 from core always starts `YYYY-MM-DDTHH:MM`.
    s.get(..16).map(|p| p.replacen('T', " ", 1)).unwrap_or(s)
}

/// An optional time for tables (`-` when absent).
pub fn opt_time(t: Option<Timestamp>) -> String {
    t.map(short_time).unwrap_or_else(|| "-".into())
}

/// Whether `c` must not reach a terminal as it is: control characters
/// (escape sequences, a carriage return that overwrites the line, ...) and
/// the explicit bidirectional controls, which reorder the text after them
/// ("Trojan Source": `U+202E` shows `fdp.exe` as `exe.pdf`).
fn is_unsafe(c: char) -> bool {
    c.is_control() || caselog_core::is_bidi_control(c)
}

/// Appends `c` to `out` as it may be shown: unsafe characters as
/// `<U+202E>`, except that tabs and line breaks become a space where the
/// text must stay on one line.
fn push_visible(out: &mut String, c: char, one_line: bool) {
    match c {
        '\t' if !one_line => out.push('\t'),
        '\t' | '\n' | '\r' if one_line => out.push(' '),
        c if is_unsafe(c) => out.push_str(&format!("<U+{:04X}>", u32::from(c))),
        c => out.push(c),
    }
}

/// `text` safe to print on a terminal line: see [`is_unsafe`]. Tabs are
/// kept. Stored text is never changed; only its display is.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        push_visible(&mut out, c, false);
    }
    Cow::Owned(out)
}

/// `text` on one line and safe for a terminal: line breaks and tabs as
/// spaces, other unsafe characters escaped.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_visible(&mut out, c, true);
    }
    out
}

/// The longest start of `text` at most `width` display columns wide
/// (leaving one column for an ellipsis when cut), and whether it was cut.
pub fn cut_to_width(text: &str, width: usize) -> (&str, bool) {
    if UnicodeWidthStr::width(text) <= width {
        return (text, false);
    }
    let mut used = 0;
    for (i, c) in text.char_indices() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            return (text.get(..i).unwrap_or(""), true);
        }
        used += w;
    }
    (text, false)
}

/// Cuts `text` to at most `width` display columns, ending with `…` when cut,
/// and replaces line breaks and tabs with spaces so a cell stays one line
/// (other control and bidirectional characters are escaped).
pub fn clip(text: &str, width: usize) -> String {
    let flat = one_line(text);
    let (kept, cut) = cut_to_width(&flat, width);
    if cut {
        format!("{kept}…")
    } else {
        flat
    }
}

/// A text table: a header row and rows of cells, printed with columns
/// aligned by display width (CJK characters take two columns).
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Widest a column may be; longer cells are clipped. Per column.
    max: Vec<usize>,
}

impl Table {
    /// A table with these column names; each column at most `max` wide.
    pub fn new(columns: &[(&str, usize)]) -> Self {
        Table {
            header: columns.iter().map(|(n, _)| (*n).to_owned()).collect(),
            rows: Vec::new(),
            max: columns.iter().map(|(_, m)| *m).collect(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        let cells = cells
            .into_iter()
            .zip(self.max.iter().copied().chain(std::iter::repeat(usize::MAX)))
            .map(|(c, m)| clip(&c, m))
            .collect();
        self.rows.push(cells);
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Writes the table.
    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (i, c) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(c.width());
                }
            }
        }
        let line = |out: &mut dyn Write, cells: &[String]| -> std::io::Result<()> {
            let mut text = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(c);
                let last = i + 1 == cells.len();
                if !last {
                    let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(c.width());
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            writeln!(out, "{}", text.trim_end())
        };
        line(out, &self.header)?;
        for row in &self.rows {
            line(out, row)?;
        }
        Ok(())
    }
}

/// Writes a value as one line of JSON.
pub fn json_line(out: &mut dyn Write, value: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_counts_display_columns() {
        assert_eq!(clip("我的账户被停用了", 8), "我的账…");
        assert_eq!(clip("short", 8), "short");
        assert_eq!(clip("line\nbreak", 20), "line break");
    }

    /// Issue: a title holding U+202E (stored before titles refused it, or
    /// a body) was printed raw, reordering the terminal line.
    #[test]
    fn control_and_bidi_characters_never_reach_the_terminal_raw() {
        assert_eq!(visible("invoice\u{202E}fdp.exe"), "invoice<U+202E>fdp.exe");
        assert_eq!(visible("red \x1b[31malert"), "red <U+001B>[31malert");
        assert_eq!(visible("a\tb"), "a\tb");
        assert_eq!(visible("over\rwrite"), "over<U+000D>write");
        assert!(matches!(visible("plain 我的账户"), Cow::Borrowed(_)));
        assert_eq!(one_line("a\nb\u{2066}c"), "a b<U+2066>c");
        assert_eq!(clip("x\u{202E}y", 40), "x<U+202E>y");
        // Right-to-left marks are ordinary text in Arabic and Hebrew.
        assert_eq!(visible("שלום\u{200F}!"), "שלום\u{200F}!");
    }

    #[test]
    fn tables_align_cjk() {
        let mut t = Table::new(&[("a", 20), ("b", 20)]);
        t.row(vec!["账户".into(), "x".into()]);
        t.row(vec!["abcd".into(), "y".into()]);
        let mut out = Vec::new();
        t.write(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, ["a     b", "账户  x", "abcd  y"]);
    }

    #[test]
    fn short_times() {
        let t = Timestamp::parse_rfc3339("2026-01-16T08:30:59.123Z").unwrap();
        assert_eq!(short_time(t), "2026-01-16 08:30");
    }
}
