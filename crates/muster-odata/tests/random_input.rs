//! Whatever arrives in a query option, the parser answers with a tree or an error, never a panic.

use proptest::prelude::*;

/// Fragments that make random input look like filters often enough to reach the deep paths.
fn filterish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("status".to_owned()),
        Just(" eq ".to_owned()),
        Just(" and ".to_owned()),
        Just(" or ".to_owned()),
        Just("not ".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("'x'".to_owned()),
        Just("'".to_owned()),
        Just(" in ".to_owned()),
        Just(",".to_owned()),
        Just("tags/any(t: t eq ".to_owned()),
        Just("2025-02-07T19:01:26Z".to_owned()),
        Just("-12".to_owned()),
        Just("/$count".to_owned()),
        Just("ns.type'v'".to_owned()),
        "[ -~]{0,4}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn filters_never_panic(text in filterish()) {
        let _ = muster_odata::parse_filter(&text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = muster_odata::parse_filter(&text);
        let _ = muster_odata::parse_orderby(&text);
        let _ = muster_odata::parse_select(&text);
        let _ = muster_odata::parse_expand(&text);
        let _ = muster_odata::parse_search(&text);
        let _ = muster_odata::parse_top(&text);
    }

    #[test]
    fn errors_point_inside_the_input(text in filterish()) {
        if let Err(e) = muster_odata::parse_filter(&text) {
            prop_assert!(e.position <= text.len());
        }
    }
}
