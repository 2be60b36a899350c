//! Why a row's EngagementScore is what it is (ENGAGEMENT.md §5), from the
//! rows of its level and period: each feature's value, how many rows of
//! the group it beats and ties, its mid-rank percentile and its weight.
//! The parts add up to the score by the spec's own integer formula, so
//! the explanation is checked against the score the run wrote.

use crate::results::ResultRow;
use crate::score::{features_of, FEATURES, NUM_FEATURES};

/// One feature's part in a score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeaturePart {
    /// The feature's name.
    pub name: &'static str,
    /// The row's value.
    pub value: i64,
    /// Rows of the group with a lower value.
    pub less: u64,
    /// Rows of the group with the same value (the row itself included).
    pub equal: u64,
    /// The feature's weight.
    pub weight: u32,
}

impl FeaturePart {
    /// The mid-rank percentile, `(2·less + equal) / (2·N)`, in
    /// hundredths of a percent (rounded down), for display.
    pub fn percentile_basis_points(&self, n: u64) -> u64 {
        (2 * self.less + self.equal) * 10_000 / (2 * n)
    }

    /// The feature's numerator term, `weight × (2·less + equal)`.
    pub fn term(&self) -> u64 {
        u64::from(self.weight) * (2 * self.less + self.equal)
    }
}

/// A score, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// Rows in the group (N).
    pub n: u64,
    /// The five features, in weight order.
    pub parts: Vec<FeaturePart>,
    /// `Σ weight × (2·less + equal)`.
    pub num: u64,
    /// `(num + N) div (2·N)`.
    pub score: u32,
}

/// The five feature values of a written row; higher is better.
pub fn feature_values(row: &ResultRow) -> [i64; NUM_FEATURES] {
    features_of(row.counts, row.days_since_email, row.days_since_meeting)
}

/// Explains `row`'s score against `group` (every row of its level and
/// period, `row` among them) with the run's `weights`.
pub fn explain<'a>(
    row: &ResultRow,
    group: impl IntoIterator<Item = &'a ResultRow>,
    weights: [u32; NUM_FEATURES],
) -> Explanation {
    let mine = feature_values(row);
    let mut less = [0u64; NUM_FEATURES];
    let mut equal = [0u64; NUM_FEATURES];
    let mut n = 0;
    for other in group {
        n += 1;
        for (f, v) in feature_values(other).into_iter().enumerate() {
            less[f] += u64::from(v < mine[f]);
            equal[f] += u64::from(v == mine[f]);
        }
    }
    let parts: Vec<FeaturePart> = (0..NUM_FEATURES)
        .map(|f| FeaturePart {
            name: FEATURES[f],
            value: mine[f],
            less: less[f],
            equal: equal[f],
            weight: weights[f],
        })
        .collect();
    let num = parts.iter().map(FeaturePart::term).sum();
    let score = if n == 0 {
        0
    } else {
        ((num + n) / (2 * n)) as u32
    };
    Explanation {
        n,
        parts,
        num,
        score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{read_results, stockholm_example};
    use crate::score::DEFAULT_WEIGHTS;

    #[test]
    fn every_written_score_is_explained_exactly() {
        let rows = read_results(stockholm_example().as_bytes()).expect("reads");
        for row in &rows {
            let group = rows
                .iter()
                .filter(|r| r.level == row.level && r.start == row.start);
            let e = explain(row, group, DEFAULT_WEIGHTS);
            assert_eq!(e.score, row.score, "{row:?}");
            assert!(e
                .parts
                .iter()
                .all(|p| p.equal >= 1 && p.less + p.equal <= e.n));
        }
    }

    #[test]
    fn an_account_alone_scores_50() {
        let row = read_results(stockholm_example().as_bytes())
            .expect("reads")
            .remove(0);
        let e = explain(&row, [&row], DEFAULT_WEIGHTS);
        assert_eq!((e.n, e.score), (1, 50));
        assert_eq!(e.parts[0].percentile_basis_points(1), 5_000);
    }
}
