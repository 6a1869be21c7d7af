//! A query word's clause: its recall clause required, its ranking clauses
//! (whole CJK words, the title) optional — the `+recall (words) (title)`
//! boolean, with scorers made lazily where tantivy's boolean makes them
//! eagerly.
//!
//! tantivy 0.27 makes an intersection's scorers "aligned": each clause is
//! asked to start at the intersection's current candidate
//! (`Weight::scorer_danger`). A boolean clause has no such hook, so a
//! word's `+recall (words)` boolean inside a tenant's intersection built
//! its own scorer first, which for a phrase recall clause (a Chinese word
//! is a phrase of its characters) means finding the phrase's first match
//! in the segment: every document holding all the characters is checked
//! until one holds them in order. For a rare word of common characters
//! that is thousands of position checks per segment, whatever the tenant
//! (2.5 ms for a 40-case tenant at 1M cases, BENCHMARKS.md). This clause
//! hands the candidate on to its recall clause instead, and makes the
//! ranking clauses' scorers as the boolean does, so every score is the
//! boolean's, bit for bit: required plus optional, summed in the same
//! order. The ranking clauses' scorers are made only when a document
//! matches the recall clause in the segment (a tenant's search of a rare
//! word mostly matches nothing in most segments); an error making one is
//! kept in the search's [`LazyErrors`] and fails the search.

use std::sync::Arc;

use parking_lot::Mutex;
use tantivy::query::{BooleanQuery, EmptyScorer, EnableScoring, Explanation, Occur, Query as TQuery, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SeekDangerResult, SegmentReader, TantivyError, Term, TERMINATED};

/// The first error of a search's lazily made scorers (scoring cannot
/// return one): the search checks it once it has collected.
pub(super) type LazyErrors = Arc<Mutex<Option<TantivyError>>>;

/// `+required optional…`, matching exactly what `required` matches.
#[derive(Debug)]
pub(super) struct RankedQuery {
    required: Box<dyn TQuery>,
    optional: Vec<Box<dyn TQuery>>,
    errors: LazyErrors,
}

impl Clone for RankedQuery {
    fn clone(&self) -> Self {
        RankedQuery {
            required: self.required.box_clone(),
            optional: self.optional.iter().map(|q| q.box_clone()).collect(),
            errors: self.errors.clone(),
        }
    }
}

impl RankedQuery {
    /// The query of a word's clause list: one `Must` clause and any number
    /// of `Should` ones. Another shape is left a plain boolean.
    pub(super) fn of(mut clauses: Vec<(Occur, Box<dyn TQuery>)>, errors: &LazyErrors) -> Box<dyn TQuery> {
        let musts = clauses.iter().filter(|(o, _)| *o == Occur::Must).count();
        let only_should_besides = clauses.iter().all(|(o, _)| matches!(o, Occur::Must | Occur::Should));
        let at = clauses.iter().position(|(o, _)| *o == Occur::Must);
        let Some(at) = at.filter(|_| musts == 1 && only_should_besides) else {
            return Box::new(BooleanQuery::new(clauses));
        };
        let (_, required) = clauses.remove(at);
        let optional = clauses.into_iter().map(|(_, q)| q).collect();
        Box::new(RankedQuery {
            required,
            optional,
            errors: errors.clone(),
        })
    }
}

