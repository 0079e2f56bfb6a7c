//! Billing exports to daily spend series, for `burnguard spend`: CSV rows are fed in chunks of
//! bytes (a row may span two chunks, and a quoted field may hold commas and newlines), each
//! row's usage date, cost and grouping columns are read, and its cost is added to its group's
//! day. Memory is one float a group a day, flat in the export's length.
//!
//! The columns come from a preset (AWS CUR and CUR 2.0, GCP, Azure, FOCUS; detected from the
//! header when none is given) or are named. The day is the date as written (exports write
//! UTC): `2025-12-01…`, Azure's `12/01/2025`, or Unix seconds. Costs are summed as written,
//! credits and refunds (negative costs) included. A row that does not parse is skipped and
//! counted, and the first few are kept with their line numbers (or, strict, it is an error).

mod layout;

use std::collections::HashMap;

use crate::error::Error;
use crate::logs::{days_from_civil, parse_timestamp, EXAMPLES};
pub use layout::{preset, ColumnChoice, Resolved, PRESETS};

/// The most days an export may span (ten years).
pub const MAX_SPAN_DAYS: i64 = 3660;
/// The longest row read, in bytes.
pub const MAX_ROW_BYTES: usize = 1 << 24;
/// Separates a composite group key's parts.
const KEY_SEPARATOR: u8 = 0x1f;

/// One group's daily sums, from its first day.
#[derive(Debug, Clone)]
struct Group {
    key: Box<[u8]>,
    first_day: i64,
    sums: Vec<f64>,
}

/// A billing export's spend, per group and day.
#[derive(Debug)]
pub struct DailySpend {
    choice: ColumnChoice,
    strict: bool,
    resolved: Option<Resolved>,
    /// The slot each column is read into: 0 the date, 1 the cost, 2.. the groups.
    slots: Vec<Option<usize>>,
    /// Slots read from each row: the date, the cost and the groups.
    slots_used: usize,
    carry: Vec<u8>,
    groups: Vec<Group>,
    index: HashMap<Box<[u8]>, usize>,
    last_group: Option<usize>,
    last_date: Vec<u8>,
    last_day: i64,
    /// The first day of any row, and the day after the last.
    first: i64,
    end: i64,
    key: Vec<u8>,
    line_number: u64,
    rows: u64,
    malformed: u64,
    examples: Vec<(u64, String)>,
}

impl DailySpend {
    /// Spend read by `choice`'s columns; `strict` fails at the first malformed row.
    pub fn new(choice: ColumnChoice, strict: bool) -> Self {
        DailySpend {
            choice,
            strict,
            resolved: None,
            slots: Vec::new(),
            slots_used: 2,
            carry: Vec::new(),
            groups: Vec::new(),
            index: HashMap::new(),
            last_group: None,
            last_date: Vec::new(),
            last_day: 0,
            first: 0,
            end: 0,
            key: Vec::new(),
            line_number: 0,
            rows: 0,
            malformed: 0,
            examples: Vec::new(),
        }
    }

