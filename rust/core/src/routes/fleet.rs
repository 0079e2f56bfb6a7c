//! A route shared by a fleet through an outside store (Redis, `burnguard.redis.routes`).
//!
//! Recording stays local. A flush sends, per route, the slots (of every tier) and the totals
//! that changed since the last flush, with their *absolute* figures in this process; the store
//! keeps each writer's last figures and adds only the difference to the fleet's, so a batch
//! sent twice adds nothing the second time. Its reply brings back the fleet's slots that
//! changed since this reader's last, which [`RouteWindow::set_fleet_slot`] writes into a
//! mirror window that summaries read.
//!
//! Line formats (space-separated; `bins` is `i:count,i:count...`, possibly empty as `-`):
//! a slot is `slot tag requests errors bytes micros max_seconds bins`; the totals are
//! `by_class(6) errors bytes micros dropped circuit_open budget_denied first_micros
//! last_micros bins`.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;

use super::*;

/// What this process last sent of one route.
#[derive(Debug, Default)]
pub struct RouteOutbox {
    sent: Mutex<Sent>,
}

#[derive(Debug, Default)]
struct Sent {
    slots: HashMap<usize, SentSlot>,
    totals: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq)]
struct SentSlot {
    tag: u64,
    cells: [u64; 5],
    counts: Vec<u64>,
}

impl RouteOutbox {
    /// Forgets what was sent: the next batch sends every figure (after the store lost them).
    pub fn resend_all(&self) {
        *self.sent.lock().unwrap_or_else(|e| e.into_inner()) = Sent::default();
    }
}

/// Additive totals cells, in the totals line's order.
const TOTAL_CELLS: [usize; 12] = [
    CLASSES,
    CLASSES + 1,
    CLASSES + 2,
    CLASSES + 3,
    CLASSES + 4,
    CLASSES + 5,
    ERRORS_TOTAL,
    BYTES_TOTAL,
    MICROS_TOTAL,
    DROPPED,
    REJECTED,
    REJECTED + 1,
];

fn write_bins(out: &mut String, bins: impl Iterator<Item = (usize, u64)>) {
    let start = out.len();
    for (i, count) in bins {
        let _ = write!(
            out,
            "{}{i}:{count}",
            if out.len() > start { "," } else { "" }
        );
    }
    if out.len() == start {
        out.push('-');
    }
}

fn bad_line(line: &str) -> Error {
    Error::bad(
        "line",
        "is not a fleet route line",
        format_args!("{line:?}"),
    )
}

fn parse_bins(text: &str, buckets: usize, line: &str) -> Result<Vec<(usize, u64)>, Error> {
    if text == "-" {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|pair| {
            let (i, c) = pair.split_once(':').ok_or_else(|| bad_line(line))?;
            let i: usize = i.parse().map_err(|_| bad_line(line))?;
            let c: u64 = c.parse().map_err(|_| bad_line(line))?;
            if i < buckets {
                Ok((i, c))
            } else {
                Err(bad_line(line))
            }
        })
        .collect()
}

impl RouteWindow {
    /// Slots of every tier: the store keeps the fleet's figures of each.
    pub fn fleet_slots(&self) -> usize {
        self.slots
    }

    /// A slot's tag (its lap's, 0 for none), cells, max bits and sketch counts, read as a
    /// whole (None while it is being cleared, or if it changed while read).
    fn read_slot(&self, slot: usize) -> Option<SentSlot> {
        let header = self.header(slot);
        let tag = header[TAG].load(Ordering::Acquire);
        if tag == 0 || tag & CLEARING != 0 {
            return None;
        }
        let cells =
            [REQUESTS, ERRORS, BYTES, MICROS, MAX_BITS].map(|w| header[w].load(Ordering::Relaxed));
        let mut counts = Vec::with_capacity(self.mapping.buckets());
        for pair in self.slot_counts(slot) {
            let pair = pair.load(Ordering::Relaxed);
            counts.extend([pair & u64::from(u32::MAX), pair >> 32]);
        }
        counts.truncate(self.mapping.buckets());
        (header[TAG].fetch_add(0, Ordering::AcqRel) == tag).then_some(SentSlot {
            tag: tag >> 1,
            cells,
            counts,
        })
    }

