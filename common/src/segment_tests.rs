//! Tests of [`super`]: the grammar, its errors, and the evaluator against a
//! straightforward reference on random rows and random expressions.

use super::*;
use proptest::prelude::*;

const COLUMNS: [&str; 5] = [
    "AccountId",
    "EngagementScore",
    "DaysSinceLastEmail",
    "EngagementStartDate",
    "AggregationLevel",
];

fn ids(text: &str, rows: &[[&str; 5]]) -> Vec<String> {
    let expr = parse(text, &COLUMNS).expect("parses");
    rows.iter()
        .filter(|r| expr.matches(&r[..]))
        .map(|r| r[0].to_owned())
        .collect()
}

const ROWS: [[&str; 5]; 4] = [
    ["A", "61", "0", "2025-09-20", "Year"],
    ["B", "12", "75", "2024-01-03", "Year"],
    ["C", "", "", "", "Year"],
    ["D", "90", "61", "2026-02-01", "Year"],
];

#[test]
fn comparisons_and_or_and_parentheses() {
    assert_eq!(ids("DaysSinceLastEmail > 60", &ROWS), ["B", "D"]);
    assert_eq!(
        ids("DaysSinceLastEmail > 60 and EngagementScore >= 90", &ROWS),
        ["D"]
    );
    // AND binds tighter than OR.
    assert_eq!(
        ids(
            "EngagementScore < 20 OR EngagementScore > 50 AND DaysSinceLastEmail = 0",
            &ROWS
        ),
        ["A", "B"]
    );
    assert_eq!(
        ids(
            "(EngagementScore < 20 OR EngagementScore > 50) AND DaysSinceLastEmail != 0",
            &ROWS
        ),
        ["B", "D"]
    );
    assert_eq!(ids("EngagementStartDate < 2025-01-01", &ROWS), ["B"]);
    assert_eq!(ids("EngagementScore = 61.0", &ROWS), ["A"]);
}

#[test]
fn an_empty_field_never_matches() {
    for text in [
        "EngagementScore != 5",
        "EngagementScore >= -1",
        "EngagementStartDate != 2020-01-01",
    ] {
        assert!(!ids(text, &ROWS).contains(&"C".to_owned()), "{text}");
    }
}

#[test]
fn errors_point_at_the_offending_token() {
    let err = |text: &str| parse(text, &COLUMNS).expect_err(text);
    let e = err("DaysSinceLastEmail > 60 AN DaysSinceLastMeeting > 60");
    assert_eq!((e.at, e.token.as_str()), (25, "AN"));
    assert!(e.message.contains("AND, OR"), "{e}");
    let e = err("DaysSinceLastMeeting > 60");
    assert_eq!((e.at, e.token.as_str()), (1, "DaysSinceLastMeeting"));
    assert!(e.message.contains("no such column"));
    let e = err("EngagementScore >");
    assert_eq!((e.at, e.token.as_str()), (18, ""));
    let e = err("EngagementStartDate > 60");
    assert!(e.message.contains("YYYY-MM-DD"), "{e}");
    let e = err("EngagementScore > 2025-01-01");
    assert!(e.message.contains("expected a number"), "{e}");
    let e = err("AccountId = 3");
    assert!(e.message.contains("text"), "{e}");
    let e = err("(EngagementScore > 1");
    assert!(e.message.contains("expected )"), "{e}");
    let e = err("EngagementScore > 1)");
    assert_eq!(e.token, ")");
    let e = err("EngagementScore ~ 1");
    assert_eq!((e.at, e.token.as_str()), (17, "~"));
    let e = err("AND EngagementScore > 1");
    assert_eq!(e.at, 1);
    assert_eq!(
        e.to_string(),
        "bad expression at character 1 (\"AND\"): expected a column before AND"
    );
}

/// A random expression tree over columns 1..=3, with its own evaluation.
#[derive(Debug, Clone)]
enum Tree {
    Leaf(usize, Op, i64),
    And(Box<Tree>, Box<Tree>),
    Or(Box<Tree>, Box<Tree>),
}

const OPS: [Op; 6] = [Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge];

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = (1usize..=3, 0usize..6, -3i64..40).prop_map(|(c, o, v)| Tree::Leaf(c, OPS[o], v));
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Tree::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Tree::Or(Box::new(a), Box::new(b))),
        ]
    })
}

/// Column 3 is a date: value v is 2025-01-01 plus v days.
fn date(v: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).expect("date") + chrono::Duration::days(v)
}

/// Written out with only the parentheses precedence needs, keywords in
/// random case.
fn render(t: &Tree, lower: bool) -> String {
    let (and, or) = if lower { ("and", "Or") } else { ("AND", "OR") };
    match t {
        Tree::Leaf(c, op, v) if *c == 3 => format!("{} {} {}", COLUMNS[*c], op.text(), date(*v)),
        Tree::Leaf(c, op, v) => format!("{} {} {v}", COLUMNS[*c], op.text()),
        Tree::And(a, b) => {
            let side = |x: &Tree| match x {
                Tree::Or(..) => format!("({})", render(x, lower)),
                _ => render(x, lower),
            };
            format!("{} {and} {}", side(a), side(b))
        }
        Tree::Or(a, b) => format!("{} {or} {}", render(a, lower), render(b, lower)),
    }
}

/// The reference: the tree itself, field by field.
fn reference(t: &Tree, row: &[Option<i64>; 4]) -> bool {
    match t {
        Tree::And(a, b) => reference(a, row) && reference(b, row),
        Tree::Or(a, b) => reference(a, row) || reference(b, row),
        Tree::Leaf(c, op, v) => match row[*c] {
            None => false,
            Some(field) => match op {
                Op::Eq => field == *v,
                Op::Ne => field != *v,
                Op::Lt => field < *v,
                Op::Le => field <= *v,
                Op::Gt => field > *v,
                Op::Ge => field >= *v,
            },
        },
    }
}

proptest! {
    #[test]
    fn the_evaluator_agrees_with_the_reference(
        t in tree(),
        lower in any::<bool>(),
        rows in prop::collection::vec(prop::array::uniform3(prop::option::of(-3i64..40)), 1..20),
    ) {
        let expr = parse(&render(&t, lower), &COLUMNS).expect("a rendered tree parses");
        for r in rows {
            let row = [None, r[0], r[1], r[2]];
            let text: Vec<String> = (0..5)
                .map(|c| match (c, row.get(c).copied().flatten()) {
                    (3, Some(v)) => date(v).to_string(),
                    (_, Some(v)) => v.to_string(),
                    (_, None) => String::new(),
                })
                .collect();
            let fields: Vec<&str> = text.iter().map(String::as_str).collect();
            prop_assert_eq!(expr.matches(&fields), reference(&t, &row), "{}", render(&t, lower));
        }
    }
}