    /// Feeds the next bytes of the export.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Error> {
        let mut rest = chunk;
        if !self.carry.is_empty() {
            let quoted = self.carry.iter().filter(|b| **b == b'"').count() % 2 == 1;
            match row_end(rest, quoted) {
                None => {
                    self.carry.extend_from_slice(rest);
                    return self.check_carry();
                }
                Some(end) => {
                    let mut row = std::mem::take(&mut self.carry);
                    row.extend_from_slice(&rest[..=end]);
                    let used = self.rows_of(&row)?;
                    debug_assert_eq!(used, row.len());
                    rest = &rest[end + 1..];
                }
            }
        }
        let used = self.rows_of(rest)?;
        self.carry.extend_from_slice(&rest[used..]);
        self.check_carry()
    }

    /// Reads the last row, if the export did not end with a newline.
    pub fn finish(&mut self) -> Result<(), Error> {
        let mut row = std::mem::take(&mut self.carry);
        if !row.is_empty() {
            row.push(b'\n');
            self.rows_of(&row)?;
        }
        Ok(())
    }

    /// The columns read, once the header is.
    pub fn resolved(&self) -> Option<&Resolved> {
        self.resolved.as_ref()
    }

    /// Rows added (the header and blank lines not counted).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows skipped as malformed.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// The first malformed rows, with their line numbers (from 1).
    pub fn examples(&self) -> &[(u64, String)] {
        &self.examples
    }

    /// The first day (days since 1970-01-01) and the number of days the export spans.
    pub fn span(&self) -> (i64, usize) {
        (self.first, (self.end - self.first) as usize)
    }

    /// Each group's key, one part per grouping column, in the order groups first appeared.
    pub fn keys(&self) -> Vec<Vec<String>> {
        self.groups
            .iter()
            .map(|g| match self.slots_used {
                2 => Vec::new(),
                _ => g
                    .key
                    .split(|b| *b == KEY_SEPARATOR)
                    .map(|part| String::from_utf8_lossy(part).into_owned())
                    .collect(),
            })
            .collect()
    }

    /// Spend per group and day over [`span`](Self::span), row-major: NaN before a group's
    /// first row, 0 on a later day without rows.
    pub fn matrix(&self) -> Vec<f64> {
        let (first, days) = self.span();
        let mut matrix = vec![f64::NAN; self.groups.len() * days];
        for (row, group) in matrix.chunks_mut(days.max(1)).zip(&self.groups) {
            let from = (group.first_day - first) as usize;
            row[from..from + group.sums.len()].copy_from_slice(&group.sums);
            row[from + group.sums.len()..].fill(0.0);
        }
        matrix
    }

    fn check_carry(&self) -> Result<(), Error> {
        if self.carry.len() > MAX_ROW_BYTES {
            return Err(Error::bad(
                "export",
                format!(
                    "line {} runs past {} MiB without ending: is it a CSV file?",
                    self.line_number + 1,
                    MAX_ROW_BYTES >> 20
                ),
                String::from_utf8_lossy(&self.carry[..80]),
            ));
        }
        Ok(())
    }

    /// Reads the whole rows at the start of `bytes`; returns how many bytes they took.
    fn rows_of(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        let mut at = 0;
        let mut fields = [(0usize, 0usize); 8];
        while at < bytes.len() {
            if self.resolved.is_none() {
                let Some(end) = row_end(&bytes[at..], false) else {
                    break;
                };
                let row = &bytes[at..at + end];
                self.line_number += 1 + newlines(row);
                at += end + 1;
                if !row.trim_ascii().is_empty() {
                    self.header(row)?;
                }
                continue;
            }
            let mut found = 0;
            let Some((end, lines)) = scan_row(&bytes[at..], &self.slots, &mut fields, &mut found)
            else {
                break;
            };
            let row = &bytes[at..at + end];
            let number = self.line_number + 1;
            self.line_number += lines;
            at += end + 1;
            if row.trim_ascii().is_empty() {
                continue;
            }
            if found != self.slots_used || self.add(row, &fields).is_none() {
                self.skip(number, row)?;
            } else {
                self.rows += 1;
            }
        }
        Ok(at)
    }

    fn header(&mut self, row: &[u8]) -> Result<(), Error> {
        let row = row.strip_suffix(b"\r").unwrap_or(row);
        let fields = split_row(row);
        let resolved = self.choice.resolve(&layout::header_names(&fields))?;
        if resolved.by.len() > 6 {
            return Err(Error::bad(
                "by",
                "takes at most 6 columns",
                resolved.by.len(),
            ));
        }
        let columns = [resolved.date.0, resolved.cost.0]
            .into_iter()
            .chain(resolved.by.iter().map(|(i, _)| *i));
        self.slots = vec![None; fields.len()];
        for (slot, column) in columns.enumerate() {
            if self.slots[column].is_some() {
                return Err(Error::bad(
                    "by",
                    "must not repeat the date, the cost or another grouping column",
                    fields_name(&resolved, column),
                ));
            }
            self.slots[column] = Some(slot);
        }
        self.slots_used = 2 + resolved.by.len();
        self.resolved = Some(resolved);
        Ok(())
    }

    /// Adds a row's cost to its group's day; `None` if a field does not parse.
    fn add(&mut self, row: &[u8], fields: &[(usize, usize)]) -> Option<()> {
        let field = |slot: usize| unquote(&row[fields[slot].0..fields[slot].1]);
        let date = field(0);
        let day = if date == self.last_date.as_slice() {
            self.last_day
        } else {
            let day = parse_day(date)?;
            self.last_date.clear();
            self.last_date.extend_from_slice(date);
            self.last_day = day;
            day
        };
        let cost: f64 = std::str::from_utf8(field(1)).ok()?.parse().ok()?;
        if !cost.is_finite() {
            return None;
        }
        self.key.clear();
        for slot in 2..self.slots_used {
            if slot > 2 {
                self.key.push(KEY_SEPARATOR);
            }
            push_unescaped(&mut self.key, field(slot));
        }
        if !self.within_span(day) {
            return None;
        }
        let group = match self.last_group {
            Some(g) if *self.groups[g].key == *self.key => g,
            _ => self.group_of_key(day),
        };
        self.last_group = Some(group);
        self.add_to(group, day, cost);
        Some(())
    }

    fn group_of_key(&mut self, day: i64) -> usize {
        if let Some(&g) = self.index.get(self.key.as_slice()) {
            return g;
        }
        let key: Box<[u8]> = self.key.as_slice().into();
        self.index.insert(key.clone(), self.groups.len());
        self.groups.push(Group {
            key,
            first_day: day,
            sums: Vec::new(),
        });
        self.groups.len() - 1
    }

    /// Whether a row on `day` keeps the export's span within [`MAX_SPAN_DAYS`].
    fn within_span(&self, day: i64) -> bool {
        self.groups.is_empty() || self.end.max(day + 1) - self.first.min(day) <= MAX_SPAN_DAYS
    }

    fn add_to(&mut self, group: usize, day: i64, cost: f64) {
        if self.rows == 0 {
            (self.first, self.end) = (day, day + 1);
        }
        (self.first, self.end) = (self.first.min(day), self.end.max(day + 1));
        let g = &mut self.groups[group];
        if g.sums.is_empty() {
            g.first_day = day;
        }
        if day < g.first_day {
            let missing = (g.first_day - day) as usize;
            g.sums.splice(0..0, std::iter::repeat_n(0.0, missing));
            g.first_day = day;
        }
        let index = (day - g.first_day) as usize;
        if index >= g.sums.len() {
            g.sums.resize(index + 1, 0.0);
        }
        g.sums[index] += cost;
    }

    fn skip(&mut self, number: u64, row: &[u8]) -> Result<(), Error> {
        let row = row.strip_suffix(b"\r").unwrap_or(row);
        let text = String::from_utf8_lossy(&row[..row.len().min(200)]).into_owned();
        if self.strict {
            return Err(Error::bad(
                "export",
                format!("line {number} is malformed"),
                text,
            ));
        }
        self.malformed += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push((number, text));
        }
        Ok(())
    }
}

