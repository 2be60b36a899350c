//! A k-way merge of sorted sources that are read a chunk at a time: the
//! output writer puts the accounts of every score job (and the rejects of
//! every ingest job) back in order while holding one chunk per source, so
//! its memory follows the number of sources, not the size of the run.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// One sorted source: its chunks, in order, each loaded when reached.
pub struct Source<C> {
    /// The chunks still to load.
    chunks: VecDeque<C>,
}

impl<C> Source<C> {
    /// A source whose items are the items of `chunks`, in order.
    pub fn new(chunks: impl IntoIterator<Item = C>) -> Source<C> {
        Source {
            chunks: chunks.into_iter().collect(),
        }
    }
}

/// A source being read: the rest of its current chunk and its chunks to come.
struct Cursor<C, T> {
    source: Source<C>,
    items: std::vec::IntoIter<T>,
}

impl<C, T> Cursor<C, T> {
    /// The next item, loading chunks until one has an item.
    fn next<E>(&mut self, load: &mut impl FnMut(C) -> Result<Vec<T>, E>) -> Result<Option<T>, E> {
        loop {
            if let Some(item) = self.items.next() {
                return Ok(Some(item));
            }
            match self.source.chunks.pop_front() {
                Some(chunk) => self.items = load(chunk)?.into_iter(),
                None => return Ok(None),
            }
        }
    }
}

/// Why the merge stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum MergeError<E> {
    /// Loading a chunk or emitting an item failed.
    Failed(E),
    /// A source's items were not in order (a producer's bug): merging them
    /// would write an unsorted output.
    Unsorted {
        /// The source, by its index.
        source: usize,
    },
}

impl<E> From<E> for MergeError<E> {
    fn from(e: E) -> MergeError<E> {
        MergeError::Failed(e)
    }
}

/// Emits every item of `sources` in ascending order. `load` turns a chunk
/// into its items (sorted); a source whose next item sorts before the one
/// it gave last is an error. Equal items of different sources come out in
/// source order.
pub fn merge_sorted<C, T: Ord, E>(
    sources: Vec<Source<C>>,
    mut load: impl FnMut(C) -> Result<Vec<T>, E>,
    mut emit: impl FnMut(T) -> Result<(), E>,
) -> Result<(), MergeError<E>> {
    let mut cursors: Vec<Cursor<C, T>> = sources
        .into_iter()
        .map(|source| Cursor {
            source,
            items: Vec::new().into_iter(),
        })
        .collect();
    let mut heap = BinaryHeap::with_capacity(cursors.len());
    for (i, cursor) in cursors.iter_mut().enumerate() {
        if let Some(item) = cursor.next(&mut load)? {
            heap.push(Reverse((item, i)));
        }
    }
    while let Some(Reverse((item, i))) = heap.pop() {
        let next = cursors[i].next(&mut load)?;
        if let Some(next) = next {
            if next < item {
                return Err(MergeError::Unsorted { source: i });
            }
            heap.push(Reverse((next, i)));
        }
        emit(item)?;
    }
    Ok(())
}

/// Cuts `items` into chunks whose `size` adds up to at most `max` each
/// (an item larger than `max` is a chunk of its own); always at least one
/// chunk, so a producer with nothing still hands over what it counted.
pub fn chunks_of<T>(items: Vec<T>, max: usize, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut chunks = vec![Vec::new()];
    let mut filled = 0;
    for item in items {
        let n = size(&item);
        let current = chunks.last().map_or(0, Vec::len);
        if current > 0 && filled + n > max {
            chunks.push(Vec::new());
            filled = 0;
        }
        filled += n;
        if let Some(chunk) = chunks.last_mut() {
            chunk.push(item);
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn merged(sources: Vec<Vec<Vec<u32>>>) -> Result<(Vec<u32>, usize), MergeError<String>> {
        let mut out = Vec::new();
        let mut loads = 0;
        merge_sorted(
            sources.into_iter().map(Source::new).collect(),
            |chunk: Vec<u32>| {
                loads += 1;
                Ok(chunk)
            },
            |x| {
                out.push(x);
                Ok(())
            },
        )?;
        Ok((out, loads))
    }

    proptest! {
        #[test]
        fn the_merge_is_the_sorted_union_of_its_sources(
            lists in proptest::collection::vec(proptest::collection::vec(0u32..1000, 0..40), 0..8),
            max in 1usize..10,
        ) {
            let mut expected: Vec<u32> = lists.iter().flatten().copied().collect();
            expected.sort_unstable();
            let sources: Vec<Vec<Vec<u32>>> = lists
                .into_iter()
                .map(|mut l| {
                    l.sort_unstable();
                    chunks_of(l, max, |_| 1)
                })
                .collect();
            let chunks: usize = sources.iter().map(Vec::len).sum();
            let (out, loads) = merged(sources).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            prop_assert_eq!(out, expected);
            prop_assert_eq!(loads, chunks);
        }
    }

    #[test]
    fn an_unsorted_source_is_an_error_not_an_unsorted_output() {
        let err = merged(vec![vec![vec![1, 5]], vec![vec![2], vec![1]]]).expect_err("unsorted");
        assert_eq!(err, MergeError::Unsorted { source: 1 });
    }

    #[test]
    fn a_failed_load_stops_the_merge() {
        let err = merge_sorted(
            vec![Source::new([1u32])],
            |_| Err::<Vec<u32>, _>("gone"),
            |_| Ok(()),
        )
        .expect_err("load failed");
        assert_eq!(err, MergeError::Failed("gone"));
    }

    #[test]
    fn chunks_respect_their_size_and_keep_order() {
        let chunks = chunks_of(vec![3, 3, 3, 9, 1], 6, |x| *x);
        assert_eq!(chunks, [vec![3, 3], vec![3], vec![9], vec![1]]);
        assert_eq!(chunks_of(Vec::<u8>::new(), 6, |_| 1), [Vec::<u8>::new()]);
    }
}
