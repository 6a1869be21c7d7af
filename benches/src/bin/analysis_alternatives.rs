//! Measures the text-analysis alternatives the index chose between (jieba
//! with its own positions, character unigrams and bigrams, the two fields
//! caselog uses): recall, precision, indexing speed, index size and query
//! time on a synthetic English/Chinese corpus. The table it prints is the
//! evidence behind the design notes of `caselog_store::index::analysis`.
//!
//! `cargo run --release -p caselog-bench --bin analysis_alternatives`

use std::time::Instant;

use caselog_store::index::analysis::Analyzer::{Chars, Words};
use caselog_store::index::analysis::{
    analyze, analyze_pair, classify, query_plan, register, warm_up, CaselogTokenStream, Class, Token,
    DEFAULT_WORDS_BOOST,
};
use tantivy::query::{Query, QueryParser};
use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{PreTokenizedString, Token as TantivyToken, Tokenizer};
use tantivy::{Index, TantivyDocument};
use tantivy_jieba::jieba_rs::Jieba;

// --- Measurement of the alternatives (run by hand) ----------------------

/// A deterministic xorshift generator, so runs are comparable.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const ZH: &[&str] = &[
    "账户",
    "停用",
    "退款",
    "订单",
    "处理",
    "尽快",
    "请",
    "我的",
    "被",
    "了",
    "商品",
    "库存",
    "发货",
    "物流",
    "卖家",
    "客服",
    "申请",
    "审核",
    "资金",
    "冻结",
    "问题",
    "已经",
    "没有",
    "收到",
    "买家",
    "退货",
    "地址",
    "包裹",
    "延迟",
    "配送",
    "仓库",
    "入库",
    "品牌",
    "授权",
    "侵权",
    "投诉",
    "的",
    "是",
    "在",
    "和",
    "也",
    "都",
    "还",
    "因为",
    "所以",
    "但是",
    "需要",
    "帮助",
    "谢谢",
    "您好",
    "今天",
    "昨天",
    "系统",
    "显示",
    "错误",
    "无法",
    "登录",
    "验证",
    "身份",
    "信息",
    "更新",
    "价格",
    "费用",
    "扣款",
    "银行",
    "账号",
    "暂停",
    "用户",
    "操作",
    "北京大学",
    "学生",
    "listing",
];
const EN: &[&str] = &[
    "refund",
    "refunds",
    "delayed",
    "account",
    "suspended",
    "order",
    "shipment",
    "inventory",
    "please",
    "help",
    "the",
    "my",
    "was",
    "is",
    "not",
    "received",
    "ASIN",
    "listing",
    "suppressed",
    "FBA",
    "seller",
    "case",
];
const PUNCT: &[&str] = &["，", "。", "！", "、", ", ", ". ", " "];

fn synthetic_message(rng: &mut Rng) -> String {
    let mut text = String::new();
    for _ in 0..20 + rng.below(40) {
        match rng.below(20) {
            0..=11 => text.push_str(rng.pick(ZH)),
            12..=16 => {
                text.push(' ');
                text.push_str(rng.pick(EN));
                text.push(' ');
            }
            17 => {
                let id = if rng.below(2) == 0 {
                    format!(" 112-{:07}-{:07} ", rng.below(10_000_000), rng.below(10_000_000))
                } else {
                    format!(" B0{:08X} ", rng.below(1 << 31))
                };
                text.push_str(&id);
            }
            _ => text.push_str(rng.pick(PUNCT)),
        }
    }
    text
}

/// Chinese query words: the vocabulary, substrings across word boundaries
/// cut at random from the corpus, and single characters.
fn synthetic_queries(rng: &mut Rng, corpus: &[String]) -> Vec<String> {
    let mut queries: Vec<String> = ZH.iter().filter(|w| !w.is_ascii()).map(|w| w.to_string()).collect();
    let vocabulary = queries.len();
    while queries.len() < vocabulary + 100 {
        let doc = &corpus[rng.below(corpus.len())];
        let chars: Vec<char> = doc.chars().collect();
        // 60 short substrings (1 to 3 characters), then 40 long ones
        // (4 to 8), which jieba cuts into several words.
        let len = if queries.len() < vocabulary + 60 {
            1 + rng.below(3)
        } else {
            4 + rng.below(5)
        };
        let start = rng.below(chars.len().saturating_sub(len).max(1));
        let query: String = chars.iter().skip(start).take(len).collect();
        if query.chars().count() == len && query.chars().all(|c| classify(c) == Class::Cjk) {
            queries.push(query);
        }
    }
    // Mixed phrases: two to four consecutive tokens, at least one English
    // and one Chinese, as raw text (case, spaces and all).
    while queries.len() < vocabulary + 130 {
        let doc = &corpus[rng.below(corpus.len())];
        let tokens = analyze(Chars, doc);
        let len = 2 + rng.below(3);
        let start = rng.below(tokens.len().saturating_sub(len).max(1));
        let window = &tokens[start..(start + len).min(tokens.len())];
        let cjk = window
            .iter()
            .filter(|t| t.text.chars().all(|c| classify(c) == Class::Cjk))
            .count();
        if window.len() == len && cjk > 0 && cjk < len {
            queries.push(doc[window[0].offset_from..window[len - 1].offset_to].to_string());
        }
    }
    queries
}