impl TQuery for RankedQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let required = self.required.weight(scoring)?;
        // Without scores the ranking clauses change nothing (the boolean
        // drops them too).
        let optional = if scoring.is_scoring_enabled() {
            self.optional
                .iter()
                .map(|q| q.weight(scoring).map(Arc::from))
                .collect::<tantivy::Result<Vec<_>>>()?
        } else {
            Vec::new()
        };
        Ok(Box::new(RankedWeight {
            required,
            optional,
            errors: self.errors.clone(),
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.required.query_terms(visitor);
        for q in &self.optional {
            q.query_terms(visitor);
        }
    }
}

struct RankedWeight {
    required: Box<dyn Weight>,
    optional: Vec<Arc<dyn Weight>>,
    errors: LazyErrors,
}

impl RankedWeight {
    /// `required` with the ranking clauses, whose scorers are made at the
    /// first document `required` matches.
    fn rank(&self, required: Box<dyn Scorer>, reader: &SegmentReader, boost: Score) -> Box<dyn Scorer> {
        if self.optional.is_empty() {
            return required;
        }
        Box::new(RankedScorer {
            required,
            optional: self.optional.iter().map(|w| Optional::Unmade(w.clone())).collect(),
            reader: reader.clone(),
            boost,
            errors: self.errors.clone(),
            cache: None,
        })
    }
}

impl Weight for RankedWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let required = self.required.scorer(reader, boost)?;
        let first = required.doc();
        if first == TERMINATED {
            return Ok(Box::new(EmptyScorer));
        }
        Ok(self.rank(required, reader, boost))
    }

    fn scorer_danger(
        &self,
        reader: &SegmentReader,
        target: DocId,
        boost: Score,
    ) -> tantivy::Result<(SeekDangerResult, Box<dyn Scorer>)> {
        let (found, required) = self.required.scorer_danger(reader, target, boost)?;
        if found == SeekDangerResult::SeekLowerBound(TERMINATED) {
            return Ok((found, Box::new(EmptyScorer)));
        }
        Ok((found, self.rank(required, reader, boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.doc() > doc || scorer.seek(doc) != doc {
            return Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )));
        }
        let mut explanation = Explanation::new("+required optional", scorer.score());
        explanation.add_detail(self.required.explain(reader, doc)?);
        for weight in &self.optional {
            if let Ok(e) = weight.explain(reader, doc) {
                explanation.add_detail(e);
            }
        }
        Ok(explanation)
    }

    fn count(&self, reader: &SegmentReader) -> tantivy::Result<u32> {
        self.required.count(reader)
    }
}

/// A ranking clause: its weight until a document needs its score, then
/// its scorer, probed only with `seek_danger` at the required scorer's
/// documents, in increasing order.
enum Optional {
    Unmade(Arc<dyn Weight>),
    Made {
        scorer: Box<dyn Scorer>,
        /// No document before this one can match (the last probe's answer).
        next: DocId,
        /// Whether the scorer is on `next` (its last probe found it).
        at: bool,
    },
    /// Making its scorer failed (the error is in the search's `LazyErrors`).
    Failed,
}

impl Optional {
    /// The clause's score at `doc`, if it matches there. `doc` never
    /// decreases between calls.
    fn score_at(&mut self, doc: DocId, reader: &SegmentReader, boost: Score, errors: &LazyErrors) -> Option<Score> {
        if let Optional::Unmade(weight) = self {
            *self = match weight.scorer_danger(reader, doc, boost) {
                Ok((found, scorer)) => Optional::Made {
                    scorer,
                    next: match found {
                        SeekDangerResult::Found => doc,
                        SeekDangerResult::SeekLowerBound(bound) => bound,
                    },
                    at: found == SeekDangerResult::Found,
                },
                Err(e) => {
                    errors.lock().get_or_insert(e);
                    Optional::Failed
                }
            };
        }
        let Optional::Made { scorer, next, at } = self else {
            return None;
        };
        if doc < *next || *next == TERMINATED {
            return None;
        }
        if doc > *next || !*at {
            match scorer.seek_danger(doc) {
                SeekDangerResult::Found => {
                    *next = doc;
                    *at = true;
                }
                SeekDangerResult::SeekLowerBound(bound) => {
                    *next = bound;
                    *at = false;
                    return None;
                }
            }
        }
        Some(scorer.score())
    }
}

/// The required scorer's documents, scored as tantivy's
/// `RequiredOptionalScorer` over the union of the ranking clauses scores
/// them: the required score plus the sum, in clause order, of the scores
/// of the ranking clauses that match.
struct RankedScorer {
    required: Box<dyn Scorer>,
    optional: Vec<Optional>,
    reader: SegmentReader,
    boost: Score,
    errors: LazyErrors,
    cache: Option<(DocId, Score)>,
}

