//! Text analysis for the full-text index: how titles and message threads in
//! English and Chinese become tokens, and how a query word must be searched.
//!
//! DOCS-PLACEHOLDER

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, RawTokenizer, Stemmer, TextAnalyzer, Token as TantivyToken,
    TokenStream, Tokenizer,
};
use tantivy::{Index, Score, Term};
use tantivy_jieba::jieba_rs::{Jieba, TokenizeMode};

/// Name under which the word-level analyzer is registered (jieba segmentation
/// for CJK, English words lowercased, folded and stemmed).
pub const WORDS_ANALYZER: &str = "caselog_words";

/// Name under which the character-level analyzer is registered (one token per
/// CJK character, English words exactly as in [`WORDS_ANALYZER`]).
pub const CHARS_ANALYZER: &str = "caselog_chars";

/// Longest token, in bytes, that an English word, number or identifier keeps.
///
/// Longer words (base64 blobs, minified URLs) are cut to this length on a
/// character boundary rather than dropped, so that a query for the same long
/// word is cut the same way and still finds it; tantivy itself would silently
/// drop any token over 65 530 bytes.
pub const MAX_WORD_BYTES: usize = 128;

/// How many positions of a query text [`query_plan`] keeps.
///
/// A longer query keeps its first positions only. Every text that contains the
/// whole query also contains its beginning, so this never loses a true match;
/// it only bounds the size (and cost) of the phrase queries built from a plan.
pub const MAX_QUERY_POSITIONS: usize = 64;

/// Boost that [`QueryPlan::query`] callers should give the words-field clause
/// unless they have measured something better: a whole-word match then counts
/// roughly three times as much as a substring-only match of the same query.
pub const DEFAULT_WORDS_BOOST: Score = 2.0;

/// Longest run of CJK characters handed to jieba in one call.
///
/// Real text breaks CJK runs at punctuation long before this; the limit only
/// bounds jieba's per-call memory on hostile input (and keeps its internal
/// `u32` byte offsets far from overflow). A word that straddles a cut is
/// segmented as two pieces, which affects ranking only, never recall.
const JIEBA_CHUNK_CHARS: usize = 512;

/// The two analyzers of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Analyzer {
    /// Word level: CJK runs segmented by jieba (search mode, so a long word
    /// also yields its dictionary sub-words), English words lowercased,
    /// folded and stemmed. Registered as [`WORDS_ANALYZER`]; used for ranking.
    Words,
    /// Character level: one token per CJK character, English words exactly as
    /// in [`Analyzer::Words`]. Registered as [`CHARS_ANALYZER`]; used for
    /// recall, since any CJK substring is a phrase of its characters.
    Chars,
}

impl Analyzer {
    /// Every analyzer, in registration order.
    pub const ALL: [Analyzer; 2] = [Analyzer::Words, Analyzer::Chars];

    /// The name under which [`register`] makes this analyzer known to tantivy.
    pub const fn name(self) -> &'static str {
        match self {
            Analyzer::Words => WORDS_ANALYZER,
            Analyzer::Chars => CHARS_ANALYZER,
        }
    }

    /// The analyzer registered under `name`, if it is one of ours.
    pub fn from_name(name: &str) -> Option<Analyzer> {
        Analyzer::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Indexing options for a text field analyzed by this analyzer.
    ///
    /// Positions are always recorded: substring recall on the chars field
    /// and whole-phrase ranking on the words field are both phrase queries.
    pub fn indexing(self) -> TextFieldIndexing {
        TextFieldIndexing::default()
            .set_tokenizer(self.name())
            .set_index_option(IndexRecordOption::WithFreqsAndPositions)
    }

    /// Text field options (not stored) using [`Analyzer::indexing`]; call
    /// `.set_stored()` on the result for a field that snippets are made from.
    pub fn text_options(self) -> TextOptions {
        TextOptions::default().set_indexing_options(self.indexing())
    }

    fn index_mode(self) -> Mode {
        match self {
            Analyzer::Words => Mode::WordsIndex,
            Analyzer::Chars => Mode::Chars,
        }
    }
}

/// One token produced by [`analyze`] or [`query_plan`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token {
    /// The indexed term text (lowercased, folded, stemmed for English words;
    /// one character or one jieba word for CJK).
    pub text: String,
    /// Position in the shared position space of both analyzers: every CJK
    /// character and every English word takes one position, whitespace and
    /// punctuation take none. A jieba word sits at the position of its first
    /// character.
    pub position: usize,
    /// Byte offset in the analyzed text where the token's source starts.
    pub offset_from: usize,
    /// Byte offset in the analyzed text just after the token's source.
    pub offset_to: usize,
}