/// A tokenizer that analyzes with a plain function.
#[derive(Clone)]
struct FnTokenizer(fn(&str) -> Vec<TantivyToken>);

impl Tokenizer for FnTokenizer {
    type TokenStream<'a> = CaselogTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CaselogTokenStream {
        CaselogTokenStream::from_tokens((self.0)(text))
    }
}

/// Alternative (c): CJK character bigrams (a lone character stays a
/// unigram), English words as in caselog, in the caselog position space.
fn bigrams(text: &str) -> Vec<TantivyToken> {
    let chars = analyze(Chars, text);
    let is_cjk = |t: &Token| t.text.chars().all(|c| classify(c) == Class::Cjk);
    let mut out = Vec::new();
    for (i, t) in chars.iter().enumerate() {
        let token = |text: String, to: usize| TantivyToken {
            offset_from: t.offset_from,
            offset_to: to,
            position: t.position,
            text,
            position_length: 1,
        };
        if !is_cjk(t) {
            out.push(token(t.text.clone(), t.offset_to));
            continue;
        }
        let adjacent = |o: Option<&Token>, before: bool| {
            o.is_some_and(|o| {
                is_cjk(o)
                    && if before {
                        o.offset_to == t.offset_from
                    } else {
                        t.offset_to == o.offset_from
                    }
            })
        };
        let next = chars.get(i + 1);
        if adjacent(next, false) {
            let next = next.unwrap();
            out.push(token(format!("{}{}", t.text, next.text), next.offset_to));
        } else if !adjacent(i.checked_sub(1).and_then(|p| chars.get(p)), true) {
            out.push(token(t.text.clone(), t.offset_to));
        }
    }
    out
}

#[derive(Clone, Copy, Debug)]
enum Alternative {
    JiebaDefaultPositions,
    JiebaOrdinalPositions,
    JiebaCaselogPositions,
    CharUnigrams,
    CharBigrams,
    TwoFields,
    /// The chosen pair, each text analyzed once for both fields
    /// (`analyze_pair`, pre-tokenized values): what the index does.
    TwoFieldsOnePass,
}

