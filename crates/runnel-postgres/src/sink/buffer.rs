//! The reduction buffer of one target table: every change of a batch rendered to the text each
//! column takes, reduced to the last state of each primary key (an update after an insert is
//! one upsert; a delete after either is one delete), so a batch becomes one statement per table
//! and kind of change however many times a row changed. Values live in one byte arena; a row
//! is a run of cells into it: no allocation per row.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use hashbrown::HashTable;

/// One column's value in a buffered row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Null,
    /// Not written: the source did not send it (unchanged TOAST) or the column is left out.
    Omit,
    /// `arena[start..end]`.
    Text(u32, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOp {
    Upsert,
    Delete,
}

/// What the first change of a key in the buffer says about the row before it: a source's
/// insert means it was not there, an update or delete that it was. A row known to be new can be
/// written with a plain INSERT, one known to exist with an UPDATE (cheaper than an upsert).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    New,
    Existing,
    Unknown,
}

/// Buffered changes of one table.
pub struct TableBuffer {
    pub width: usize,
    pub arena: Vec<u8>,
    /// `width` cells per row.
    pub cells: Vec<Cell>,
    pub ops: Vec<RowOp>,
    /// Per row: what its first change said about the row before the buffer.
    pub origins: Vec<Origin>,
    /// Each row's key bytes in `keys` (rows of a keyless table have none).
    key_ranges: Vec<(u32, u32)>,
    keys: Vec<u8>,
    index: HashTable<u32>,
    hasher: RandomState,
    /// Columns of the primary key (empty: no key, every change is its own row).
    pub key_columns: Vec<usize>,
}

impl TableBuffer {
    pub fn new(width: usize, key_columns: Vec<usize>) -> Self {
        Self {
            width,
            arena: Vec::new(),
            cells: Vec::new(),
            ops: Vec::new(),
            origins: Vec::new(),
            key_ranges: Vec::new(),
            keys: Vec::new(),
            index: HashTable::new(),
            hasher: RandomState::new(),
            key_columns,
        }
    }