impl From<TantivyToken> for Token {
    fn from(token: TantivyToken) -> Token {
        Token {
            text: token.text,
            position: token.position,
            offset_from: token.offset_from,
            offset_to: token.offset_to,
        }
    }
}

/// Registers [`WORDS_ANALYZER`] and [`CHARS_ANALYZER`] on an index's tokenizer
/// manager. Call it every time an index is created or opened: tantivy stores
/// only the analyzer names in the schema, not the analyzers.
pub fn register(index: &Index) {
    for analyzer in Analyzer::ALL {
        index
            .tokenizers()
            .register(analyzer.name(), CaselogTokenizer::new(analyzer));
    }
}

/// Runs an analyzer over `text` exactly as the index does.
///
/// Tokens come sorted by position; at one position the words analyzer may give
/// several tokens (a jieba word and its dictionary sub-words that start there).
pub fn analyze(analyzer: Analyzer, text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut normalizer = WordNormalizer::new();
    scan(
        analyzer.index_mode(),
        text,
        usize::MAX,
        &mut normalizer,
        &mut tokens,
    );
    tokens.into_iter().map(Token::from).collect()
}

/// How one query word or quoted phrase must be searched.
///
/// Both token lists share one position space (see [`Token::position`]), so
/// they turn into phrase queries with explicit offsets
/// ([`PhraseQuery::new_with_offset`]) that match exactly where the text
/// contains the query, across English and Chinese alike.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryPlan {
    /// Tokens to search in the chars field. A document matches this phrase
    /// if and only if its text contains the query (ignoring case, width,
    /// accents, English inflection, whitespace and punctuation), so this is
    /// the clause that decides whether a document is a hit.
    pub chars: Vec<Token>,
    /// Tokens to search in the words field: the query segmented by jieba in
    /// its default (non-overlapping) mode. A document matches it when it
    /// contains the query as whole words, so this clause only adds score.
    pub words: Vec<Token>,
}

impl QueryPlan {
    /// True when the query text has nothing searchable in it (only spaces or
    /// punctuation). The search side should then ignore the query word, or
    /// report it, rather than build a query from it.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The recall clause: a term query (one token) or an exact phrase query
    /// with explicit offsets (several), on the given chars field. `None` if
    /// the plan is empty.
    pub fn chars_query(&self, chars_field: Field) -> Option<Box<dyn Query>> {
        tokens_query(chars_field, &self.chars)
    }

    /// The ranking clause on the given words field, built like
    /// [`QueryPlan::chars_query`]. `None` if the plan is empty.
    pub fn words_query(&self, words_field: Field) -> Option<Box<dyn Query>> {
        tokens_query(words_field, &self.words)
    }

    /// The recommended query for one query word over one chars/words field
    /// pair: `+chars_query (words_query)^words_boost`. It matches exactly the
    /// documents that [`QueryPlan::chars_query`] matches and ranks whole-word
    /// matches higher. `None` if the plan is empty.
    pub fn query(
        &self,
        chars_field: Field,
        words_field: Field,
        words_boost: Score,
    ) -> Option<Box<dyn Query>> {
        let recall = self.chars_query(chars_field)?;
        let mut clauses = vec![(Occur::Must, recall)];
        if let Some(words) = self.words_query(words_field) {
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(words, words_boost)) as Box<dyn Query>,
            ));
        }
        Some(Box::new(BooleanQuery::new(clauses)))
    }
}

/// Plans the search of one query word or quoted phrase; see [`QueryPlan`]
/// and the module docs for how to turn it into a tantivy query.
pub fn query_plan(text: &str) -> QueryPlan {
    let mut normalizer = WordNormalizer::new();
    let mut chars = Vec::new();
    scan(
        Mode::Chars,
        text,
        MAX_QUERY_POSITIONS,
        &mut normalizer,
        &mut chars,
    );
    let mut words = Vec::new();
    scan(
        Mode::WordsQuery,
        text,
        MAX_QUERY_POSITIONS,
        &mut normalizer,
        &mut words,
    );
    QueryPlan {
        chars: chars.into_iter().map(Token::from).collect(),
        words: words.into_iter().map(Token::from).collect(),
    }
}

