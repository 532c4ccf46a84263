//! The small-cell rule for every figure shown outside the team (public group view, public API,
//! the public tier of the letter): no shown cell, nor the difference of two shown cells,
//! singles out fewer than [`MIN_CELL`] people.

/// The smallest number of people a published figure may describe.
pub const MIN_CELL: i64 = 5;

/// Splits `cells` (each with the number of people it counts) into the ones that may be shown,
/// in their given order, and the number of people merged into one "other" cell — `None` when
/// that merged cell would itself be under [`MIN_CELL`] and so is left out. When the merged
/// cell would be too small, the smallest shown cells join it first (while more than one is
/// shown), so shown cells do not add up to a total that gives a small remainder away; the
/// last shown cell is never folded, so one rare value cannot hide everyone else's figure.
#[must_use]
pub fn merge_small_cells<T>(cells: Vec<(T, i64)>) -> (Vec<(T, i64)>, Option<i64>) {
    let mut kept: Vec<(usize, T, i64)> = Vec::new();
    let mut other = 0;
    for (i, (cell, n)) in cells.into_iter().enumerate() {
        if n >= MIN_CELL {
            kept.push((i, cell, n));
        } else {
            other += n;
        }
    }
    kept.sort_by_key(|(i, _, n)| (*n, *i));
    while other > 0 && other < MIN_CELL && kept.len() > 1 {
        other += kept.remove(0).2;
    }
    kept.sort_by_key(|(i, _, _)| *i);
    let shown = kept.into_iter().map(|(_, cell, n)| (cell, n)).collect();
    (shown, (other >= MIN_CELL).then_some(other))
}

#[cfg(test)]
mod tests {
    use super::merge_small_cells;

    #[test]
    fn cells_under_five_merge_and_a_small_other_takes_the_smallest_shown_cell() {
        let (shown, other) = merge_small_cells(vec![("a", 7), ("b", 2), ("c", 6)]);
        assert_eq!(shown, vec![("a", 7)]);
        assert_eq!(other, Some(8));
        let (shown, other) = merge_small_cells(vec![("a", 7), ("b", 2)]);
        assert_eq!(shown, vec![("a", 7)]);
        assert_eq!(other, None);
        let (shown, other) = merge_small_cells(vec![("a", 7), ("b", 5)]);
        assert_eq!(shown, vec![("a", 7), ("b", 5)]);
        assert_eq!(other, None);
        let (shown, other) = merge_small_cells(vec![("a", 3)]);
        assert!(shown.is_empty());
        assert_eq!(other, None);
        // The only shown cell stays: five in one currency are shown beside one in another.
        let (shown, other) = merge_small_cells(vec![("CNY", 5), ("USD", 1)]);
        assert_eq!(shown, vec![("CNY", 5)]);
        assert_eq!(other, None);
    }
}
