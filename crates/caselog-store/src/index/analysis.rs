//! Text analysis for the full-text index: how titles and message threads in
//! English and Chinese become tokens, and how a query word must be searched.
//!
//! # Design
//!
//! Every text is indexed twice, into a pair of fields whose analyzers differ
//! only in what they do with Chinese (and other CJK) text:
//!
//! - [`Analyzer::Chars`] ([`CHARS_ANALYZER`]) emits one token per CJK
//!   character. A Chinese query word becomes a phrase of its characters, and
//!   such a phrase matches exactly where the text contains the word as a
//!   substring, whatever a segmenter would have made of the text around it.
//!   The chars field therefore decides **recall**: `退款` finds `请尽快处理退款`
//!   and `停用` finds `我的账户被停用了`.
//! - [`Analyzer::Words`] ([`WORDS_ANALYZER`]) segments CJK runs with jieba in
//!   search mode, where a long word also yields its dictionary sub-words
//!   (`北京大学生` gives `北京`, `大学`, `大学生`, `学生`). A query matches this
//!   field only where the text holds it as whole words, so the words field
//!   decides **ranking**: `停用` in `账户被停用了` (a word) ranks above `停用`
//!   in `暂停用户` (segmented `暂停 / 用户`, a substring only).
//!
//! English-like words are analyzed identically by both analyzers, so that the
//! chars field alone answers every query, mixed ones such as `ASIN 被停用`
//! included, and the words field never has to be consulted for recall.
//!
//! The index's message text uses [`Analyzer::CjkWords`] for its ranking
//! field: the words analyzer without its English-like words, which would
//! only be the chars field's tokens again (their postings and positions
//! were about half of the words field at 71% English text). An English word
//! is always a whole word, so [`QueryPlan::clauses`] gives the chars clause
//! of a plan without CJK words the weight the words clause added before
//! (a property test holds the scores equal). Titles keep the full words
//! analyzer: a title match adds score to English words too.
//!
//! **Invariant — one position space.** In both analyzers every CJK character
//! and every English word takes one position, while whitespace and
//! punctuation take none; a jieba word sits at the position of its first
//! character and spans as many positions as it has characters. Phrase queries
//! with explicit offsets ([`PhraseQuery::new_with_offset`]) therefore match
//! across English and Chinese and across jieba's word boundaries, and
//! tantivy's own `QueryParser`, which takes offsets from the tokenizer, works
//! on either field too. Ignoring punctuation is deliberate: `账户停用` also
//! matches `账户，停用`. tantivy-jieba's tokenizer cannot give this: its default
//! positions are character offsets that count spaces and punctuation, so a
//! phrase matches only with identical spacing, and its ordinal mode numbers
//! search-mode sub-words as if they followed each other, so a phrase breaks
//! as soon as one of its words has sub-words.
//!
//! **English.** Words are lowercased, full-width forms folded, combining
//! accents dropped and tantivy's ASCII folding applied (`Café` → `cafe`,
//! `Straße` → `strass`), then tantivy's English (Porter2) stemmer runs on
//! words made only of ASCII letters. Stemming is on because support messages
//! are inflected prose (`refunds were delayed`) and a user types whatever form
//! comes to mind; missing a case costs more than the rare conflation
//! (`university` / `universe`). The index and the query side stem alike, so a
//! phrase `refunds delayed` finds `Refund delayed` while word order still
//! counts. Words containing a digit are never stemmed, because identifiers
//! must keep their exact form (Porter2 would cut `B08XYZ123S` to `b08xyz123`).
//! Apostrophes split words (`don't` → `don`, `t`), as in tantivy's simple
//! tokenizer.
//!
//! **Identifiers and mixed text.** Any character that is not a letter or digit
//! ends a word, and so does a CJK character: `订单112-1234567-1234567还没有退款`
//! gives `订单`, `112`, `1234567`, `1234567`, `还`, … at consecutive positions,
//! so an order id is found as a phrase, and an ASIN such as `B08XYZ1234` is the
//! single token `b08xyz1234`. Full-width ASCII (`Ｂ０８`, `ＡＢＣ`, `，`) and the
//! ideographic space fold to ASCII first, the part of NFKC that matters for
//! typed identifiers. Exact-id lookup (`order:`, `asin:`) is the business of
//! keyword fields, not of this analysis. Kana and Hangul count as CJK (one
//! position per character); other alphabets (Cyrillic, Greek, …) are words,
//! lowercased and folded but not stemmed.
//!
//! **Robustness.** Analysis never panics (property-tested on arbitrary
//! strings) and returns tokens sorted by position, as tantivy needs the
//! positions of a term within a document to never decrease. Words longer than
//! [`MAX_WORD_BYTES`] are cut rather than dropped, CJK runs reach jieba in
//! bounded chunks, and a query plan keeps at most [`MAX_QUERY_POSITIONS`]
//! positions, which bounds query cost without losing a true match.
//!
//! **The jieba dictionary** loads once per process, on first use by a CJK
//! text, into a `OnceLock` shared by every tokenizer clone and thread;
//! English-only data never loads it. The load takes about 120–160 ms in a
//! release build (and about 270 ms at the test profile's opt-level 2),
//! measured on a busy two-core machine. That is most of the 200 ms budget for
//! opening the store, so the store should not load it on the open path: it
//! can call [`warm_up`] from a background thread after opening, and the first
//! Chinese document or query simply waits for that load if it comes first.
//!
//! # How to query
//!
//! After parsing the user's query grammar, plan every query word or quoted
//! phrase with [`query_plan`], then:
//!
//! - a plan that [`is_empty`](QueryPlan::is_empty) (the word was only
//!   punctuation) has nothing to search: skip the word, or report it;
//! - a required word is `Must` of [`QueryPlan::query`] (`+chars (words)^boost`,
//!   with [`DEFAULT_WORDS_BOOST`]); with several field pairs (title, thread),
//!   make that one `Must` of a `Should` over the pairs, each boosted as wanted;
//! - an excluded word (`-word`) is `MustNot` of [`QueryPlan::chars_query`] on
//!   every chars field, since recall alone decides what to exclude;
//! - `a OR b` is a `Should` of the words' queries;
//! - highlights come from [`QueryPlan::find_in`], which returns the exact
//!   spans that made a text match.
//!
//! Quoted and unquoted text are planned alike, so a run of Chinese without
//! spaces is a phrase, that is a substring search: `账户 停用` finds
//! `我的账户被停用了`, `账户停用` does not. A search side that prefers to AND
//! the words of unspaced Chinese can plan each `&text[t.offset_from..t.offset_to]`
//! of the plan's CJK `words` tokens as a word of its own.
//!
//! ```
//! use caselog_store::index::analysis::{self, Analyzer, DEFAULT_WORDS_BOOST};
//! use tantivy::collector::Count;
//! use tantivy::query::{BooleanQuery, Occur};
//! use tantivy::schema::Schema;
//! use tantivy::{doc, Index};
//!
//! let mut schema = Schema::builder();
//! let chars = schema.add_text_field("body_chars", Analyzer::Chars.text_options());
//! let words = schema.add_text_field("body_words", Analyzer::CjkWords.text_options());
//! let index = Index::create_in_ram(schema.build());
//! analysis::register(&index);
//! let mut writer = index.writer_with_num_threads(1, 15_000_000)?;
//! for body in ["我的账户被停用了", "请暂停用户的操作", "Refund delayed"] {
//!     writer.add_document(doc!(chars => body, words => body))?;
//! }
//! writer.commit()?;
//!
//! // The user typed `账户 停用`: two words, both required.
//! let clauses = ["账户", "停用"]
//!     .iter()
//!     .filter_map(|word| analysis::query_plan(word).query(chars, words, DEFAULT_WORDS_BOOST))
//!     .map(|query| (Occur::Must, query))
//!     .collect();
//! let searcher = index.reader()?.searcher();
//! assert_eq!(searcher.search(&BooleanQuery::new(clauses), &Count)?, 1);
//! # Ok::<(), tantivy::TantivyError>(())
//! ```
//!
//! # Alternatives measured
//!
//! The `analysis_alternatives` program of the benchmarks (`cargo run
//! --release -p caselog-bench --bin analysis_alternatives`) indexes 5 000 synthetic support messages (158 characters on average, mostly
//! Chinese with English words, order ids and ASINs) and runs 201 queries: 71
//! Chinese vocabulary words, 60 random 1–3 character and 40 random 4–8
//! character substrings of the corpus, and 30 mixed English and Chinese
//! phrases. Recall is the share of (query, document containing the query)
//! pairs that the query finds; throughput is one indexing thread, best of
//! three, on a shared two-core machine (so ±30 %); sizes exclude stored text.
//!
//! | alternative | recall | queries fully answered | 1-char recall | 4–8 char recall | mixed phrase recall | docs/s | index KiB |
//! |---|---|---|---|---|---|---|---|
//! | (a) jieba words, tantivy-jieba default positions | 0.682 | 104/201 | 0.232 | 0.987 | 0.500 | 13 540 | 648 |
//! | (a) jieba words, tantivy-jieba ordinal positions | 0.682 | 102/201 | 0.232 | 0.983 | 0.500 | 26 584 | 603 |
//! | (a) jieba words, our positions (the words field alone) | 0.683 | 108/201 | 0.232 | 0.987 | 0.680 | 21 196 | 541 |
//! | (b) CJK character unigrams (the chars field alone) | 1.000 | 201/201 | 1.000 | 1.000 | 1.000 | 22 310 | 690 |
//! | (c) CJK character bigrams | 0.619 | 150/201 | 0.046 | 1.000 | 0.656 | 18 375 | 780 |
//! | (d) chars + words fields (chosen) | 1.000 | 201/201 | 1.000 | 1.000 | 1.000 | 14 200 | 1 210 |
//!
//! Word segmentation alone misses a third of all substring matches, mostly
//! single characters and substrings across word boundaries; bigrams cannot
//! find a single character at all. Unigrams give full recall (their precision,
//! 0.999, is below one only because they ignore punctuation and case) but
//! cannot tell a word from a substring. The chosen pair keeps the unigrams'
//! recall and adds whole-word ranking, for twice the index size and about
//! 0.65 times the indexing throughput of unigrams alone; answering all 201
//! queries took about 0.1 s in every setup.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, RawTokenizer, Stemmer, TextAnalyzer, Token as TantivyToken, TokenStream, Tokenizer,
};
use tantivy::{Index, Score, Term};
use tantivy_jieba::jieba_rs::{Jieba, TokenizeMode};