/// Loads the jieba dictionary now (if no one has yet) and returns how long
/// the load took. The store may call this on a background thread at open so
/// that the first Chinese document or query does not pay for the load.
pub fn warm_up() -> Duration {
    jieba();
    jieba_load_time().unwrap_or_default()
}

/// How long loading the jieba dictionary took, or `None` if it has not been
/// loaded in this process (it is loaded on first use by a CJK text).
pub fn jieba_load_time() -> Option<Duration> {
    JIEBA_LOAD_TIME.get().copied()
}

static JIEBA: OnceLock<Jieba> = OnceLock::new();
static JIEBA_LOAD_TIME: OnceLock<Duration> = OnceLock::new();

/// The process-wide jieba instance, loaded on first use. Its dictionary is
/// immutable after load, so all tokenizer clones and threads share it.
fn jieba() -> &'static Jieba {
    JIEBA.get_or_init(|| {
        let started = Instant::now();
        let jieba = Jieba::new();
        let took = started.elapsed();
        let _ = JIEBA_LOAD_TIME.set(took);
        tracing::debug!(took_ms = took.as_secs_f64() * 1e3, "loaded jieba dictionary");
        jieba
    })
}

fn tokens_query(field: Field, tokens: &[Token]) -> Option<Box<dyn Query>> {
    match tokens {
        [] => None,
        [token] => Some(Box::new(TermQuery::new(
            Term::from_field_text(field, &token.text),
            IndexRecordOption::WithFreqs,
        ))),
        _ => Some(Box::new(PhraseQuery::new_with_offset(
            tokens
                .iter()
                .map(|t| (t.position, Term::from_field_text(field, &t.text)))
                .collect(),
        ))),
    }
}

/// The tantivy tokenizer behind both registered analyzers.
///
/// It buffers the tokens of one text and then streams them, because jieba
/// works on whole runs and its search-mode sub-words must be sorted by
/// position before tantivy sees them (tantivy needs the positions of one term
/// in one document to never decrease).
#[derive(Clone)]
pub struct CaselogTokenizer {
    analyzer: Analyzer,
    normalizer: WordNormalizer,
}

impl CaselogTokenizer {
    /// A tokenizer for the given analyzer.
    pub fn new(analyzer: Analyzer) -> CaselogTokenizer {
        CaselogTokenizer {
            analyzer,
            normalizer: WordNormalizer::new(),
        }
    }
}

impl Tokenizer for CaselogTokenizer {
    type TokenStream<'a> = CaselogTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CaselogTokenStream {
        let mut tokens = Vec::new();
        scan(
            self.analyzer.index_mode(),
            text,
            usize::MAX,
            &mut self.normalizer,
            &mut tokens,
        );
        CaselogTokenStream {
            tokens: tokens.into_iter(),
            current: TantivyToken::default(),
        }
    }
}

/// Token stream of [`CaselogTokenizer`].
pub struct CaselogTokenStream {
    tokens: std::vec::IntoIter<TantivyToken>,
    current: TantivyToken,
}

