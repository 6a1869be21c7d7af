//! Output: aligned text tables (CJK-aware), short times, and JSON lines.

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

/// Cuts `text` to at most `width` display columns, ending with `…` when cut,
/// and replaces line breaks and tabs with spaces so a cell stays one line.
pub fn clip(text: &str, width: usize) -> String {
    let flat: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if UnicodeWidthStr::width(flat.as_str()) <= width {
        return flat;
    }
    let mut out = String::new();
    let mut used = 0;
    for c in flat.chars() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
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