impl DocSet for RankedScorer {
    fn advance(&mut self) -> DocId {
        self.required.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.required.seek(target)
    }

    fn seek_danger(&mut self, target: DocId) -> SeekDangerResult {
        self.required.seek_danger(target)
    }

    fn doc(&self) -> DocId {
        self.required.doc()
    }

    fn size_hint(&self) -> u32 {
        self.required.size_hint()
    }

    fn cost(&self) -> u64 {
        self.required.cost()
    }
}

impl Scorer for RankedScorer {
    fn score(&mut self) -> Score {
        let doc = self.required.doc();
        if let Some((at, score)) = self.cache {
            if at == doc {
                return score;
            }
        }
        // The union's score: a sum from 0 in clause order.
        let mut ranking: Option<Score> = None;
        for clause in &mut self.optional {
            if let Some(s) = clause.score_at(doc, &self.reader, self.boost, &self.errors) {
                ranking = Some(ranking.unwrap_or(0.0) + s);
            }
        }
        let required = self.required.score();
        let score = match ranking {
            Some(r) => required + r,
            None => required,
        };
        self.cache = Some((doc, score));
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tantivy::collector::TopDocs;
    use tantivy::query::{BoostQuery, ConstScoreQuery, PhraseQuery, TermQuery};
    use tantivy::schema::{IndexRecordOption, Schema, STRING, TEXT};
    use tantivy::{doc, Index, IndexWriter};

    const WORDS: [&str; 5] = ["a", "b", "c", "d", "e"];

    /// Every hit of `q` with its score's bits, in a fixed order.
    fn hits(searcher: &tantivy::Searcher, q: &dyn TQuery) -> Vec<(u32, u32, u32)> {
        let mut out: Vec<(u32, u32, u32)> = searcher
            .search(q, &TopDocs::with_limit(10_000).order_by_score())
            .unwrap()
            .into_iter()
            .map(|(score, a)| (a.segment_ord, a.doc_id, score.to_bits()))
            .collect();
        out.sort_unstable();
        out
    }

    fn phrase(field: tantivy::schema::Field, words: &[usize]) -> Box<dyn TQuery> {
        let terms: Vec<Term> = words
            .iter()
            .map(|w| Term::from_field_text(field, WORDS[*w % WORDS.len()]))
            .collect();
        if terms.len() == 1 {
            Box::new(TermQuery::new(terms[0].clone(), IndexRecordOption::WithFreqs))
        } else {
            Box::new(PhraseQuery::new(terms))
        }
    }

    /// (tenant, body words, title words) of each document.
    type Docs = Vec<(usize, Vec<usize>, Vec<usize>)>;

    struct Corpus {
        searcher: tantivy::Searcher,
        body: tantivy::schema::Field,
        title: tantivy::schema::Field,
        owner: tantivy::schema::Field,
    }

    /// An index of `docs` in about `segments` segments (one commit each).
    fn corpus(docs: &Docs, segments: usize) -> Corpus {
        let mut schema = Schema::builder();
        let body = schema.add_text_field("body", TEXT);
        let title = schema.add_text_field("title", TEXT);
        let owner = schema.add_text_field("tenant", STRING);
        let index = Index::create_in_ram(schema.build());
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let text = |ws: &[usize]| ws.iter().map(|w| WORDS[*w]).collect::<Vec<_>>().join(" ");
        for chunk in docs.chunks(docs.len().div_ceil(segments).max(1)) {
            for (t, b, ti) in chunk {
                writer
                    .add_document(doc!(owner => format!("t{t}"), body => text(b), title => text(ti)))
                    .unwrap();
            }
            writer.commit().unwrap();
        }
        Corpus {
            searcher: index.reader().unwrap().searcher(),
            body,
            title,
            owner,
        }
    }

    fn docs() -> impl Strategy<Value = Docs> {
        proptest::collection::vec(
            (
                0..3usize,
                proptest::collection::vec(0..5usize, 0..12),
                proptest::collection::vec(0..5usize, 0..4),
            ),
            1..60,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The ranked clause matches what the boolean `+required
        /// optional…` matches and scores every hit with the same bits,
        /// alone and inside a tenant's intersection, over several segments.
        #[test]
        fn ranked_scores_are_the_boolean_s_bit_for_bit(
            docs in docs(),
            segments in 1..4usize,
            required in proptest::collection::vec(0..5usize, 1..4),
            optional in proptest::collection::vec((proptest::collection::vec(0..5usize, 1..3), any::<bool>()), 0..3),
            tenant in 0..3usize,
        ) {
            let Corpus { searcher, body, title, owner } = corpus(&docs, segments);
            let clauses = || {
                let mut c: Vec<(Occur, Box<dyn TQuery>)> = vec![(Occur::Must, phrase(body, &required))];
                for (words, in_title) in &optional {
                    let field = if *in_title { title } else { body };
                    c.push((Occur::Should, Box::new(BoostQuery::new(phrase(field, words), 2.0))));
                }
                c
            };
            let errors = LazyErrors::default();
            let ranked = RankedQuery::of(clauses(), &errors);
            let boolean: Box<dyn TQuery> = Box::new(BooleanQuery::new(clauses()));
            prop_assert_eq!(hits(&searcher, &*ranked), hits(&searcher, &*boolean));
            let scoped = |q: Box<dyn TQuery>| -> Box<dyn TQuery> {
                let only = TermQuery::new(Term::from_field_text(owner, &format!("t{tenant}")), IndexRecordOption::Basic);
                Box::new(BooleanQuery::new(vec![
                    (Occur::Must, q),
                    (Occur::Must, Box::new(ConstScoreQuery::new(Box::new(only), 0.0))),
                ]))
            };
            prop_assert_eq!(
                hits(&searcher, &*scoped(RankedQuery::of(clauses(), &errors))),
                hits(&searcher, &*scoped(Box::new(BooleanQuery::new(clauses()))))
            );
            prop_assert!(errors.lock().is_none());
        }

        /// Any of two or three words within a tenant, as the union of each
        /// word within the tenant, matches and scores as the tenant around
        /// the union of the words, bit for bit.
        #[test]
        fn a_tenant_distributed_over_an_or_keeps_every_score(
            docs in docs(),
            segments in 1..4usize,
            parts in proptest::collection::vec(
                (proptest::collection::vec(0..5usize, 1..3), proptest::collection::vec(0..5usize, 0..2)),
                1..5,
            ),
            tenant in 0..3usize,
        ) {
            let Corpus { searcher, body, title, owner } = corpus(&docs, segments);
            let errors = LazyErrors::default();
            let words = || -> Vec<Box<dyn TQuery>> {
                parts
                    .iter()
                    .map(|(req, opt)| {
                        let mut c: Vec<(Occur, Box<dyn TQuery>)> = vec![(Occur::Must, phrase(body, req))];
                        if !opt.is_empty() {
                            c.push((Occur::Should, Box::new(BoostQuery::new(phrase(title, opt), 2.0))));
                        }
                        RankedQuery::of(c, &errors)
                    })
                    .collect()
            };
            let filter = || -> Box<dyn TQuery> {
                let only = TermQuery::new(Term::from_field_text(owner, &format!("t{tenant}")), IndexRecordOption::Basic);
                Box::new(ConstScoreQuery::new(Box::new(only), 0.0))
            };
            let around: Box<dyn TQuery> = Box::new(BooleanQuery::new(vec![
                (Occur::Must, filter()),
                (
                    Occur::Must,
                    Box::new(BooleanQuery::new(words().into_iter().map(|q| (Occur::Should, q)).collect())),
                ),
            ]));
            let distributed = crate::index::search::plan::any_within(filter(), words());
            prop_assert_eq!(hits(&searcher, &*distributed), hits(&searcher, &*around));
            prop_assert!(errors.lock().is_none());
        }
    }
}