impl TokenStream for CaselogTokenStream {
    fn advance(&mut self) -> bool {
        match self.tokens.next() {
            Some(token) => {
                self.current = token;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &TantivyToken {
        &self.current
    }

    fn token_mut(&mut self) -> &mut TantivyToken {
        &mut self.current
    }
}

/// What the scanner does with CJK runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One token per CJK character.
    Chars,
    /// jieba search mode: words plus their dictionary sub-words.
    WordsIndex,
    /// jieba default mode: non-overlapping words, for query plans.
    WordsQuery,
}

/// How the scanner treats one (width-folded) character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Part of an English-like word: letters and digits of any alphabetic
    /// script that separates words with spaces.
    Word,
    /// A character of a script written without spaces between words (Han,
    /// kana, Hangul): one position each.
    Cjk,
    /// A combining diacritic: continues a word but is dropped from its text,
    /// so that decomposed `cafe\u{301}` and precomposed `café` both give `cafe`.
    Mark,
    /// Whitespace, punctuation, symbols, controls: ends words, takes no position.
    Separator,
}

fn classify(c: char) -> Class {
    if c.is_ascii() {
        return if c.is_ascii_alphanumeric() {
            Class::Word
        } else {
            Class::Separator
        };
    }
    if is_combining_mark(c) {
        Class::Mark
    } else if !c.is_alphanumeric() {
        Class::Separator
    } else if is_cjk(c) {
        Class::Cjk
    } else {
        Class::Word
    }
}

/// Blocks of scripts written without spaces between words. Only alphanumeric
/// characters of these blocks count (the caller checks), so CJK punctuation
/// such as `、` or `・` stays a separator.
fn is_cjk(c: char) -> bool {
    matches!(
        u32::from(c),
        0x1100..=0x11FF         // Hangul Jamo
        | 0x2E80..=0x2FDF       // CJK and Kangxi radicals
        | 0x3000..=0x303F       // CJK symbols: only 々 〆 〇 and Hangzhou numerals are alphanumeric
        | 0x3040..=0x30FF       // Hiragana, Katakana
        | 0x3100..=0x31FF       // Bopomofo, Hangul compatibility Jamo, Katakana extensions
        | 0x3400..=0x4DBF       // CJK Extension A
        | 0x4E00..=0x9FFF       // CJK Unified Ideographs
        | 0xA960..=0xA97F       // Hangul Jamo Extended-A
        | 0xAC00..=0xD7FF       // Hangul syllables, Jamo Extended-B
        | 0xF900..=0xFAFF       // CJK Compatibility Ideographs
        | 0xFF66..=0xFFDC       // Half-width Katakana and Hangul
        | 0x1B000..=0x1B16F     // Kana supplement and extensions
        | 0x20000..=0x3FFFF // CJK Extensions B.. and compatibility supplement
    )
}

fn is_combining_mark(c: char) -> bool {
    matches!(
        u32::from(c),
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F
    )
}

/// Folds full-width ASCII forms (`Ｂ０８`, `ＡＢＣ`, `，`) and the ideographic
/// space to ASCII: the part of NFKC that matters for typed identifiers.
fn fold_width(c: char) -> char {
    match u32::from(c) {
        code @ 0xFF01..=0xFF5E => char::from_u32(code - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

/// Lowercases, folds and stems one English-like word.
#[derive(Clone)]
struct WordNormalizer {
    /// tantivy's ASCII folding (`é` → `e`, `ß` → `ss`), run on one word.
    folder: TextAnalyzer,
    /// tantivy's English (Porter2) stemmer, run on one word.
    stemmer: TextAnalyzer,
}

impl WordNormalizer {
    fn new() -> WordNormalizer {
        WordNormalizer {
            folder: TextAnalyzer::builder(RawTokenizer::default())
                .filter(AsciiFoldingFilter)
                .build(),
            stemmer: TextAnalyzer::builder(RawTokenizer::default())
                .filter(Stemmer::new(Language::English))
                .build(),
        }
    }

    /// `word` is already width-folded and free of combining marks.
    fn normalize(&mut self, word: &str) -> String {
        let mut text = if word.is_ascii() {
            word.to_ascii_lowercase()
        } else {
            // Lowercasing can itself produce a combining mark (`İ` → `i̇`).
            let lower: String = word
                .chars()
                .flat_map(char::to_lowercase)
                .filter(|&c| !is_combining_mark(c))
                .collect();
            if lower.is_ascii() {
                lower
            } else {
                first_token(&mut self.folder, &lower).unwrap_or(lower)
            }
        };
        truncate_at_char_boundary(&mut text, MAX_WORD_BYTES);
        // Only plain alphabetic words are stemmed: an identifier such as
        // `B08XYZ123S` or `1234s` must keep its exact form (Porter2 would strip
        // the trailing `s` of the first), and stemming non-English words with
        // the English stemmer only does harm.
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_lowercase()) {
            if let Some(stemmed) = first_token(&mut self.stemmer, &text) {
                if !stemmed.is_empty() {
                    text = stemmed;
                }
            }
        }
        text
    }
}

fn first_token(analyzer: &mut TextAnalyzer, text: &str) -> Option<String> {
    let mut stream = analyzer.token_stream(text);
    stream.next().map(|token| token.text.clone())
}

fn truncate_at_char_boundary(text: &mut String, max_bytes: usize) {
    if text.len() > max_bytes {
        let mut end = max_bytes;
        while end > 0 && !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// The analysis proper: walks `text` once, emitting tokens with positions
/// below `limit` into `out`, sorted by position.
fn scan(
    mode: Mode,
    text: &str,
    limit: usize,
    normalizer: &mut WordNormalizer,
    out: &mut Vec<TantivyToken>,
) {
    let mut scanner = Scanner {
        mode,
        text,
        limit,
        position: 0,
        out,
    };
    // Byte offset where the pending English-like word starts, and its
    // width-folded characters.
    let mut word_start: Option<usize> = None;
    let mut word = String::new();
    // Byte offset where the pending CJK run starts (word modes only).
    let mut run_start: Option<usize> = None;

    for (offset, raw) in text.char_indices() {
        if scanner.position >= limit {
            // Nothing pending can be emitted any more: a pending word or run
            // would start at a position at or past the limit.
            return;
        }
        let c = fold_width(raw);
        match classify(c) {
            Class::Word => {
                if let Some(start) = run_start.take() {
                    scanner.cjk_run(start, offset);
                }
                word_start.get_or_insert(offset);
                word.push(c);
            }
            Class::Mark if word_start.is_some() => {}
            Class::Cjk => {
                if let Some(start) = word_start.take() {
                    scanner.word(normalizer, start, offset, &word);
                    word.clear();
                }
                if mode == Mode::Chars {
                    scanner.push(raw.to_string(), scanner.position, offset, offset + raw.len_utf8(), 1);
                    scanner.position += 1;
                } else {
                    run_start.get_or_insert(offset);
                }
            }
            Class::Mark | Class::Separator => {
                if let Some(start) = word_start.take() {
                    scanner.word(normalizer, start, offset, &word);
                    word.clear();
                }
                if let Some(start) = run_start.take() {
                    scanner.cjk_run(start, offset);
                }
            }
        }
    }
    if let Some(start) = word_start {
        scanner.word(normalizer, start, text.len(), &word);
    }
    if let Some(start) = run_start {
        scanner.cjk_run(start, text.len());
    }
}

struct Scanner<'t, 'o> {
    mode: Mode,
    text: &'t str,
    limit: usize,
    /// Next free position.
    position: usize,
    out: &'o mut Vec<TantivyToken>,
}

impl Scanner<'_, '_> {
    fn push(&mut self, text: String, position: usize, from: usize, to: usize, length: usize) {
        if position < self.limit && !text.is_empty() {
            self.out.push(TantivyToken {
                offset_from: from,
                offset_to: to,
                position,
                text,
                position_length: length,
            });
        }
    }

    fn word(&mut self, normalizer: &mut WordNormalizer, from: usize, to: usize, word: &str) {
        let text = normalizer.normalize(word);
        self.push(text, self.position, from, to, 1);
        self.position += 1;
    }

    /// Segments the CJK run `self.text[from..to]` with jieba, in chunks of at
    /// most [`JIEBA_CHUNK_CHARS`] characters.
    fn cjk_run(&mut self, from: usize, to: usize) {
        let Some(run) = self.text.get(from..to) else {
            return;
        };
        let mut chunk_start = 0;
        let mut chunk_chars = 0;
        for (offset, _) in run.char_indices() {
            if chunk_chars == JIEBA_CHUNK_CHARS {
                self.cjk_chunk(run, from, chunk_start, offset, chunk_chars);
                chunk_start = offset;
                chunk_chars = 0;
            }
            chunk_chars += 1;
        }
        if chunk_chars > 0 {
            self.cjk_chunk(run, from, chunk_start, run.len(), chunk_chars);
        }
    }

    fn cjk_chunk(&mut self, run: &str, run_offset: usize, from: usize, to: usize, chars: usize) {
        let base = self.position;
        self.position += chars;
        if base >= self.limit {
            return;
        }
        let Some(chunk) = run.get(from..to) else {
            return;
        };
        let mode = match self.mode {
            Mode::WordsIndex => TokenizeMode::Search,
            Mode::WordsQuery | Mode::Chars => TokenizeMode::Default,
        };
        let mut words: Vec<TantivyToken> = jieba()
            .tokenize(chunk, mode, true)
            .into_iter()
            .map(|w| TantivyToken {
                offset_from: run_offset + from + w.byte_start,
                offset_to: run_offset + from + w.byte_end,
                position: base + w.start,
                text: w.word.to_string(),
                position_length: w.end.saturating_sub(w.start).max(1),
            })
            .collect();
        // Search mode emits a word's sub-words before the word and not in
        // position order; tantivy needs each term's positions to be
        // non-decreasing, and a duplicate would double-count the term.
        words.sort_by(|a, b| {
            (a.position, a.position_length, &a.text).cmp(&(b.position, b.position_length, &b.text))
        });
        words.dedup_by(|a, b| a.position == b.position && a.text == b.text);
        for w in words {
            self.push(w.text, w.position, w.offset_from, w.offset_to, w.position_length);
        }
    }
}

#[cfg(test)]
mod tests;