fn fields_name(resolved: &Resolved, column: usize) -> String {
    std::iter::once(&resolved.date)
        .chain(std::iter::once(&resolved.cost))
        .chain(&resolved.by)
        .find(|(i, _)| *i == column)
        .map(|(_, name)| name.clone())
        .unwrap_or_default()
}

/// Where the row starting `bytes` ends: the index of its newline outside quotes (`quoted`: the
/// row starts inside a quoted field).
fn row_end(bytes: &[u8], mut quoted: bool) -> Option<usize> {
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

/// Scans the row starting `bytes`, from delimiter to delimiter: each column with a slot has its
/// field's range written to `fields[slot]` (`found` counts them). Returns the index of the
/// row's newline and the lines it took, or `None` if `bytes` ends first.
fn scan_row(
    bytes: &[u8],
    slots: &[Option<usize>],
    fields: &mut [(usize, usize)],
    found: &mut usize,
) -> Option<(usize, u64)> {
    let (mut column, mut start, mut quoted, mut lines) = (0, 0, false, 1);
    let mut keep = |column: usize, start: usize, end: usize| {
        if let Some(Some(slot)) = slots.get(column) {
            fields[*slot] = (start, end);
            *found += 1;
        }
    };
    let mut at = 0;
    loop {
        let i = next_delimiter(bytes, at)?;
        at = i + 1;
        match (bytes[i], quoted) {
            (b'"', _) => quoted = !quoted,
            (b'\n', true) => lines += 1,
            (_, true) => {}
            (b',', false) => {
                keep(column, start, i);
                column += 1;
                start = i + 1;
            }
            (_, false) => {
                let end = if i > start && bytes[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                };
                keep(column, start, end);
                return Some((i, lines));
            }
        }
    }
}

/// The index of the first `,`, `"` or newline in `bytes` from `from`, eight bytes at a time.
fn next_delimiter(bytes: &[u8], from: usize) -> Option<usize> {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // The high bit of each zero byte of `x`, exactly (no borrow runs between bytes).
    let zero_bytes = |x: u64| !((((x & LOW7) + LOW7) | x) | LOW7);
    let mut i = from;
    while let Some(word) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let hits = zero_bytes(word ^ (ONES * u64::from(b',')))
            | zero_bytes(word ^ (ONES * u64::from(b'"')))
            | zero_bytes(word ^ (ONES * u64::from(b'\n')));
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let rest = bytes.get(i..)?;
    rest.iter()
        .position(|b| matches!(b, b',' | b'"' | b'\n'))
        .map(|p| i + p)
}

/// A row's fields, unquoted (`""` inside a quoted field left as is).
fn split_row(row: &[u8]) -> Vec<&[u8]> {
    let mut fields = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, b) in row.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                fields.push(unquote(&row[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    fields.push(unquote(&row[start..]));
    fields
}

fn unquote(field: &[u8]) -> &[u8] {
    let field = field.trim_ascii();
    match field {
        [b'"', inner @ .., b'"'] => inner,
        _ => field,
    }
}

/// Appends a quoted field's text with its `""` escapes undone.
fn push_unescaped(out: &mut Vec<u8>, field: &[u8]) {
    let mut rest = field;
    while let Some(i) = rest.windows(2).position(|w| w == b"\"\"") {
        out.extend_from_slice(&rest[..=i]);
        rest = &rest[i + 2..];
    }
    out.extend_from_slice(rest);
}

fn number(text: &[u8]) -> Option<i64> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

fn civil_day(year: i64, month: i64, day: i64) -> Option<i64> {
    const DAYS: [i64; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= DAYS[(month - 1).clamp(0, 11) as usize] - i64::from(month == 2 && !leap);
    valid.then(|| days_from_civil(year, month, day))
}

/// The day (since 1970-01-01) of a usage date: `YYYY-MM-DD` and anything after it, Azure's
/// `MM/DD/YYYY`, or Unix seconds.
pub fn parse_day(text: &[u8]) -> Option<i64> {
    let text = text.trim_ascii();
    let ten = text.len() == 10
        || text
            .get(10)
            .is_some_and(|b| matches!(b, b'T' | b't' | b' '));
    match text {
        _ if ten && text[4] == b'-' && text[7] == b'-' => civil_day(
            number(&text[..4])?,
            number(&text[5..7])?,
            number(&text[8..10])?,
        ),
        _ if ten && text[2] == b'/' && text[5] == b'/' => civil_day(
            number(&text[6..10])?,
            number(&text[..2])?,
            number(&text[3..5])?,
        ),
        _ => {
            let seconds = parse_timestamp(text)?;
            Some((seconds / 86_400.0).floor() as i64)
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