    pub fn rows(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn clear(&mut self) {
        self.arena.clear();
        self.cells.clear();
        self.ops.clear();
        self.origins.clear();
        self.key_ranges.clear();
        self.keys.clear();
        self.index.clear();
    }

    pub fn row(&self, i: usize) -> &[Cell] {
        &self.cells[i * self.width..(i + 1) * self.width]
    }

    pub fn text(&self, cell: Cell) -> Option<&[u8]> {
        match cell {
            Cell::Text(s, e) => Some(&self.arena[s as usize..e as usize]),
            _ => None,
        }
    }

    /// Starts a row: the caller pushes `width` cells with [`Self::push_text`] /
    /// [`Self::push_cell`], then calls [`Self::finish_row`].
    pub fn start_row(&mut self) -> usize {
        self.cells.len()
    }

    pub fn push_cell(&mut self, cell: Cell) {
        self.cells.push(cell);
    }

    /// Appends a text cell whose bytes `write` appends to the arena.
    pub fn push_text<E>(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = self.arena.len() as u32;
        write(&mut self.arena)?;
        self.cells.push(Cell::Text(start, self.arena.len() as u32));
        Ok(())
    }

    /// Drops a row started at `mark` (its value could not be written).
    pub fn abandon_row(&mut self, mark: usize) {
        self.cells.truncate(mark);
    }

    /// Ends the row started at `mark` as `op`, reducing it with an earlier row of its key
    /// (whose origin it keeps).
    pub fn finish_row(&mut self, mark: usize, op: RowOp, origin: Origin) {
        debug_assert_eq!(self.cells.len(), mark + self.width);
        if self.key_columns.is_empty() {
            self.ops.push(op);
            self.origins.push(origin);
            self.key_ranges.push((0, 0));
            return;
        }
        let key_start = self.keys.len();
        for &k in &self.key_columns {
            match self.cells[mark + k] {
                Cell::Text(s, e) => {
                    let len = (e - s) as usize;
                    self.keys.extend_from_slice(&(len as u32).to_le_bytes());
                    let (s, e) = (s as usize, e as usize);
                    let bytes = &self.arena[s..e];
                    self.keys.extend_from_slice(bytes);
                }
                _ => self.keys.extend_from_slice(&u32::MAX.to_le_bytes()),
            }
        }
        let key_end = self.keys.len();
        let mut h = self.hasher.build_hasher();
        h.write(&self.keys[key_start..key_end]);
        let hash = h.finish();
        let (keys, ranges) = (&self.keys, &self.key_ranges);
        let found = self.index.find(hash, |&i| {
            let (s, e) = ranges[i as usize];
            keys[s as usize..e as usize] == keys[key_start..key_end]
        });
        match found.copied() {
            Some(existing) => {
                // The same key again: the buffered row becomes this one. Cells this row omits
                // (unchanged TOAST) keep the earlier row's value, which is the newer state.
                self.keys.truncate(key_start);
                let existing = existing as usize;
                let old = existing * self.width;
                let earlier_upsert = self.ops[existing] == RowOp::Upsert;
                for c in 0..self.width {
                    let new = self.cells[mark + c];
                    if new != Cell::Omit || !earlier_upsert || op == RowOp::Delete {
                        self.cells[old + c] = new;
                    }
                }
                self.ops[existing] = op;
                self.cells.truncate(mark);
            }
            None => {
                let row = self.ops.len() as u32;
                self.ops.push(op);
                self.origins.push(origin);
                self.key_ranges.push((key_start as u32, key_end as u32));
                let (keys, ranges) = (&self.keys, &self.key_ranges);
                let hasher = &self.hasher;
                self.index.insert_unique(hash, row, |&i| {
                    let (s, e) = ranges[i as usize];
                    let mut h = hasher.build_hasher();
                    h.write(&keys[s as usize..e as usize]);
                    h.finish()
                });
            }
        }
    }

    /// Rows of one way of writing, grouped by which columns they leave out (one statement
    /// per group).
    pub fn groups(&self, write: Write) -> Vec<(Vec<bool>, Vec<u32>)> {
        let mut groups: Vec<(Vec<bool>, Vec<u32>)> = Vec::new();
        for i in (0..self.ops.len()).filter(|&i| self.write(i) == Some(write)) {
            let row = self.row(i);
            let omitted = |c: &Cell| *c == Cell::Omit;
            let mask_matches = |mask: &[bool]| row.iter().zip(mask).all(|(c, m)| omitted(c) == *m);
            match groups.iter_mut().find(|(mask, _)| mask_matches(mask)) {
                Some((_, rows)) => rows.push(i as u32),
                None => groups.push((row.iter().map(omitted).collect(), vec![i as u32])),
            }
        }
        groups
    }

    /// How row `i` is written (`None`: not at all, a row that came and went within the
    /// buffer).
    pub fn write(&self, i: usize) -> Option<Write> {
        Some(match (self.ops[i], self.origins[i]) {
            (RowOp::Upsert, Origin::New) => Write::Insert,
            (RowOp::Upsert, Origin::Existing) => Write::Update,
            (RowOp::Upsert, Origin::Unknown) => Write::Upsert,
            (RowOp::Delete, Origin::New) => return None,
            (RowOp::Delete, _) => Write::Delete,
        })
    }
}

/// The ways rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Write {
    Insert,
    Update,
    Upsert,
    Delete,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(b: &mut TableBuffer, cells: &[Option<&str>], op: RowOp) {
        let mark = b.start_row();
        for c in cells {
            match c {
                Some("~") => b.push_cell(Cell::Omit),
                Some(t) => b
                    .push_text::<()>(|out| {
                        out.extend_from_slice(t.as_bytes());
                        Ok(())
                    })
                    .unwrap(),
                None => b.push_cell(Cell::Null),
            }
        }
        b.finish_row(mark, op, Origin::Unknown);
    }

