//! Property tests for the protocol core.

use drydock_spec::{Algorithm, Digest, Digester, RepositoryName, Tag};
use proptest::prelude::*;
use std::sync::LazyLock;

/// The distribution spec's `<name>` expression, verbatim, anchored.
static NAME_RE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$").unwrap()
});
/// The distribution spec's tag expression, verbatim, anchored.
static TAG_RE: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$").unwrap());

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![Just(Algorithm::Sha256), Just(Algorithm::Sha512)]
}

/// Splits `data` at the given (sorted, deduplicated) cut points.
fn chunks<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for p in points {
        out.push(&data[start..p]);
        start = p;
    }
    out.push(&data[start..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn digest_display_parse_round_trip(alg in algorithm(), data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let d = Digest::of(alg, &data);
        let text = d.to_string();
        prop_assert_eq!(Digest::parse(&text).unwrap(), d.clone());
        prop_assert_eq!(text.len(), alg.name().len() + 1 + alg.hex_len());
    }

    #[test]
    fn any_lowercase_hex_of_the_right_length_parses(alg in algorithm(), seed in any::<u64>()) {
        let hex: String = (0..alg.hex_len()).map(|i| b"0123456789abcdef"[((seed >> (i % 60)) as usize + i) % 16] as char).collect();
        let text = format!("{alg}:{hex}");
        prop_assert_eq!(Digest::parse(&text).unwrap().to_string(), text);
    }

    #[test]
    fn streaming_over_any_chunking_equals_one_shot(
        alg in algorithm(),
        data in proptest::collection::vec(any::<u8>(), 0..2048),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut d = Digester::new(alg);
        for c in chunks(&data, &cuts) {
            d.update(c);
        }
        prop_assert_eq!(d.len(), data.len() as u64);
        prop_assert_eq!(d.finish(), Digest::of(alg, &data));
    }

    #[test]
    fn save_restore_at_any_offset(
        alg in algorithm(),
        data in proptest::collection::vec(any::<u8>(), 0..1024),
        cuts in proptest::collection::vec(any::<usize>(), 1..6),
    ) {
        // Save and restore at every cut, as if each chunk came to another process.
        let mut d = Digester::new(alg);
        for c in chunks(&data, &cuts) {
            d.update(c);
            d = Digester::restore(&d.save()).unwrap();
        }
        prop_assert_eq!(d.finish(), Digest::of(alg, &data));
    }

    #[test]
    fn name_grammar_matches_the_spec_regex(s in "[a-z0-9A-Z._/-]{0,24}") {
        prop_assert_eq!(RepositoryName::parse(&s).is_ok(), NAME_RE.is_match(&s), "{:?}", s);
    }

    #[test]
    fn names_generated_from_the_regex_are_accepted(s in r"[a-z0-9]{1,4}((\.|_|__|-{1,3})[a-z0-9]{1,4}){0,3}(/[a-z0-9]{1,4}((\.|_|__|-{1,3})[a-z0-9]{1,4}){0,3}){0,4}") {
        prop_assert!(NAME_RE.is_match(&s));
        prop_assert!(RepositoryName::parse(&s).is_ok(), "{:?}", s);
    }

    #[test]
    fn long_names_obey_the_length_limit(component in "[a-z0-9]{1,40}", n in 1usize..12) {
        let s = vec![component; n].join("/");
        prop_assert_eq!(RepositoryName::parse(&s).is_ok(), s.len() <= 255);
    }

    #[test]
    fn tag_grammar_matches_the_spec_regex(s in "[a-zA-Z0-9._/:-]{0,140}") {
        prop_assert_eq!(Tag::parse(&s).is_ok(), TAG_RE.is_match(&s), "{:?}", s);
    }
}
