//! Highlighting: where a query's words are found in a title or a message,
//! and the snippet cut around them.

use std::ops::Range;

use redb::ReadTransaction;

use crate::error::{Result, StoreError};
use crate::index::analysis::{analyze, Analyzer};
use crate::index::schema::floor_char_boundary;
use crate::stored::full_thread;
use crate::tables;

use super::*;
#[cfg(test)]
use crate::index::schema::Fields;

/// Finds where a query's words and phrases occur in text, the way the chars
/// field matches them, so highlights agree with what matched (Chinese by
/// substring, English ignoring case and inflection).
#[derive(Debug, Clone, Default)]
pub(crate) struct Highlighter {
    /// Token texts of each positive word or phrase, as the chars analyzer
    /// plans them.
    pub(super) plans: Vec<Vec<String>>,
}

impl Highlighter {
    /// The highlighter for the words and phrases a query asks for (not the
    /// excluded ones), as a search plans them.
    #[cfg(test)]
    pub fn new(root: &Query) -> Highlighter {
        Planner::new(&Fields::build().1).plan(root).1
    }

    /// Byte ranges of `text` matching any of the words and phrases, sorted
    /// and merged, and how many distinct words and phrases matched.
    pub fn find(&self, text: &str) -> (Vec<Range<usize>>, usize) {
        if self.plans.is_empty() {
            return (Vec::new(), 0);
        }
        let tokens = analyze(Analyzer::Chars, text);
        let mut spans: Vec<Range<usize>> = Vec::new();
        let mut distinct = 0;
        for plan in &self.plans {
            let n = plan.len();
            let mut found = false;
            // The chars analyzer gives every token its own position, one
            // after the other, so a phrase is a run of consecutive tokens.
            for window in tokens.windows(n) {
                if window.iter().zip(plan).all(|(t, p)| &t.text == p) {
                    if let (Some(first), Some(last)) = (window.first(), window.last()) {
                        spans.push(first.offset_from..last.offset_to);
                        found = true;
                    }
                }
            }
            distinct += usize::from(found);
        }
        (merge(spans), distinct)
    }

    /// What a text must contain, before analysis, for each plan to be
    /// found in it (see [`Probe`]).
    pub(super) fn probes(&self) -> Vec<Vec<Probe>> {
        self.plans
            .iter()
            .map(|plan| plan.iter().filter_map(|t| Probe::of(t)).collect())
            .collect()
    }

    /// Whether some plan may be found in `text`: `false` only when no plan
    /// can be, so the text need not be analysed.
    pub(super) fn may_match(probes: &[Vec<Probe>], text: &str) -> bool {
        let ascii = text.is_ascii();
        let mut lower: Option<String> = None;
        probes.iter().any(|plan| {
            plan.iter().all(|probe| match probe {
                Probe::Char(c) => text.contains(*c),
                // Non-ASCII text can fold into these (`Ｒｅｆｕｎｄ`, `Café`).
                Probe::Ascii(_) if !ascii => true,
                Probe::Ascii(p) => lower
                    .get_or_insert_with(|| text.to_ascii_lowercase())
                    .contains(p.as_str()),
            })
        })
    }

    /// A snippet of the thread: the first message in which every word and
    /// phrase is found, else the one with the most distinct matches, cut
    /// around its first match; the start of the first message with text
    /// when nothing matches.
    pub fn snippet(&self, entries: &[(u32, &str)]) -> Option<Snippet> {
        // (distinct matches, spans, entry, body, spans) of the best message.
        type Best<'t> = (usize, usize, u32, &'t str, Vec<Range<usize>>);
        let mut best: Option<Best<'_>> = None;
        let mut budget = SNIPPET_THREAD_BYTES;
        let probes = self.probes();
        if !self.plans.is_empty() {
            for &(entry, body) in entries {
                if budget == 0 || best.as_ref().is_some_and(|b| b.0 == self.plans.len()) {
                    break;
                }
                let scan = &body[..floor_char_boundary(body, SNIPPET_SCAN_BYTES.min(budget))];
                budget -= scan.len();
                if !Highlighter::may_match(&probes, scan) {
                    continue;
                }
                let (spans, distinct) = self.find(scan);
                if distinct == 0 {
                    continue;
                }
                let better = best.as_ref().is_none_or(|b| (distinct, spans.len()) > (b.0, b.1));
                if better {
                    best = Some((distinct, spans.len(), entry, body, spans));
                }
            }
        }
        match best {
            Some((_, _, entry, body, spans)) => Some(cut(entry, body, &spans)),
            None => entries
                .iter()
                .find(|(_, body)| !body.trim().is_empty())
                .map(|&(entry, body)| cut(entry, body, &[])),
        }
    }
}

