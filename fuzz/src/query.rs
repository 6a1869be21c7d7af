//! The search query parser.

use caselog_core::{parse, Query, QueryErrorKind, QueryLimits};

/// Limits no fuzz input can reach in length or terms, with the deepest
/// nesting any configuration allows.
const GENEROUS: QueryLimits = QueryLimits {
    max_chars: usize::MAX,
    max_terms: usize::MAX,
    max_depth: QueryLimits::MAX_DEPTH_CAP,
};

fn is_limit_error(kind: &QueryErrorKind) -> bool {
    matches!(
        kind,
        QueryErrorKind::TooLong { .. } | QueryErrorKind::TooManyTerms { .. } | QueryErrorKind::TooDeep { .. }
    )
}

/// Parses the input (lossy UTF-8) as query text with the default limits and
/// with limits it cannot exceed, and checks:
///
/// * an error's position lies within the input (at most its length in
///   characters) and its message renders;
/// * an error that is not a limit error is the same under larger limits,
///   and a success under the default limits is the same success under
///   larger ones (limits only ever add errors);
/// * a parsed tree is in normal form, and its canonical text parses back to
///   the same tree (and prints the same text again);
/// * a bare reference is only reported for a query that is one word.
pub fn query_parser(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let len = text.chars().count();
    let default = parse(&text, &QueryLimits::default());
    let generous = parse(&text, &GENEROUS);
    for result in [&default, &generous] {
        if let Err(e) = result {
            assert!(
                e.position <= len,
                "error position {} past the input ({len} chars): {e:?}",
                e.position
            );
            assert!(e.to_string().starts_with("at column "), "error message: {e}");
        }
    }
    match (&default, &generous) {
        (Ok(d), g) => assert_eq!(Ok(d), g.as_ref(), "larger limits changed a successful parse"),
        (Err(d), g) if !is_limit_error(&d.kind) => {
            assert_eq!(Err(d), g.as_ref(), "larger limits changed a non-limit error")
        }
        (Err(_), _) => {}
    }
    let Ok(parsed) = generous else { return };
    let root = parsed.root;
    assert_eq!(root.clone().normalised(), root, "parse did not return the normal form");
    if parsed.bare_reference.is_some() {
        assert!(
            matches!(root, Query::Word(_)),
            "bare reference on a non-word query: {root:?}"
        );
    }
    let canonical = root.to_string();
    match parse(&canonical, &GENEROUS) {
        Ok(again) => {
            assert_eq!(again.root, root, "canonical text {canonical:?} parses to another tree");
            assert_eq!(again.root.to_string(), canonical, "canonical text is not stable");
        }
        Err(e) => panic!("canonical text {canonical:?} of {text:?} does not parse: {e}"),
    }
}