/// Name under which the word-level analyzer is registered (jieba segmentation
/// for CJK, English words lowercased, folded and stemmed).
pub const WORDS_ANALYZER: &str = "caselog_words";

/// Name under which the character-level analyzer is registered (one token per
/// CJK character, English words exactly as in [`WORDS_ANALYZER`]).
pub const CHARS_ANALYZER: &str = "caselog_chars";

/// Name under which the CJK word analyzer is registered: the words of
/// [`WORDS_ANALYZER`] that come from CJK runs, and nothing for English-like
/// words, which only take their positions.
pub const CJK_WORDS_ANALYZER: &str = "caselog_cjk_words";

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

/// The analyzers of the index.
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
    /// [`Analyzer::Words`] without its English-like words: only the jieba
    /// words of CJK runs, at the same positions (an English word still takes
    /// its position but gives no token). Registered as
    /// [`CJK_WORDS_ANALYZER`]; the index's ranking field for message text,
    /// because an English word's token would be the chars field's token
    /// again (its postings and positions stored twice, for a score the
    /// chars clause's weight gives as well, see [`QueryPlan::clauses`]).
    CjkWords,
}

impl Analyzer {
    /// Every analyzer, in registration order.
    pub const ALL: [Analyzer; 3] = [Analyzer::Words, Analyzer::Chars, Analyzer::CjkWords];

    /// The name under which [`register`] makes this analyzer known to tantivy.
    pub const fn name(self) -> &'static str {
        match self {
            Analyzer::Words => WORDS_ANALYZER,
            Analyzer::Chars => CHARS_ANALYZER,
            Analyzer::CjkWords => CJK_WORDS_ANALYZER,
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
            Analyzer::CjkWords => Mode::CjkWordsIndex,
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
        None,
    );
    tokens.into_iter().map(Token::from).collect()
}

/// How many leading bytes of a stem (a chars token of plain lowercase
/// ASCII letters) every word that stems to it starts with, ignoring case:
/// the English stemmer rewrites no more than the last two characters of
/// what it keeps, and of a three-letter stem only the last one, except
/// that `dying`, `lying` and the like (`Xying`) become `Xie`. The probes of
/// [`crate::index::search`] and [`CharsAnalysis`]'s stem filter rest on
/// it; property tests and an exhaustive test of short words check it.
pub(crate) fn stem_kept(stem: &str) -> usize {
    match stem.len() {
        3 if !stem.ends_with("ie") => 2,
        n => n.saturating_sub(2),
    }
}

/// Words a [`CharsAnalysis`] remembers before it starts over.
const MEMO_WORDS: usize = 16_384;

/// The chars analyzer for highlighting a page of hits (their titles and
/// messages) with one set of wanted tokens, built for speed: a token is
/// not a string but the number of the wanted token it equals, or
/// [`CharsAnalysis::UNWANTED`], so analysing a text allocates nothing once
/// its words have been seen. Each distinct word is lowercased, folded and
/// stemmed once and then looked up, the normalizer is built once, not per
/// text, and a plain English word that cannot stem to any of the wanted
/// tokens is not stemmed at all. A stem keeps its word's first characters
/// ([`stem_kept`]): a word that does not start with that much of a wanted
/// token cannot become it. For the wanted tokens, gives exactly the tokens of
/// [`analyze`]`(Analyzer::Chars, text)`, in the same order, with the same
/// offsets (a property test holds them equal); every other token is
/// [`CharsAnalysis::UNWANTED`].
pub(crate) struct CharsAnalysis {
    normalizer: WordNormalizer,
    /// The wanted tokens and their numbers.
    wanted: HashMap<String, u32>,
    /// Each wanted phrase as numbers.
    phrases: Vec<Vec<u32>>,
    /// What each word seen so far gives: its number, or `None` when it
    /// normalizes to nothing (no token).
    memo: HashMap<String, Option<u32>>,
    /// The beginnings a stem must have to be wanted (see above).
    stems: Vec<String>,
    /// Reused buffers: the pending word and the last text's tokens.
    word: String,
    tokens: Vec<NumberedToken>,
}