    /// The lines of what changed since `outbox` last sent (see the module docs): the slots,
    /// each with the bins that changed (every bin of a slot on a new lap), and the totals
    /// line if they changed. Marks them sent.
    pub fn fleet_batch(&self, outbox: &RouteOutbox) -> (Vec<String>, Option<String>) {
        let mut sent = outbox.sent.lock().unwrap_or_else(|e| e.into_inner());
        let mut lines = Vec::new();
        for slot in 0..self.slots {
            let Some(now) = self.read_slot(slot) else {
                continue;
            };
            let before = sent.slots.get(&slot);
            if before == Some(&now) {
                continue;
            }
            let same_lap = before.filter(|b| b.tag == now.tag);
            let [n, e, b, u, max_bits] = now.cells;
            let mut line = format!(
                "{slot} {} {n} {e} {b} {u} {} ",
                now.tag,
                f64::from_bits(max_bits)
            );
            let changed = now
                .counts
                .iter()
                .enumerate()
                .filter(|&(i, &c)| same_lap.map_or(c != 0, |before| before.counts[i] != c));
            write_bins(&mut line, changed.map(|(i, &c)| (i, c)));
            lines.push(line);
            sent.slots.insert(slot, now);
        }
        let buckets = self.mapping.buckets();
        let mut totals: Vec<u64> = TOTAL_CELLS
            .iter()
            .map(|&c| self.cell(c).load(Ordering::Relaxed))
            .collect();
        let first = self.first_seen().map_or(0, |s| (s * 1e6) as u64);
        totals.extend([first, self.cell(LAST).load(Ordering::Relaxed)]);
        totals.extend(
            self.words[HISTOGRAM..HISTOGRAM + buckets]
                .iter()
                .map(|w| w.load(Ordering::Relaxed)),
        );
        let totals_line = (sent.totals != totals).then(|| {
            let cells = TOTAL_CELLS.len() + 2;
            let mut line = totals[..cells]
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            line.push(' ');
            let changed = totals[cells..].iter().enumerate().filter(|&(i, &c)| {
                sent.totals
                    .get(cells + i)
                    .map_or(c != 0, |&before| before != c)
            });
            write_bins(&mut line, changed.map(|(i, &c)| (i, c)));
            line
        });
        sent.totals = totals;
        (lines, totals_line)
    }

    /// Writes the fleet's figures of one slot (a slot line, every nonzero bin) into this
    /// mirror window. Readers skip the slot while it is written.
    pub fn set_fleet_slot(&self, line: &str) -> Result<(), Error> {
        let fields: Vec<&str> = line.split(' ').collect();
        let [slot, tag, n, e, b, u, max, bins] = fields[..] else {
            return Err(bad_line(line));
        };
        let int = |s: &str| s.parse::<u64>().map_err(|_| bad_line(line));
        let slot = usize::try_from(int(slot)?).map_err(|_| bad_line(line))?;
        let max: f64 = max.parse().map_err(|_| bad_line(line))?;
        if slot >= self.slots || !(0.0..=MAX_DURATION).contains(&max) {
            return Err(bad_line(line));
        }
        let tag = int(tag)?;
        let bins = parse_bins(bins, self.mapping.buckets(), line)?;
        let cells = [int(n)?, int(e)?, int(b)?, int(u)?];
        let header = self.header(slot);
        header[TAG].store(0, Ordering::Release);
        for (w, value) in [REQUESTS, ERRORS, BYTES, MICROS].into_iter().zip(cells) {
            header[w].store(value, Ordering::Relaxed);
        }
        header[MAX_BITS].store(max.to_bits(), Ordering::Relaxed);
        let counts = self.slot_counts(slot);
        for word in counts {
            word.store(0, Ordering::Relaxed);
        }
        for (i, c) in bins {
            let c = c.min(u64::from(u32::MAX));
            counts[i / 2].fetch_add(c << (i % 2 * 32), Ordering::Relaxed);
        }
        header[TAG].store(tag << 1, Ordering::Release);
        Ok(())
    }

    /// Writes the fleet's totals (a totals line, every nonzero bin) into this mirror window.
    pub fn set_fleet_totals(&self, line: &str) -> Result<(), Error> {
        let fields: Vec<&str> = line.split(' ').collect();
        let cells = TOTAL_CELLS.len() + 2;
        if fields.len() != cells + 1 {
            return Err(bad_line(line));
        }
        let values = fields[..cells]
            .iter()
            .map(|s| s.parse::<u64>().map_err(|_| bad_line(line)))
            .collect::<Result<Vec<_>, _>>()?;
        let buckets = self.mapping.buckets();
        let bins = parse_bins(fields[cells], buckets, line)?;
        for (&cell, &value) in TOTAL_CELLS.iter().zip(&values) {
            self.cell(cell).store(value, Ordering::Relaxed);
        }
        let (first, last) = (values[cells - 2], values[cells - 1]);
        self.cell(FIRST_INVERTED)
            .store(if first == 0 { 0 } else { !first }, Ordering::Relaxed);
        self.cell(LAST).store(last, Ordering::Relaxed);
        let histogram = &self.words[HISTOGRAM..HISTOGRAM + buckets];
        for word in histogram {
            word.store(0, Ordering::Relaxed);
        }
        for (i, c) in bins {
            histogram[i].store(c, Ordering::Relaxed);
        }
        Ok(())
    }
}
