//! Minimum, median and maximum of a figure measured once per run: the three
//! numbers the benchmark reports for everything it times (a mean would let
//! one run disturbed by a neighbour's load move the figure; the median does not).

/// Min, median and max of some samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The smallest sample.
    pub min: f64,
    /// The middle sample (the mean of the two middle ones for an even count).
    pub median: f64,
    /// The largest sample.
    pub max: f64,
    /// How many samples.
    pub n: usize,
}

impl Summary {
    /// The summary of `samples`; `None` when there are none (or one is NaN,
    /// which no measurement here produces, and which would make order meaningless).
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() || samples.iter().any(|s| s.is_nan()) {
            return None;
        }
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Summary {
            min: v[0],
            median,
            max: v[n - 1],
            n,
        })
    }

    /// min, median and max, each with `decimals` places: a table's three cells.
    pub fn cells(&self, decimals: usize) -> [String; 3] {
        [self.min, self.median, self.max].map(|v| format!("{v:.decimals$}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_count_takes_the_middle_sample() {
        let s = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max, s.n), (1.0, 2.0, 3.0, 3));
    }

    #[test]
    fn even_count_averages_the_two_middle_samples() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (1.0, 2.5, 4.0));
    }

    #[test]
    fn one_sample_is_all_three() {
        let s = Summary::of(&[7.25]).unwrap();
        assert_eq!((s.min, s.median, s.max), (7.25, 7.25, 7.25));
    }

    #[test]
    fn nothing_or_nan_has_no_summary() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn cells_are_min_median_max() {
        let s = Summary::of(&[1.0, 10.0, 2.0]).unwrap();
        assert_eq!(s.cells(1), ["1.0", "2.0", "10.0"]);
        assert_eq!(s.cells(0), ["1", "2", "10"]);
    }
}