/// A token of a [`CharsAnalysis`]: which wanted token it is and where its
/// source is in the analyzed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NumberedToken {
    pub(crate) number: u32,
    pub(crate) offset_from: usize,
    pub(crate) offset_to: usize,
}

impl CharsAnalysis {
    /// The number of every token that is no wanted token.
    pub(crate) const UNWANTED: u32 = u32::MAX;

    /// An analysis for finding the tokens of `wanted` (each a phrase of
    /// chars tokens).
    pub(crate) fn new(wanted: &[Vec<String>]) -> CharsAnalysis {
        let mut numbers: HashMap<String, u32> = HashMap::new();
        let phrases = wanted
            .iter()
            .map(|phrase| {
                phrase
                    .iter()
                    .map(|token| {
                        let next = u32::try_from(numbers.len()).unwrap_or(CharsAnalysis::UNWANTED - 1);
                        *numbers.entry(token.clone()).or_insert(next)
                    })
                    .collect()
            })
            .collect();
        let mut stems: Vec<String> = wanted
            .iter()
            .flatten()
            .filter(|t| t.is_ascii())
            .filter_map(|t| t.get(..stem_kept(t)))
            .map(str::to_owned)
            .collect();
        stems.sort();
        stems.dedup();
        CharsAnalysis {
            normalizer: WordNormalizer::new(),
            wanted: numbers,
            phrases,
            memo: HashMap::new(),
            stems,
            word: String::new(),
            tokens: Vec::new(),
        }
    }

    /// The tokens of `text` and the wanted phrases, as numbers.
    ///
    /// This is [`scan`] in [`Mode::Chars`] with numbers for texts; the two
    /// must split text the same way (the property test
    /// `numbered_tokens_are_the_chars_tokens` holds them equal).
    pub(crate) fn analyze(&mut self, text: &str) -> (&[NumberedToken], &[Vec<u32>]) {
        self.tokens.clear();
        if text.is_ascii() {
            self.analyze_ascii(text);
        } else {
            self.analyze_chars(text);
        }
        (&self.tokens, &self.phrases)
    }

    /// [`CharsAnalysis::analyze`] of ASCII text, by bytes: an ASCII text has
    /// no width forms, marks or CJK, so its words are its runs of ASCII
    /// letters and digits, borrowed as they are.
    fn analyze_ascii(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let start = at;
            while bytes.get(at).is_some_and(u8::is_ascii_alphanumeric) {
                at += 1;
            }
            if at > start {
                if let Some(word) = text.get(start..at) {
                    self.push_word(start, at, word);
                }
            } else {
                at += 1;
            }
        }
    }

    fn analyze_chars(&mut self, text: &str) {
        let mut word = std::mem::take(&mut self.word);
        word.clear();
        let mut word_start: Option<usize> = None;
        for (offset, raw) in text.char_indices() {
            let c = fold_width(raw);
            match classify(c) {
                Class::Word => {
                    word_start.get_or_insert(offset);
                    word.push(c);
                }
                Class::Mark if word_start.is_some() => {}
                Class::Cjk => {
                    if let Some(start) = word_start.take() {
                        self.push_word(start, offset, &word);
                        word.clear();
                    }
                    // A CJK token is the character as written.
                    let mut buf = [0u8; 4];
                    let number = self.number_of(raw.encode_utf8(&mut buf));
                    self.tokens.push(NumberedToken {
                        number,
                        offset_from: offset,
                        offset_to: offset + raw.len_utf8(),
                    });
                }
                Class::Mark | Class::Separator => {
                    if let Some(start) = word_start.take() {
                        self.push_word(start, offset, &word);
                        word.clear();
                    }
                }
            }
        }
        if let Some(start) = word_start {
            self.push_word(start, text.len(), &word);
        }
        self.word = word;
    }

    fn number_of(&self, token: &str) -> u32 {
        self.wanted.get(token).copied().unwrap_or(CharsAnalysis::UNWANTED)
    }

    /// `word` is already width-folded and free of combining marks.
    fn push_word(&mut self, from: usize, to: usize, word: &str) {
        // A word the stemmer would see (plain ASCII letters, not cut) that
        // does not begin like a wanted stem cannot become one.
        let plain = word.len() <= MAX_WORD_BYTES && !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphabetic());
        let number = if plain
            && !self
                .stems
                .iter()
                .any(|p| word.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p)))
        {
            Some(CharsAnalysis::UNWANTED)
        } else if let Some(known) = self.memo.get(word) {
            *known
        } else {
            let text = self.normalizer.normalize(word);
            let number = (!text.is_empty()).then(|| self.number_of(&text));
            if self.memo.len() >= MEMO_WORDS {
                self.memo.clear();
            }
            self.memo.insert(word.to_owned(), number);
            number
        };
        if let Some(number) = number {
            self.tokens.push(NumberedToken {
                number,
                offset_from: from,
                offset_to: to,
            });
        }
    }
}

