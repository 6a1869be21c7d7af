//! Highlighting: where a query's words are found in a title or a message,
//! and the snippet cut around them.

use std::ops::Range;

use redb::ReadTransaction;

use crate::error::{Result, StoreError};
use crate::index::analysis::CharsAnalysis;
use crate::index::schema::floor_char_boundary;
use crate::stored::ThreadBodies;
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
        Planner::new(&Fields::build().1).plan(root, None).1
    }

    /// Byte ranges of `text` matching any of the words and phrases, sorted
    /// and merged, and how many distinct words and phrases matched.
    #[cfg(test)]
    pub fn find(&self, text: &str) -> (Vec<Range<usize>>, usize) {
        self.find_with(text, &mut CharsAnalysis::new(&self.plans))
    }

    /// [`Highlighter::find`] with an analysis shared by the texts of a page,
    /// built by [`CharsAnalysis::new`] from this highlighter's plans.
    pub(crate) fn find_with(&self, text: &str, analysis: &mut CharsAnalysis) -> (Vec<Range<usize>>, usize) {
        if self.plans.is_empty() {
            return (Vec::new(), 0);
        }
        // The analysis was built for these plans: its phrases are theirs,
        // as numbers.
        let (tokens, phrases) = analysis.analyze(text);
        let mut spans: Vec<Range<usize>> = Vec::new();
        let mut distinct = 0;
        for phrase in phrases {
            let n = phrase.len();
            if n == 0 {
                continue;
            }
            let mut found = false;
            // The chars analyzer gives every token its own position, one
            // after the other, so a phrase is a run of consecutive tokens.
            for window in tokens.windows(n) {
                if window.iter().zip(phrase).all(|(t, p)| t.number == *p) {
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

    /// Sets the title highlights of a page of hits; a title whose raw text
    /// rules out every word is not analysed.
    pub(crate) fn titles(&self, hits: &mut [SearchHit], analysis: &mut CharsAnalysis) {
        if self.plans.is_empty() {
            return;
        }
        let probes = self.probes();
        for hit in hits {
            if Highlighter::bound(&probes, &hit.title).0 > 0 {
                hit.title_highlights = self.find_with(&hit.title, analysis).0;
            }
        }
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
    #[cfg(test)]
    pub(super) fn may_match(probes: &[Vec<Probe>], text: &str) -> bool {
        Highlighter::bound(probes, text).0 > 0
    }

    /// Upper bounds on what [`Highlighter::find_with`] can give for `text`,
    /// from the raw text alone: (distinct plans, spans). A plan counts
    /// unless one of its probes is missing; its windows are at most the
    /// occurrences of any one of its probes that says something about this
    /// text (each window's token at that place comes from its own stretch
    /// of the text, and a stretch the token comes out of holds the probe).
    /// A plan with no such probe bounds nothing (`usize::MAX` spans).
    pub(super) fn bound(probes: &[Vec<Probe>], text: &str) -> (usize, usize) {
        let ascii = text.is_ascii();
        let mut lower: Option<String> = None;
        let mut distinct = 0usize;
        let mut spans = 0usize;
        for plan in probes {
            let mut windows = usize::MAX;
            let mut possible = true;
            for probe in plan {
                let count = match probe {
                    Probe::Char(c) => text.matches(*c).count(),
                    // Non-ASCII text can fold into these (`Ｒｅｆｕｎｄ`, `Café`).
                    Probe::Ascii(_) if !ascii => continue,
                    Probe::Ascii(p) => lower
                        .get_or_insert_with(|| text.to_ascii_lowercase())
                        .matches(p.as_str())
                        .count(),
                };
                if count == 0 {
                    possible = false;
                    break;
                }
                windows = windows.min(count);
            }
            if possible {
                distinct += 1;
                spans = spans.saturating_add(windows);
            }
        }
        (distinct, spans)
    }

    /// A snippet of the thread: the first message in which every word and
    /// phrase is found, else the one with the most distinct matches (then
    /// the most spans; the earliest on a tie), cut around its first match;
    /// the start of the first message with text when nothing matches.
    #[cfg(test)]
    pub fn snippet(&self, entries: &[(u32, &str)]) -> Option<Snippet> {
        self.snippet_with(
            &mut Listed(entries),
            &self.probes(),
            &mut CharsAnalysis::new(&self.plans),
        )
        .unwrap_or(None)
    }

    /// [`Highlighter::snippet`] with the probes of [`Highlighter::probes`]
    /// and an analysis shared by the page. A message is read (decoded) only
    /// when the choice can still change, and analysed only when its raw
    /// text allows it to beat the best message so far
    /// ([`Highlighter::bound`]), so a message that can match no word, or
    /// only as few words and spans as one already found, costs a substring
    /// search rather than an analysis.
    pub(crate) fn snippet_with(
        &self,
        messages: &mut impl Messages,
        probes: &[Vec<Probe>],
        analysis: &mut CharsAnalysis,
    ) -> Result<Option<Snippet>> {
        // (distinct matches, spans, message, spans) of the best message.
        let mut best: Option<(usize, usize, usize, Vec<Range<usize>>)> = None;
        let mut budget = SNIPPET_THREAD_BYTES;
        if !self.plans.is_empty() {
            for i in 0..messages.count() {
                if budget == 0 || best.as_ref().is_some_and(|b| b.0 == self.plans.len()) {
                    break;
                }
                let (_, body) = messages.message(i)?;
                let scan = &body[..floor_char_boundary(body, SNIPPET_SCAN_BYTES.min(budget))];
                budget -= scan.len();
                let most = Highlighter::bound(probes, scan);
                // Only a strictly better (distinct, spans) replaces the best.
                if most.0 == 0 || best.as_ref().is_some_and(|b| most <= (b.0, b.1)) {
                    continue;
                }
                let (spans, distinct) = self.find_with(scan, analysis);
                if distinct == 0 {
                    continue;
                }
                let better = best.as_ref().is_none_or(|b| (distinct, spans.len()) > (b.0, b.1));
                if better {
                    best = Some((distinct, spans.len(), i, spans));
                }
            }
        }
        if let Some((_, _, i, spans)) = best {
            let (entry, body) = messages.message(i)?;
            return Ok(Some(cut(entry, body, &spans)));
        }
        for i in 0..messages.count() {
            let (entry, body) = messages.message(i)?;
            if !body.trim().is_empty() {
                return Ok(Some(cut(entry, body, &[])));
            }
        }
        Ok(None)
    }
}

/// The messages a snippet is chosen from, in thread order.
pub(crate) trait Messages {
    /// How many there are.
    fn count(&self) -> usize;
    /// The `i`th message: its place in the thread and its text.
    fn message(&mut self, i: usize) -> Result<(u32, &str)>;
}

/// Messages already in memory.
#[cfg(test)]
pub(crate) struct Listed<'a>(pub(crate) &'a [(u32, &'a str)]);

#[cfg(test)]
impl Messages for Listed<'_> {
    fn count(&self) -> usize {
        self.0.len()
    }

    fn message(&mut self, i: usize) -> Result<(u32, &str)> {
        Ok(self.0.get(i).copied().unwrap_or((0, "")))
    }
}

impl Messages for ThreadBodies {
    fn count(&self) -> usize {
        self.len()
    }

    fn message(&mut self, i: usize) -> Result<(u32, &str)> {
        Ok((u32::try_from(i).unwrap_or(u32::MAX), self.body(i)?))
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
    /// are never stemmed), of a stemmed word the beginning every word that
    /// stems to it has ([`crate::index::analysis::stem_kept`]), nothing when
    /// that is under two letters. Says nothing about non-ASCII text, which
    /// can fold into ASCII.
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
        // A probe of one letter would rule out nothing.
        let kept = crate::index::analysis::stem_kept(token);
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

/// Adds snippets to a page of hits, reading every hit's message bodies
/// through one table handle of one store snapshot, with one analysis and
/// one set of probes for the page.
pub(super) fn decorate(
    txn: &ReadTransaction,
    highlighter: &Highlighter,
    analysis: &mut CharsAnalysis,
    hits: &mut [SearchHit],
) -> Result<()> {
    let table = txn
        .open_table(tables::THREAD)
        .map_err(|e| StoreError::storage("reading threads for snippets", e))?;
    let probes = highlighter.probes();
    let mut thread = ThreadBodies::empty();
    for hit in hits {
        thread.refill(&table, hit.id.0)?;
        hit.snippet = highlighter.snippet_with(&mut thread, &probes, analysis)?;
    }
    Ok(())
}