fn main() {
    use std::collections::HashSet;

    use tantivy::collector::DocSetCollector;

    let load = warm_up();
    let reloads: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            drop(Jieba::new());
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    println!(
        "jieba dictionary load: first {:.1} ms, then {reloads:.1?} ms",
        load.as_secs_f64() * 1e3
    );

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let corpus: Vec<String> = (0..5000).map(|_| synthetic_message(&mut rng)).collect();
    let queries = synthetic_queries(&mut rng, &corpus);
    let avg_chars = corpus.iter().map(|d| d.chars().count()).sum::<usize>() / corpus.len();
    println!(
        "{} docs (avg {avg_chars} chars), {} queries",
        corpus.len(),
        queries.len()
    );
    println!("| alternative | recall | queries fully answered | 1-char recall | 4-8 char recall | mixed phrase recall | precision | docs/s | index KiB | query ms (all) |");
    println!("|---|---|---|---|---|---|---|---|---|---|");

    for alternative in [
        Alternative::JiebaDefaultPositions,
        Alternative::JiebaOrdinalPositions,
        Alternative::JiebaCaselogPositions,
        Alternative::CharUnigrams,
        Alternative::CharBigrams,
        Alternative::TwoFields,
        Alternative::TwoFieldsOnePass,
    ] {
        // Indexing is timed three times and the best run kept: the
        // machine is shared, so the slower runs measure the neighbours.
        let build = || {
            let dir = tempfile::tempdir().unwrap();
            let mut schema = Schema::builder();
            let indexing = |name: &str| {
                TextOptions::default().set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(name)
                        .set_index_option(IndexRecordOption::WithFreqsAndPositions),
                )
            };
            let (field, words) = match alternative {
                Alternative::TwoFields | Alternative::TwoFieldsOnePass => (
                    schema.add_text_field("chars", Chars.text_options()),
                    Some(schema.add_text_field("words", Words.text_options())),
                ),
                Alternative::JiebaCaselogPositions => (schema.add_text_field("text", Words.text_options()), None),
                Alternative::CharUnigrams => (schema.add_text_field("text", Chars.text_options()), None),
                _ => (schema.add_text_field("text", indexing("alt")), None),
            };
            let index = Index::create_in_dir(dir.path(), schema.build()).unwrap();
            register(&index);
            match alternative {
                Alternative::JiebaDefaultPositions => {
                    index.tokenizers().register("alt", tantivy_jieba::JiebaTokenizer::new())
                }
                Alternative::JiebaOrdinalPositions => index
                    .tokenizers()
                    .register("alt", tantivy_jieba::JiebaTokenizer::with_ordinal_position_mode(true)),
                Alternative::CharBigrams => index.tokenizers().register("alt", FnTokenizer(bigrams)),
                _ => {}
            }

            let started = Instant::now();
            let mut writer = index.writer_with_num_threads(1, 200_000_000).unwrap();
            for text in &corpus {
                let mut document = TantivyDocument::default();
                match (alternative, words) {
                    (Alternative::TwoFieldsOnePass, Some(words)) => {
                        let (c, w) = analyze_pair(text);
                        let pre = |tokens| PreTokenizedString {
                            text: text.clone(),
                            tokens,
                        };
                        document.add_pre_tokenized_text(field, pre(c));
                        document.add_pre_tokenized_text(words, pre(w));
                    }
                    (_, words) => {
                        document.add_text(field, text);
                        if let Some(words) = words {
                            document.add_text(words, text);
                        }
                    }
                }
                writer.add_document(document).unwrap();
            }
            writer.commit().unwrap();
            writer.wait_merging_threads().unwrap();
            let seconds = started.elapsed().as_secs_f64();
            let bytes: u64 = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .sum();
            (dir, index, field, words, seconds, bytes)
        };
        let mut runs: Vec<_> = (0..3).map(|_| build()).collect();
        runs.sort_by(|a, b| a.4.total_cmp(&b.4));
        let (_dir, index, field, words, seconds, bytes) = runs.swap_remove(0);
        let docs_per_s = corpus.len() as f64 / seconds;

        let reader = index.reader().unwrap();
        let searcher = reader.searcher();
        let parser = QueryParser::for_index(&index, vec![field]);
        let (mut true_found, mut truth, mut found) = (0usize, 0usize, 0usize);
        let (mut answered, mut single_found, mut single_truth) = (0usize, 0usize, 0usize);
        let (mut long_found, mut long_truth, mut mixed_found, mut mixed_truth) = (0, 0, 0, 0);
        let started = Instant::now();
        for query_text in &queries {
            let query: Box<dyn Query> = match alternative {
                Alternative::TwoFields | Alternative::TwoFieldsOnePass => query_plan(query_text)
                    .query(field, words.unwrap(), DEFAULT_WORDS_BOOST)
                    .unwrap(),
                Alternative::JiebaCaselogPositions => query_plan(query_text).words_query(field).unwrap(),
                Alternative::CharUnigrams => query_plan(query_text).chars_query(field).unwrap(),
                // Quoted, as a user would quote a phrase with spaces.
                _ => parser.parse_query(&format!("\"{query_text}\"")).unwrap(),
            };
            let hits: HashSet<u32> = searcher
                .search(&*query, &DocSetCollector)
                .unwrap()
                .into_iter()
                .map(|a| a.doc_id)
                .collect();
            let expected: HashSet<u32> = (0..corpus.len() as u32)
                .filter(|&d| corpus[d as usize].contains(query_text.as_str()))
                .collect();
            let recalled = hits.intersection(&expected).count();
            true_found += recalled;
            truth += expected.len();
            answered += usize::from(recalled == expected.len());
            match query_text.chars().count() {
                1 => {
                    single_found += recalled;
                    single_truth += expected.len();
                }
                _ if query_text.chars().any(|c| c.is_ascii_alphanumeric()) => {
                    mixed_found += recalled;
                    mixed_truth += expected.len();
                }
                4.. => {
                    long_found += recalled;
                    long_truth += expected.len();
                }
                _ => {}
            }
            found += hits.len();
        }
        let query_ms = started.elapsed().as_secs_f64() * 1e3;
        println!(
            "| {alternative:?} | {:.3} | {answered}/{} | {:.3} | {:.3} | {:.3} | {:.3} | {docs_per_s:.0} | {} | {query_ms:.0} |",
            true_found as f64 / truth as f64,
            queries.len(),
            single_found as f64 / single_truth.max(1) as f64,
            long_found as f64 / long_truth.max(1) as f64,
            mixed_found as f64 / mixed_truth.max(1) as f64,
            true_found as f64 / found.max(1) as f64,
            bytes / 1024,
        );
    }
}