/// Runs both analyzers over `text` in one pass: `(chars, words)`, exactly
/// the tokens [`analyze`] gives for [`Analyzer::Chars`] and
/// [`Analyzer::Words`] (a property test holds them equal). An English-like
/// word is normalized (lowercased, folded, stemmed) once for both; a CJK
/// character is a chars token as it is read, and its run goes to jieba for
/// the words. The index does not use it: handing these tokens to tantivy as
/// pre-tokenized values costs more than the second analysis saves, because
/// `TantivyDocument` stores a pre-tokenized value as JSON and parses it back
/// (BENCHMARKS.md); a document type of our own could.
pub fn analyze_pair(text: &str) -> (Vec<TantivyToken>, Vec<TantivyToken>) {
    let mut chars = Vec::new();
    let mut words = Vec::new();
    let mut normalizer = WordNormalizer::new();
    scan(
        Mode::WordsIndex,
        text,
        usize::MAX,
        &mut normalizer,
        &mut words,
        Some(&mut chars),
    );
    (chars, words)
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

    /// The ranking clause on a field analyzed by [`Analyzer::CjkWords`]:
    /// the plan's CJK words at their positions (a term query for one, a
    /// phrase with offsets for several; English-like words between them are
    /// gaps, left to the chars clause). `None` if the plan has no CJK word.
    pub fn cjk_words_query(&self, cjk_words_field: Field) -> Option<Box<dyn Query>> {
        let cjk: Vec<Token> = self.words.iter().filter(|t| is_cjk_token(&t.text)).cloned().collect();
        tokens_query(cjk_words_field, &cjk)
    }

    /// The clauses of one query word over a chars field and a CJK words
    /// field ([`Analyzer::CjkWords`]): `+chars_query (cjk_words_query)^words_boost`.
    /// They match exactly the documents that [`QueryPlan::chars_query`]
    /// matches and rank whole-word matches higher. A plan without CJK words
    /// (English words, numbers, identifiers: always whole words) gives its
    /// chars clause the weight of both, `1 + words_boost`, as when the words
    /// field held English words too, so English and Chinese words of one
    /// query keep their relative weight. `None` if the plan is empty.
    pub fn clauses(
        &self,
        chars_field: Field,
        cjk_words_field: Field,
        words_boost: Score,
    ) -> Option<Vec<(Occur, Box<dyn Query>)>> {
        let recall = self.chars_query(chars_field)?;
        Some(match self.cjk_words_query(cjk_words_field) {
            Some(words) => vec![
                (Occur::Must, recall),
                (Occur::Should, Box::new(BoostQuery::new(words, words_boost))),
            ],
            None => vec![(Occur::Must, Box::new(BoostQuery::new(recall, 1.0 + words_boost)))],
        })
    }

    /// The recommended query for one query word over one chars/CJK-words
    /// field pair: [`QueryPlan::clauses`] as one boolean query. `None` if the
    /// plan is empty.
    pub fn query(&self, chars_field: Field, cjk_words_field: Field, words_boost: Score) -> Option<Box<dyn Query>> {
        Some(Box::new(BooleanQuery::new(self.clauses(
            chars_field,
            cjk_words_field,
            words_boost,
        )?)))
    }

    /// Byte ranges of `text` where the chars phrase of this plan occurs, in
    /// order, overlapping ones included: exactly the places that make a
    /// document match [`QueryPlan::chars_query`]. Meant for highlighting (a
    /// snippet generator on the chars field would highlight every lone
    /// occurrence of each character) and as a test oracle.
    pub fn find_in(&self, text: &str) -> Vec<Range<usize>> {
        let Some(first) = self.chars.first() else {
            return Vec::new();
        };
        // The chars analyzer gives at most one token per position, in order.
        let tokens = analyze(Analyzer::Chars, text);
        let at = |position: usize| {
            tokens
                .binary_search_by_key(&position, |t| t.position)
                .ok()
                .and_then(|i| tokens.get(i))
        };
        let mut ranges = Vec::new();
        for start in tokens.iter().filter(|t| t.text == first.text) {
            let mut end = start.offset_to;
            let matched = self.chars.iter().all(|q| {
                let position = (start.position + q.position).checked_sub(first.position);
                match position.and_then(at) {
                    Some(t) if t.text == q.text => {
                        end = end.max(t.offset_to);
                        true
                    }
                    _ => false,
                }
            });
            if matched {
                ranges.push(start.offset_from..end);
            }
        }
        ranges
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
        None,
    );
    let mut words = Vec::new();
    scan(
        Mode::WordsQuery,
        text,
        MAX_QUERY_POSITIONS,
        &mut normalizer,
        &mut words,
        None,
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

/// Loads the jieba dictionary on the calling thread, which the store's
/// background warm-up thread is (`index::warm`), unless it is loaded or
/// loading. A search or indexing of Chinese text that comes first waits
/// for that load rather than starting a second one.
pub(crate) fn load_dictionary_here() {
    WARM_UP.call_once(|| {});
    jieba();
}

/// Whether the store's warm-up has started a load in this process.
pub fn warm_up_started() -> bool {
    WARM_UP.is_completed()
}

static WARM_UP: std::sync::Once = std::sync::Once::new();

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

/// Whether a token is a CJK word (jieba's words are made of CJK characters
/// only; English-like tokens have none).
pub(crate) fn is_cjk_token(text: &str) -> bool {
    text.chars().next().is_some_and(is_cjk)
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
            None,
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

impl CaselogTokenStream {
    /// A stream of tokens made beforehand (the alternatives the analysis
    /// benchmark compares are plain functions over text).
    pub fn from_tokens(tokens: Vec<TantivyToken>) -> CaselogTokenStream {
        CaselogTokenStream {
            tokens: tokens.into_iter(),
            current: TantivyToken::default(),
        }
    }
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
    /// As [`Mode::WordsIndex`], but English-like words give no token (they
    /// keep their positions).
    CjkWordsIndex,
    /// jieba default mode: non-overlapping words, for query plans.
    WordsQuery,
}

/// How the scanner treats one (width-folded) character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
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

/// The class of one (width-folded) character.
pub fn classify(c: char) -> Class {
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
pub(crate) fn is_cjk(c: char) -> bool {
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
/// below `limit` into `out`, sorted by position. In a words mode, `chars`
/// (if given) receives at the same time what [`Mode::Chars`] would emit.
fn scan(
    mode: Mode,
    text: &str,
    limit: usize,
    normalizer: &mut WordNormalizer,
    out: &mut Vec<TantivyToken>,
    chars: Option<&mut Vec<TantivyToken>>,
) {
    let mut scanner = Scanner {
        mode,
        text,
        limit,
        position: 0,
        out,
        chars: if mode == Mode::Chars { None } else { chars },
    };
    // Characters of the pending CJK run: in a words mode the run takes its
    // positions only when it is segmented, so a chars token of the run sits
    // at the scanner's position plus the characters before it.
    let mut run_chars = 0usize;
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
                    run_chars = 0;
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
                    scanner.push_char(raw, scanner.position + run_chars, offset);
                    run_chars += 1;
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
                    run_chars = 0;
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
    /// The chars analyzer's tokens, made in the same pass (words modes).
    chars: Option<&'o mut Vec<TantivyToken>>,
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

    /// A CJK character's chars token, in a words mode's pass.
    fn push_char(&mut self, c: char, position: usize, from: usize) {
        if let Some(chars) = self.chars.as_deref_mut() {
            if position < self.limit {
                chars.push(TantivyToken {
                    offset_from: from,
                    offset_to: from + c.len_utf8(),
                    position,
                    text: c.to_string(),
                    position_length: 1,
                });
            }
        }
    }

    fn word(&mut self, normalizer: &mut WordNormalizer, from: usize, to: usize, word: &str) {
        if self.mode == Mode::CjkWordsIndex && self.chars.is_none() {
            // No token, so no need to normalize (stemming is most of an
            // English word's cost); the word still takes its position.
            self.position += 1;
            return;
        }
        let text = normalizer.normalize(word);
        // English-like words are the same token for both analyzers.
        if let Some(chars) = self.chars.as_deref_mut() {
            if self.position < self.limit && !text.is_empty() {
                chars.push(TantivyToken {
                    offset_from: from,
                    offset_to: to,
                    position: self.position,
                    text: text.clone(),
                    position_length: 1,
                });
            }
        }
        if self.mode != Mode::CjkWordsIndex {
            self.push(text, self.position, from, to, 1);
        }
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
            Mode::WordsIndex | Mode::CjkWordsIndex => TokenizeMode::Search,
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
        words.sort_by(|a, b| (a.position, a.position_length, &a.text).cmp(&(b.position, b.position_length, &b.text)));
        words.dedup_by(|a, b| a.position == b.position && a.text == b.text);
        for w in words {
            self.push(w.text, w.position, w.offset_from, w.offset_to, w.position_length);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::sample::Index as SampleIndex;
    use proptest::test_runner::FileFailurePersistence;
    use tantivy::collector::TopDocs;
    use tantivy::query::QueryParser;
    use tantivy::schema::{Schema, Value, STORED};
    use tantivy::{doc, IndexReader, TantivyDocument};

    use super::*;

    fn render(tokens: &[Token]) -> Vec<String> {
        tokens.iter().map(|t| format!("{}@{}", t.text, t.position)).collect()
    }

    /// Checks that `analyzer` turns `text` into `expected`, each token written
    /// as `text@position`.
    #[track_caller]
    fn check(analyzer: Analyzer, text: &str, expected: &[&str]) {
        assert_eq!(render(&analyze(analyzer, text)), expected, "{analyzer:?} of {text:?}");
    }

    /// Checks the words part of [`query_plan`], which segments without
    /// search-mode sub-words.
    #[track_caller]
    fn check_query_words(text: &str, expected: &[&str]) {
        assert_eq!(render(&query_plan(text).words), expected, "query words of {text:?}");
    }

    use Analyzer::{Chars, CjkWords, Words};

    #[test]
    fn empty_and_separator_only_texts_give_no_tokens() {
        for text in [
            "",
            " ",
            "\n\t",
            "!!! ... ，。！？",
            "\u{3000}\u{3000}",
            "\u{301}\u{200d}\u{fe0f}",
            "🙂 🎉",
        ] {
            check(Words, text, &[]);
            check(Chars, text, &[]);
            assert!(query_plan(text).is_empty());
        }
    }

    #[test]
    fn english_is_lowercased_folded_and_stemmed() {
        check(Words, "Refunds DELAYED", &["refund@0", "delay@1"]);
        check(Words, "refund delayed", &["refund@0", "delay@1"]);
        check(
            Words,
            "Suspended accounts; suspension",
            &["suspend@0", "account@1", "suspens@2"],
        );
        check(Words, "shipping shipped ships", &["ship@0", "ship@1", "ship@2"]);
        check(
            Words,
            "Café naïve Straße Ångström",
            &["cafe@0", "naiv@1", "strass@2", "angstrom@3"],
        );
        // A decomposed accent folds like the precomposed one.
        check(Words, "cafe\u{301}", &["cafe@0"]);
        check(Words, "don't, can't", &["don@0", "t@1", "can@2", "t@3"]);
        check(
            Words,
            "e-mail ops@example.com",
            &["e@0", "mail@1", "op@2", "exampl@3", "com@4"],
        );
        check(Words, "fba_inventory", &["fba@0", "inventori@1"]);
    }

    #[test]
    fn english_is_the_same_in_both_analyzers() {
        let text = "Please refund my Orders before Friday, thanks!";
        assert_eq!(analyze(Words, text), analyze(Chars, text));
    }

    #[test]
    fn identifiers_keep_their_exact_form() {
        check(Words, "B08XYZ1234", &["b08xyz1234@0"]);
        // Porter2 would strip this trailing `s`; words with digits are not stemmed.
        check(Words, "B08XYZ123S 1234s", &["b08xyz123s@0", "1234s@1"]);
        check(Words, "112-1234567-1234567", &["112@0", "1234567@1", "1234567@2"]);
        check(
            Words,
            "order #112-1234567-1234567.",
            &["order@0", "112@1", "1234567@2", "1234567@3"],
        );
        check(Words, "SKU MUG-RED-01", &["sku@0", "mug@1", "red@2", "01@3"]);
        check(Words, "case 17281736451", &["case@0", "17281736451@1"]);
        check(Words, "price 12.99 USD", &["price@0", "12@1", "99@2", "usd@3"]);
    }

    #[test]
    fn full_width_forms_fold_to_ascii() {
        check(Words, "Ｂ０８ＸＹＺ１２３４", &["b08xyz1234@0"]);
        check(Chars, "ＡＢＣ　ｄｅｆ", &["abc@0", "def@1"]);
        check(Words, "ＡＳＩＮ：Ｂ０８ＸＹＺ１２３４", &["asin@0", "b08xyz1234@1"]);
        check(
            Words,
            "１１２－１２３４５６７－１２３４５６７",
            &["112@0", "1234567@1", "1234567@2"],
        );
    }

    #[test]
    fn chinese_is_one_token_per_character_in_chars() {
        check(
            Chars,
            "我的账户被停用了",
            &["我@0", "的@1", "账@2", "户@3", "被@4", "停@5", "用@6", "了@7"],
        );
        check(
            Chars,
            "请尽快处理退款",
            &["请@0", "尽@1", "快@2", "处@3", "理@4", "退@5", "款@6"],
        );
    }

    #[test]
    fn chinese_is_segmented_by_jieba_in_words() {
        check(
            Words,
            "我的账户被停用了",
            &["我@0", "的@1", "账户@2", "被@4", "停用@5", "了@7"],
        );
        check(Words, "请尽快处理退款", &["请@0", "尽快@1", "处理@3", "退款@5"]);
        check(Words, "暂停用户的操作", &["暂停@0", "用户@2", "的@4", "操作@5"]);
        // Search mode adds dictionary sub-words at the position of their
        // first character; the query side uses default mode.
        check(Words, "北京大学生", &["北京@0", "大学@2", "大学生@2", "学生@3"]);
        check_query_words("北京大学生", &["北京@0", "大学生@2"]);
    }

    #[test]
    fn punctuation_takes_no_position() {
        check(Chars, "账户，停用。", &["账@0", "户@1", "停@2", "用@3"]);
        check(Words, "账户、停用！", &["账户@0", "停用@2"]);
        check(Words, "refund, delayed...", &["refund@0", "delay@1"]);
        check(Chars, "「退款」(refund)", &["退@0", "款@1", "refund@2"]);
    }

    #[test]
    fn mixed_text_shares_one_position_space() {
        let text = "ASIN B08XYZ1234 被停用了，订单112-1234567-1234567还没有退款";
        check(
            Chars,
            text,
            &[
                "asin@0",
                "b08xyz1234@1",
                "被@2",
                "停@3",
                "用@4",
                "了@5",
                "订@6",
                "单@7",
                "112@8",
                "1234567@9",
                "1234567@10",
                "还@11",
                "没@12",
                "有@13",
                "退@14",
                "款@15",
            ],
        );
        check(
            Words,
            text,
            &[
                "asin@0",
                "b08xyz1234@1",
                "被@2",
                "停用@3",
                "了@5",
                "订单@6",
                "112@8",
                "1234567@9",
                "1234567@10",
                "还@11",
                "没有@12",
                "退款@14",
            ],
        );
        check(Chars, "Ｂ０８被停用", &["b08@0", "被@1", "停@2", "用@3"]);
        check(Words, "3个refund请求", &["3@0", "个@1", "refund@2", "请求@3"]);
    }

    #[test]
    fn other_scripts_are_handled() {
        // Kana and Hangul are written without spaces, so they go per character.
        check(
            Chars,
            "アカウント停止",
            &["ア@0", "カ@1", "ウ@2", "ン@3", "ト@4", "停@5", "止@6"],
        );
        check(Chars, "계정 정지", &["계@0", "정@1", "정@2", "지@3"]);
        // Other alphabets are words, lowercased but not stemmed.
        check(Words, "Заказ ОТМЕНЁН", &["заказ@0", "отменён@1"]);
        check(Words, "ΕΛΛΆΔΑ", &["ελλάδα@0"]);
    }

    #[test]
    fn long_words_are_cut_not_dropped() {
        let long = "x".repeat(1000);
        let tokens = analyze(Words, &format!("a {long} b"));
        assert_eq!(render(&tokens)[0], "a@0");
        assert_eq!(tokens[1].text.len(), MAX_WORD_BYTES);
        assert_eq!((tokens[1].offset_from, tokens[1].offset_to), (2, 1002));
        assert_eq!(render(&tokens)[2], "b@2");
        // A long query word is cut the same way, so it still finds the text.
        assert_eq!(query_plan(&long).chars[0].text, tokens[1].text);
    }

    #[test]
    fn offsets_point_at_the_source_text() {
        let text = "Ｒｅｆｕｎｄ退款 Café";
        let sources = |analyzer| -> Vec<String> {
            analyze(analyzer, text)
                .iter()
                .map(|t| text[t.offset_from..t.offset_to].to_string())
                .collect()
        };
        assert_eq!(sources(Chars), ["Ｒｅｆｕｎｄ", "退", "款", "Café"]);
        assert_eq!(sources(Words), ["Ｒｅｆｕｎｄ", "退款", "Café"]);
    }

    #[test]
    fn find_in_gives_the_matching_spans() {
        let find = |query: &str, text: &str| -> Vec<String> {
            query_plan(query)
                .find_in(text)
                .into_iter()
                .map(|r| text[r].to_string())
                .collect()
        };
        assert_eq!(find("停用", "账户被停用了，停 用户已停用"), ["停用", "停 用", "停用"]);
        assert_eq!(
            find("refunds delayed", "The Refund, delayed! refund delayed"),
            ["Refund, delayed", "refund delayed"]
        );
        assert_eq!(find("哈哈", "哈哈哈"), ["哈哈", "哈哈"]);
        assert_eq!(find("ＡＳＩＮ", "asin ASIN"), ["asin", "ASIN"]);
        assert!(find("退款", "请尽快处理").is_empty());
        assert!(find("", "请尽快处理").is_empty());
    }

    #[test]
    fn query_plans_are_capped() {
        let text = "退".repeat(1000) + &" refund".repeat(1000);
        let plan = query_plan(&text);
        assert_eq!(plan.chars.len(), MAX_QUERY_POSITIONS);
        assert!(plan.words.iter().all(|t| t.position < MAX_QUERY_POSITIONS));
        assert!(query_plan("  ...  ").chars_query(Field::from_field_id(0)).is_none());
    }

    #[test]
    fn huge_input_is_analyzed_without_trouble() {
        let text = "我的账户被停用了，refund B08XYZ1234 ".repeat(20_000) + &"停".repeat(100_000);
        for analyzer in Analyzer::ALL {
            let tokens = analyze(analyzer, &text);
            assert!(tokens.windows(2).all(|w| w[0].position <= w[1].position));
            assert!(tokens.len() >= 100_000);
        }
    }

    #[test]
    fn jieba_loads_once_and_reports_its_load_time() {
        let first = warm_up();
        assert_eq!(jieba_load_time(), Some(first));
        assert_eq!(warm_up(), first);
    }

    #[test]
    fn analyzer_names_round_trip() {
        for analyzer in Analyzer::ALL {
            assert_eq!(Analyzer::from_name(analyzer.name()), Some(analyzer));
        }
        assert_eq!(Analyzer::from_name("default"), None);
    }

    // --- Properties -------------------------------------------------------

    /// Mixed Chinese, English, identifiers, punctuation, full-width forms and
    /// arbitrary characters, with a small Chinese alphabet so that words repeat.
    fn mixed_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            5 => "[账户停用我的被了请尽快处理退款订单北京大学生暂操作没有还]{1,8}",
            2 => "[a-zA-Z]{1,8}",
            1 => "[0-9]{1,7}(-[0-9]{1,7})?",
            2 => "[ ,.，。！、\\-]{1,2}",
            1 => "[ＡＢＸ０８　]{1,3}",
            1 => any::<char>().prop_map(String::from),
        ];
        proptest::collection::vec(piece, 0..30).prop_map(|pieces| pieces.concat())
    }

    /// The contiguous CJK substring of `text` picked by two indices, if the
    /// text has any CJK character.
    fn cjk_substring(text: &str, start: SampleIndex, len: SampleIndex) -> Option<&str> {
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let cjk: Vec<usize> = (0..chars.len())
            .filter(|&i| classify(fold_width(chars[i].1)) == Class::Cjk)
            .collect();
        if cjk.is_empty() {
            return None;
        }
        let first = *start.get(&cjk);
        let run_end = (first..chars.len())
            .find(|&i| classify(fold_width(chars[i].1)) != Class::Cjk)
            .unwrap_or(chars.len());
        let end = first + 1 + len.index(run_end - first);
        let to = chars.get(end).map_or(text.len(), |c| c.0);
        Some(&text[chars[first].0..to])
    }

    /// True if `doc` has every `query` token at one common offset from its position.
    fn phrase_found(doc: &[Token], query: &[Token]) -> bool {
        let Some(first) = query.first() else { return false };
        let has = |text: &str, position: usize| doc.iter().any(|t| t.position == position && t.text == text);
        doc.iter().filter(|t| t.text == first.text).any(|start| {
            query
                .iter()
                .all(|q| has(&q.text, start.position + q.position - first.position))
        })
    }

    fn proptest_config(cases: u32) -> ProptestConfig {
        ProptestConfig {
            cases,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
                "tests/data/analysis/proptest-regressions.txt",
            ))),
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(proptest_config(1000))]

        /// The recall guarantee: any CJK substring of a text, searched through
        /// its query plan, is a consecutive run of the text's chars tokens,
        /// whatever jieba would do with the surrounding text.
        #[test]
        fn any_cjk_substring_is_found_in_chars(text in mixed_text(), start: SampleIndex, len: SampleIndex) {
            if let Some(query) = cjk_substring(&text, start, len) {
                let plan = query_plan(query);
                let doc = analyze(Chars, &text);
                prop_assert!(!plan.chars.is_empty());
                prop_assert!(phrase_found(&doc, &plan.chars), "{query:?} not found in {:?}", render(&doc));
                // The highlighter agrees, and points at the substring itself.
                let ranges = plan.find_in(&text);
                prop_assert!(ranges.iter().any(|r| &text[r.clone()] == query), "{query:?} not in {ranges:?}");
            }
        }

        /// Index and query analysis agree: a text's own query plan is found
        /// in both of its fields, at its start.
        #[test]
        fn a_text_finds_itself_in_both_fields(text in mixed_text()) {
            let plan = query_plan(&text);
            let cjk: Vec<Token> = plan.words.iter().filter(|t| is_cjk_token(&t.text)).cloned().collect();
            for (analyzer, query) in [(Chars, &plan.chars), (Words, &plan.words), (CjkWords, &cjk)] {
                let doc = analyze(analyzer, &text);
                for q in query.iter() {
                    prop_assert!(doc.iter().any(|t| t.position == q.position && t.text == q.text),
                        "{analyzer:?}: {q:?} missing from {:?}", render(&doc));
                }
            }
        }

        /// The one-pass analysis of the index gives exactly the tokens of
        /// each analyzer run alone (text, position, offsets, length), on
        /// mixed and on arbitrary text.
        #[test]
        fn one_pass_gives_each_analyzers_tokens(text in mixed_text(), other in any::<String>()) {
            for text in [&text, &other] {
                let (chars, words) = analyze_pair(text);
                for (analyzer, got) in [(Chars, chars), (Words, words)] {
                    let mut alone = Vec::new();
                    scan(analyzer.index_mode(), text, usize::MAX, &mut WordNormalizer::new(), &mut alone, None);
                    let key = |t: &TantivyToken| (t.text.clone(), t.position, t.offset_from, t.offset_to, t.position_length);
                    prop_assert_eq!(
                        got.iter().map(key).collect::<Vec<_>>(),
                        alone.iter().map(key).collect::<Vec<_>>(),
                        "{:?} of {:?}", analyzer, text
                    );
                }
            }
        }

        /// The CJK words analyzer gives exactly the words analyzer's CJK
        /// words (text, position, offsets, length) and nothing else, on
        /// mixed and on arbitrary text.
        #[test]
        fn cjk_words_are_the_words_of_cjk_runs(text in mixed_text(), other in any::<String>()) {
            for text in [&text, &other] {
                let mut words = Vec::new();
                scan(Mode::WordsIndex, text, usize::MAX, &mut WordNormalizer::new(), &mut words, None);
                let mut cjk = Vec::new();
                scan(Mode::CjkWordsIndex, text, usize::MAX, &mut WordNormalizer::new(), &mut cjk, None);
                let key = |t: &TantivyToken| (t.text.clone(), t.position, t.offset_from, t.offset_to, t.position_length);
                let expected: Vec<_> = words.iter().filter(|t| is_cjk_token(&t.text)).map(key).collect();
                prop_assert_eq!(cjk.iter().map(key).collect::<Vec<_>>(), expected, "{:?}", text);
            }
        }

        /// On English-like text (which the CJK words field leaves out), the
        /// clauses over chars and CJK words score every document exactly as
        /// the clauses over chars and the full words field did (English words
        /// were the same tokens in both fields): the same hits, the same
        /// scores up to rounding, so the same ranking.
        #[test]
        fn english_scores_are_those_of_the_full_words_field(
            docs in proptest::collection::vec("[a-e]{1,3}( [a-e]{1,3}){0,12}", 1..12),
            query in "[a-e]{1,3}( [a-e]{1,3}){0,2}",
        ) {
            let texts: Vec<&str> = docs.iter().map(String::as_str).collect();
            let index = TestIndex::new(&texts);
            let plan = query_plan(&query);
            let old: Box<dyn Query> = {
                let mut clauses = vec![(Occur::Must, plan.chars_query(index.chars).unwrap())];
                if let Some(words) = plan.words_query(index.words) {
                    clauses.push((Occur::Should, Box::new(BoostQuery::new(words, DEFAULT_WORDS_BOOST))));
                }
                Box::new(BooleanQuery::new(clauses))
            };
            let new = plan.query(index.chars, index.cjk_words, DEFAULT_WORDS_BOOST).unwrap();
            let (old, new) = (index.scores(&*old), index.scores(&*new));
            prop_assert_eq!(old.iter().map(|h| h.0).collect::<Vec<_>>(), new.iter().map(|h| h.0).collect::<Vec<_>>());
            for (o, n) in old.iter().zip(&new) {
                prop_assert!((o.1 - n.1).abs() <= 1e-4 * o.1.abs().max(1.0), "{:?} vs {:?}", o, n);
            }
        }

        /// The highlighter's numbered analysis is the chars analyzer with
        /// numbers for texts: the same tokens in the same order with the
        /// same offsets, the wanted ones numbered as their phrase says and
        /// every other one unwanted, on mixed, arbitrary and ASCII text, with
        /// wanted tokens taken from the text itself and from another text,
        /// and with one analysis reused (its word memo) across texts.
        #[test]
        fn numbered_tokens_are_the_chars_tokens(
            texts in proptest::collection::vec(mixed_text(), 1..4),
            other in any::<String>(),
            ascii in "[a-zA-Z0-9 ,.'\\-]{0,60}",
            picks in proptest::collection::vec(any::<SampleIndex>(), 0..6),
        ) {
            let all: Vec<String> = texts.iter().chain([&other, &ascii]).cloned().collect();
            let pool: Vec<String> = all
                .iter()
                .flat_map(|t| analyze(Chars, t))
                .map(|t| t.text)
                .chain(["refund".to_owned(), "款".to_owned()])
                .collect();
            let wanted: Vec<Vec<String>> = picks.iter().map(|i| vec![i.get(&pool).clone()]).collect();
            let mut analysis = CharsAnalysis::new(&wanted);
            for text in &all {
                let expected: Vec<(u32, usize, usize)> = analyze(Chars, text)
                    .into_iter()
                    .map(|t| {
                        let number = wanted
                            .iter()
                            .position(|p| p[0] == t.text)
                            .map_or(CharsAnalysis::UNWANTED, |i| analysis.phrases[i][0]);
                        (number, t.offset_from, t.offset_to)
                    })
                    .collect();
                let (tokens, phrases) = analysis.analyze(text);
                prop_assert_eq!(phrases.len(), wanted.len());
                let got: Vec<(u32, usize, usize)> = tokens.iter().map(|t| (t.number, t.offset_from, t.offset_to)).collect();
                prop_assert_eq!(got, expected, "{:?} wanting {:?}", text, wanted);
            }
        }

        /// Nothing panics, and tokens are well formed, on arbitrary input.
        #[test]
        fn arbitrary_text_gives_well_formed_tokens(text in any::<String>()) {
            check_well_formed(&text)?;
        }

        #[test]
        fn mixed_text_gives_well_formed_tokens(text in mixed_text()) {
            check_well_formed(&text)?;
        }
    }

    fn check_well_formed(text: &str) -> Result<(), TestCaseError> {
        for analyzer in Analyzer::ALL {
            let tokens = analyze(analyzer, text);
            let mut stream = CaselogTokenizer::new(analyzer);
            let mut streamed = Vec::new();
            stream
                .token_stream(text)
                .process(&mut |t| streamed.push(Token::from(t.clone())));
            prop_assert_eq!(&tokens, &streamed);
            for t in &tokens {
                prop_assert!(!t.text.is_empty());
                prop_assert!(t.offset_from < t.offset_to && t.offset_to <= text.len());
                prop_assert!(text.get(t.offset_from..t.offset_to).is_some());
            }
            for pair in tokens.windows(2) {
                prop_assert!(pair[0].position <= pair[1].position);
                prop_assert!(pair[0].position != pair[1].position || pair[0].text != pair[1].text);
            }
        }
        let plan = query_plan(text);
        prop_assert_eq!(plan.chars.is_empty(), plan.words.is_empty());
        Ok(())
    }

    // --- A real index -----------------------------------------------------

    struct TestIndex {
        reader: IndexReader,
        chars: Field,
        words: Field,
        cjk_words: Field,
        id: Field,
    }

    impl TestIndex {
        fn new(texts: &[&str]) -> TestIndex {
            let mut schema = Schema::builder();
            let chars = schema.add_text_field("chars", Chars.text_options());
            let words = schema.add_text_field("words", Words.text_options().set_stored());
            let cjk_words = schema.add_text_field("cjk_words", CjkWords.text_options());
            let id = schema.add_u64_field("id", STORED);
            let index = Index::create_in_ram(schema.build());
            register(&index);
            let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
            for (n, text) in texts.iter().enumerate() {
                writer
                    .add_document(doc!(chars => *text, words => *text, cjk_words => *text, id => n as u64))
                    .unwrap();
            }
            writer.commit().unwrap();
            TestIndex {
                reader: index.reader().unwrap(),
                chars,
                words,
                cjk_words,
                id,
            }
        }

        /// Each matching document's id and score.
        fn scores(&self, query: &dyn Query) -> Vec<(u64, Score)> {
            let searcher = self.reader.searcher();
            let hits = searcher
                .search(query, &TopDocs::with_limit(1000).order_by_score())
                .unwrap();
            let mut out: Vec<(u64, Score)> = hits
                .into_iter()
                .map(|(score, address)| {
                    let doc: TantivyDocument = searcher.doc(address).unwrap();
                    (doc.get_first(self.id).and_then(|v| v.as_u64()).unwrap(), score)
                })
                .collect();
            out.sort_by_key(|&(id, _)| id);
            out
        }

        /// Ids of the documents matching `query`, best first.
        fn search(&self, query: &dyn Query) -> Vec<u64> {
            let searcher = self.reader.searcher();
            let hits = searcher
                .search(query, &TopDocs::with_limit(100).order_by_score())
                .unwrap();
            hits.into_iter()
                .map(|(_, address)| {
                    let doc: TantivyDocument = searcher.doc(address).unwrap();
                    doc.get_first(self.id).and_then(|v| v.as_u64()).unwrap()
                })
                .collect()
        }

        /// Ids of the documents matching every query word, as the search
        /// side is expected to build it.
        fn search_words(&self, words: &[&str]) -> Vec<u64> {
            let clauses = words
                .iter()
                .map(|w| {
                    (
                        Occur::Must,
                        query_plan(w)
                            .query(self.chars, self.cjk_words, DEFAULT_WORDS_BOOST)
                            .unwrap(),
                    )
                })
                .collect();
            self.search(&BooleanQuery::new(clauses))
        }

        fn sorted(mut ids: Vec<u64>) -> Vec<u64> {
            ids.sort_unstable();
            ids
        }
    }

    const DOCS: &[&str] = &[
        /* 0 */ "我的账户被停用了",
        /* 1 */ "请尽快处理退款",
        /* 2 */ "请暂停用户的操作了",
        /* 3 */ "Refund delayed for order 112-1234567-1234567",
        /* 4 */ "The delayed refund was processed",
        /* 5 */ "账户余额不足",
        /* 6 */ "ASIN Ｂ０８ＸＹＺ１２３４ 被停用，已申请退款。",
    ];

    #[test]
    fn index_finds_chinese_words_as_substrings() {
        let index = TestIndex::new(DOCS);
        assert_eq!(TestIndex::sorted(index.search_words(&["账户", "停用"])), [0]);
        assert_eq!(TestIndex::sorted(index.search_words(&["退款"])), [1, 6]);
        assert_eq!(TestIndex::sorted(index.search_words(&["账户"])), [0, 5]);
        // `停用` is a substring of doc 2 across jieba's `暂停 / 用户`.
        assert_eq!(TestIndex::sorted(index.search_words(&["停用"])), [0, 2, 6]);
        assert_eq!(index.search_words(&["款"]).len(), 2);
    }

    #[test]
    fn index_ranks_whole_word_matches_first() {
        let index = TestIndex::new(DOCS);
        let ranked = index.search_words(&["停用"]);
        assert_eq!(
            ranked.last(),
            Some(&2),
            "the substring-only match ranks last: {ranked:?}"
        );
    }

    #[test]
    fn index_phrase_queries_work_in_both_languages() {
        let index = TestIndex::new(DOCS);
        // Chinese: a phrase of characters, across jieba's word boundary.
        assert_eq!(index.search_words(&["账户被停用"]), [0]);
        assert_eq!(index.search_words(&["户被停"]), [0]);
        // English: word order matters, inflection does not.
        assert_eq!(index.search_words(&["refunds delayed"]), [3]);
        assert_eq!(index.search_words(&["delayed refund"]), [4]);
        // Identifiers, in either width.
        assert_eq!(index.search_words(&["112-1234567-1234567"]), [3]);
        assert_eq!(index.search_words(&["B08XYZ1234"]), [6]);
        assert_eq!(index.search_words(&["ＡＳＩＮ b08xyz1234 被停用"]), [6]);
        // A phrase that only exists across a sentence's punctuation is found
        // too: punctuation takes no position.
        assert_eq!(index.search_words(&["停用已申请"]), [6]);
    }

    #[test]
    fn index_works_with_tantivys_query_parser_too() {
        let index = TestIndex::new(DOCS);
        let searcher = index.reader.searcher();
        let parser = QueryParser::for_index(searcher.index(), vec![index.chars]);
        let found = |q: &str| TestIndex::sorted(index.search(&*parser.parse_query(q).unwrap()));
        assert_eq!(found("账户 AND 停用"), [0]);
        assert_eq!(found("\"refunds delayed\""), [3]);
        let parser = QueryParser::for_index(searcher.index(), vec![index.words]);
        let found = |q: &str| TestIndex::sorted(index.search(&*parser.parse_query(q).unwrap()));
        // Search-mode sub-words at their own positions keep phrases intact.
        assert_eq!(found("\"账户被停用\""), [0]);
        assert_eq!(found("退款"), [1, 6]);
    }
}