    fn texts(b: &TableBuffer, i: usize) -> Vec<Option<String>> {
        b.row(i)
            .iter()
            .map(|c| match c {
                Cell::Omit => Some("~".into()),
                c => b.text(*c).map(|t| String::from_utf8(t.to_vec()).unwrap()),
            })
            .collect()
    }

    #[test]
    fn the_last_change_of_a_key_wins_and_unchanged_values_keep_the_newer_state() {
        let mut b = TableBuffer::new(3, vec![0]);
        push(&mut b, &[Some("1"), Some("a"), Some("x")], RowOp::Upsert);
        push(&mut b, &[Some("2"), Some("b"), None], RowOp::Upsert);
        push(&mut b, &[Some("1"), Some("c"), Some("~")], RowOp::Upsert);
        push(&mut b, &[Some("2"), None, None], RowOp::Delete);
        push(&mut b, &[Some("3"), Some("d"), Some("y")], RowOp::Upsert);
        assert_eq!(b.rows(), 3);
        assert_eq!(
            texts(&b, 0),
            [Some("1".into()), Some("c".into()), Some("x".into())]
        );
        assert_eq!(b.ops, [RowOp::Upsert, RowOp::Delete, RowOp::Upsert]);
        // Deleted, then inserted again: an upsert of the new row.
        push(&mut b, &[Some("2"), Some("e"), Some("z")], RowOp::Upsert);
        assert_eq!(b.ops[1], RowOp::Upsert);
        assert_eq!(
            texts(&b, 1),
            [Some("2".into()), Some("e".into()), Some("z".into())]
        );
        assert_eq!(b.groups(Write::Upsert).len(), 1);
    }

    #[test]
    fn rows_leaving_out_columns_make_their_own_group() {
        let mut b = TableBuffer::new(2, vec![0]);
        push(&mut b, &[Some("1"), Some("~")], RowOp::Upsert);
        push(&mut b, &[Some("2"), Some("a")], RowOp::Upsert);
        push(&mut b, &[Some("3"), Some("~")], RowOp::Upsert);
        let groups = b.groups(Write::Upsert);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0], (vec![false, true], vec![0, 2]));
    }

    #[test]
    fn keyless_rows_are_kept_in_order() {
        let mut b = TableBuffer::new(1, vec![]);
        push(&mut b, &[Some("1")], RowOp::Upsert);
        push(&mut b, &[Some("1")], RowOp::Upsert);
        assert_eq!(b.rows(), 2);
    }
}

#[cfg(test)]
mod origin_tests {
    use super::*;

    fn row(b: &mut TableBuffer, key: &str, op: RowOp, origin: Origin) {
        let mark = b.start_row();
        b.push_text::<()>(|out| {
            out.extend_from_slice(key.as_bytes());
            Ok(())
        })
        .unwrap();
        b.finish_row(mark, op, origin);
    }

    #[test]
    fn the_first_change_of_a_key_decides_how_it_is_written() {
        let mut b = TableBuffer::new(1, vec![0]);
        row(&mut b, "1", RowOp::Upsert, Origin::New);
        row(&mut b, "1", RowOp::Upsert, Origin::Existing);
        row(&mut b, "2", RowOp::Upsert, Origin::Existing);
        row(&mut b, "3", RowOp::Upsert, Origin::New);
        row(&mut b, "3", RowOp::Delete, Origin::Existing);
        row(&mut b, "4", RowOp::Delete, Origin::Existing);
        row(&mut b, "4", RowOp::Upsert, Origin::New);
        let writes: Vec<_> = (0..b.rows()).map(|i| b.write(i)).collect();
        assert_eq!(
            writes,
            [
                Some(Write::Insert),
                Some(Write::Update),
                None,
                Some(Write::Update)
            ]
        );
    }
}