/// Something a text must contain, as it is before analysis, for a token of
/// the chars analyzer to come out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Probe {
    /// A CJK character: its token is the character itself, unfolded.
    Char(char),
    /// Lowercase ASCII that an ASCII text holds (ignoring case) wherever
    /// the token can come out of it: a token with a digit whole (such words
    /// are never stemmed), a stemmed word without its last two characters
    /// (the English stemmer rewrites no more than a word's last two
    /// characters of what it keeps), nothing for stems under four letters. Says nothing about non-ASCII text, which can fold into
    /// ASCII.
    Ascii(String),
}

impl Probe {
    /// The probe of one token, if there is a useful one.
    pub(crate) fn of(token: &str) -> Option<Probe> {
        let mut chars = token.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            if crate::index::analysis::is_cjk(c) {
                return Some(Probe::Char(c));
            }
        }
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            return None;
        }
        if token.bytes().any(|b| b.is_ascii_digit()) {
            return Some(Probe::Ascii(token.to_owned()));
        }
        // Short stems get none: Porter2's irregular forms (`dying` → `die`)
        // rewrite them from their second character.
        let kept = token.len().saturating_sub(2);
        token
            .get(..kept)
            .filter(|_| kept >= 2)
            .map(|p| Probe::Ascii(p.to_owned()))
    }
}

/// Sorts and merges overlapping or touching ranges.
pub(super) fn merge(mut spans: Vec<Range<usize>>) -> Vec<Range<usize>> {
    spans.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// Byte offset `chars` characters after `from` in `text` (or its end).
pub(super) fn advance(text: &str, from: usize, chars: usize) -> usize {
    text.get(from..)
        .and_then(|rest| rest.char_indices().nth(chars).map(|(i, _)| from + i))
        .unwrap_or(text.len())
}

/// Byte offset `chars` characters before `to` in `text` (or 0).
pub(super) fn retreat(text: &str, to: usize, chars: usize) -> usize {
    if chars == 0 {
        return to;
    }
    text.get(..to)
        .and_then(|head| head.char_indices().rev().nth(chars - 1).map(|(i, _)| i))
        .unwrap_or(0)
}

/// Cuts a snippet of about [`SNIPPET_CHARS`] characters from `body`,
/// starting a little before the first span.
pub(super) fn cut(entry: u32, body: &str, spans: &[Range<usize>]) -> Snippet {
    let anchor = spans.first().map_or(0, |s| s.start);
    let mut start = retreat(body, anchor, SNIPPET_LEAD_CHARS);
    // Start at a word boundary when one is near, so the snippet does not
    // open with half a word.
    if start > 0 {
        if let Some(ws) = body.get(start..anchor).and_then(|s| s.find(char::is_whitespace)) {
            start += ws;
            start = advance(body, start, 1);
        }
    }
    let end = advance(body, start, SNIPPET_CHARS);
    let text = body.get(start..end).unwrap_or("").to_owned();
    let highlights = spans
        .iter()
        .filter(|s| s.start < end && s.end > start)
        .map(|s| s.start.max(start) - start..s.end.min(end) - start)
        .collect();
    Snippet {
        entry,
        text,
        highlights,
        cut_before: start > 0,
        cut_after: end < body.len(),
    }
}

/// Adds snippets to a page of hits, reading every hit's thread through one
/// table handle of one store snapshot.
pub(super) fn decorate(txn: &ReadTransaction, highlighter: &Highlighter, hits: &mut [SearchHit]) -> Result<()> {
    let table = txn
        .open_table(tables::THREAD)
        .map_err(|e| StoreError::storage("reading threads for snippets", e))?;
    for hit in hits {
        let thread = full_thread(&table, hit.id.0)?;
        let entries: Vec<(u32, &str)> = thread
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.body.is_empty())
            .map(|(i, e)| (u32::try_from(i).unwrap_or(u32::MAX), e.body.as_str()))
            .collect();
        hit.snippet = highlighter.snippet(&entries);
    }
    Ok(())
}
