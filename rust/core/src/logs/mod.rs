//! Access logs to per-step event counts, for backtests of alert policies: lines are fed in
//! chunks of bytes (a line may span two chunks), each is parsed, classified as good or bad,
//! and counted in the step of its timestamp. Memory is one pair of counters a step, flat in
//! the log's length.
//!
//! Formats: CSV with a header row (a timestamp column, a status or ok column, optionally a
//! latency column in seconds), and the combined log format of nginx and Apache with the
//! request time (seconds) as the last field. A line that does not parse is skipped and
//! counted, and the first few are kept with their line numbers (or, strict, it is an error).

mod time;

use crate::error::Error;
pub use time::{days_from_civil, parse_clf_time, parse_timestamp};

/// The most steps a log may span (at one-minute steps, 19 years).
pub const MAX_SPAN_STEPS: i64 = 10_000_000;
/// Malformed lines kept as examples.
pub const EXAMPLES: usize = 5;

/// How lines are laid out.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// CSV: the header names the columns; `None` picks the usual names.
    Csv {
        /// The timestamp column (default: `timestamp`, `time`, `ts` or `date`).
        timestamp: Option<String>,
        /// The HTTP status column (default: `status`, `code` or `status_code`).
        status: Option<String>,
        /// A boolean success column (default: `ok` or `success`), used when there is no status.
        ok: Option<String>,
        /// The latency column in seconds (default: `latency`, `duration`, `request_time`).
        latency: Option<String>,
    },
    /// nginx/Apache combined format, request time in seconds last.
    Combined,
}

/// How events are classified and counted.
#[derive(Debug, Clone, PartialEq)]
pub struct LogOptions {
    /// One step of the counts, in seconds.
    pub step_seconds: f64,
    /// A request slower than this (seconds) is bad: a latency SLO.
    pub latency_threshold: Option<f64>,
    /// Statuses from this one up are bad (default 500).
    pub error_status: u16,
    /// Fail at the first malformed line instead of skipping it.
    pub strict: bool,
}

/// Column positions of a CSV once its header is read.
#[derive(Debug, Clone, Copy)]
struct Columns {
    timestamp: usize,
    status: Option<usize>,
    ok: Option<usize>,
    latency: Option<usize>,
}

/// A line's event: when, and whether it was good.
struct Event {
    at: f64,
    bad: bool,
}

/// Counts of an access log, step by step.
#[derive(Debug)]
pub struct LogCounts {
    layout: Layout,
    options: LogOptions,
    columns: Option<Columns>,
    carry: Vec<u8>,
    /// The step index of `bad[0]` and `total[0]`.
    first_step: i64,
    bad: Vec<u64>,
    total: Vec<u64>,
    line_number: u64,
    lines: u64,
    malformed: u64,
    examples: Vec<(u64, String)>,
}

const TIMESTAMP_NAMES: [&str; 4] = ["timestamp", "time", "ts", "date"];
const STATUS_NAMES: [&str; 3] = ["status", "code", "status_code"];
const OK_NAMES: [&str; 2] = ["ok", "success"];
const LATENCY_NAMES: [&str; 5] = [
    "latency",
    "duration",
    "request_time",
    "latency_seconds",
    "duration_seconds",
];

impl LogCounts {
    /// Counts for lines of `layout`, classified and stepped by `options`.
    pub fn new(layout: Layout, options: LogOptions) -> Result<Self, Error> {
        if !(options.step_seconds.is_finite() && options.step_seconds >= 1.0) {
            return Err(Error::bad(
                "step_seconds",
                "must be a finite number of seconds >= 1",
                options.step_seconds,
            ));
        }
        if let Some(threshold) = options.latency_threshold {
            if !(threshold.is_finite() && threshold > 0.0) {
                return Err(Error::bad(
                    "latency_threshold",
                    "must be a finite number of seconds > 0",
                    threshold,
                ));
            }
        }
        if !(100..=599).contains(&options.error_status) {
            return Err(Error::bad(
                "error_status",
                "must be an HTTP status in [100, 599]",
                options.error_status,
            ));
        }
        Ok(LogCounts {
            layout,
            options,
            columns: None,
            carry: Vec::new(),
            first_step: 0,
            bad: Vec::new(),
            total: Vec::new(),
            line_number: 0,
            lines: 0,
            malformed: 0,
            examples: Vec::new(),
        })
    }

    /// Feeds the next bytes of the log.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Error> {
        let mut rest = chunk;
        if !self.carry.is_empty() {
            match rest.iter().position(|b| *b == b'\n') {
                None => {
                    self.carry.extend_from_slice(rest);
                    return Ok(());
                }
                Some(end) => {
                    let mut line = std::mem::take(&mut self.carry);
                    line.extend_from_slice(&rest[..end]);
                    self.line(&line)?;
                    rest = &rest[end + 1..];
                }
            }
        }
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            self.line(&rest[..end])?;
            rest = &rest[end + 1..];
        }
        self.carry.extend_from_slice(rest);
        Ok(())
    }

    /// Counts the last line, if the log did not end with a newline.
    pub fn finish(&mut self) -> Result<(), Error> {
        let line = std::mem::take(&mut self.carry);
        if !line.is_empty() {
            self.line(&line)?;
        }
        Ok(())
    }

    /// Lines read (blank lines and a CSV's header not counted).
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Lines skipped as malformed.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// The first malformed lines, with their line numbers (from 1).
    pub fn examples(&self) -> &[(u64, String)] {
        &self.examples
    }

    /// The start of the first step (seconds since the epoch), and the bad and total events of
    /// each step from it.
    pub fn counts(&self) -> (f64, &[u64], &[u64]) {
        (
            self.first_step as f64 * self.options.step_seconds,
            &self.bad,
            &self.total,
        )
    }

    fn line(&mut self, raw: &[u8]) -> Result<(), Error> {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        self.line_number += 1;
        let number = self.line_number;
        if line.trim_ascii().is_empty() {
            return Ok(());
        }
        if let Layout::Csv { .. } = self.layout {
            if self.columns.is_none() {
                self.columns = Some(self.header(line)?);
                return Ok(());
            }
        }
        let parsed = match self.layout {
            Layout::Csv { .. } => self.csv_event(line),
            Layout::Combined => self.combined_event(line),
        };
        match parsed.and_then(|event| self.count(event)) {
            Some(()) => self.lines += 1,
            None => {
                let text = String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned();
                if self.options.strict {
                    return Err(Error::bad(
                        "log",
                        format!("line {number} is malformed"),
                        text,
                    ));
                }
                self.malformed += 1;
                if self.examples.len() < EXAMPLES {
                    self.examples.push((number, text));
                }
            }
        }
        Ok(())
    }

    fn header(&self, line: &[u8]) -> Result<Columns, Error> {
        let Layout::Csv {
            timestamp,
            status,
            ok,
            latency,
        } = &self.layout
        else {
            unreachable!("only CSV logs have a header")
        };
        let names: Vec<String> = split_csv(line)
            .into_iter()
            .map(|n| String::from_utf8_lossy(n).trim().to_ascii_lowercase())
            .collect();
        let find = |param: &'static str,
                    given: &Option<String>,
                    usual: &[&str]|
         -> Result<Option<usize>, Error> {
            match given {
                Some(name) => names
                    .iter()
                    .position(|n| *n == name.to_ascii_lowercase())
                    .map(Some)
                    .ok_or_else(|| {
                        Error::bad(
                            param,
                            format!("must name a column of the header ({})", names.join(", ")),
                            name,
                        )
                    }),
                None => Ok(usual.iter().find_map(|u| names.iter().position(|n| n == u))),
            }
        };
        let timestamp =
            find("timestamp_column", timestamp, &TIMESTAMP_NAMES)?.ok_or_else(|| {
                Error::bad(
                    "timestamp_column",
                    "found no timestamp column in the header",
                    names.join(","),
                )
            })?;
        let status = find("status_column", status, &STATUS_NAMES)?;
        let ok = find("ok_column", ok, &OK_NAMES)?;
        let latency = find("latency_column", latency, &LATENCY_NAMES)?;
        if status.is_none() && ok.is_none() && self.options.latency_threshold.is_none() {
            return Err(Error::bad(
                "status_column",
                "found no status or ok column in the header",
                names.join(","),
            ));
        }
        if latency.is_none() && self.options.latency_threshold.is_some() {
            return Err(Error::bad(
                "latency_column",
                "found no latency column for the latency threshold",
                names.join(","),
            ));
        }
        Ok(Columns {
            timestamp,
            status,
            ok,
            latency,
        })
    }

    fn csv_event(&self, line: &[u8]) -> Option<Event> {
        let columns = self.columns?;
        let fields = split_csv(line);
        let field = |i: usize| fields.get(i).map(|f| f.trim_ascii());
        let at = parse_timestamp(field(columns.timestamp)?)?;
        let status = match columns.status {
            Some(i) => Some(parse_status(field(i)?)?),
            None => None,
        };
        let ok = match (status, columns.ok) {
            (None, Some(i)) => Some(parse_bool(field(i)?)?),
            _ => None,
        };
        let latency = match columns.latency {
            Some(i) if self.options.latency_threshold.is_some() => Some(parse_seconds(field(i)?)?),
            _ => None,
        };
        Some(Event {
            at,
            bad: self.is_bad(status, ok, latency),
        })
    }

    fn combined_event(&self, line: &[u8]) -> Option<Event> {
        let open = line.iter().position(|b| *b == b'[')?;
        let close = open + line[open..].iter().position(|b| *b == b']')?;
        let at = parse_clf_time(&line[open + 1..close])?;
        let rest = line[close + 1..].trim_ascii_start();
        let rest = skip_quoted(rest)?.trim_ascii_start();
        let (status, rest) =
            rest.split_at(rest.iter().position(|b| *b == b' ').unwrap_or(rest.len()));
        let status = parse_status(status)?;
        let latency = match self.options.latency_threshold {
            Some(_) => {
                let last = rest.trim_ascii_end().rsplit(|b| *b == b' ').next()?;
                Some(parse_seconds(last)?)
            }
            None => None,
        };
        Some(Event {
            at,
            bad: self.is_bad(Some(status), None, latency),
        })
    }

    fn is_bad(&self, status: Option<u16>, ok: Option<bool>, latency: Option<f64>) -> bool {
        let failed = status.is_some_and(|s| s >= self.options.error_status) || ok == Some(false);
        let slow = matches!((latency, self.options.latency_threshold), (Some(l), Some(t)) if l > t);
        failed || slow
    }

    fn count(&mut self, event: Event) -> Option<()> {
        let step = (event.at / self.options.step_seconds).floor() as i64;
        if self.total.is_empty() {
            self.first_step = step;
        }
        if step < self.first_step {
            let missing = (self.first_step - step) as usize;
            if self.total.len() as i64 + missing as i64 > MAX_SPAN_STEPS {
                return None;
            }
            self.bad.splice(0..0, std::iter::repeat_n(0, missing));
            self.total.splice(0..0, std::iter::repeat_n(0, missing));
            self.first_step = step;
        }
        let index = step - self.first_step;
        if index >= MAX_SPAN_STEPS {
            return None;
        }
        let index = index as usize;
        if index >= self.total.len() {
            self.bad.resize(index + 1, 0);
            self.total.resize(index + 1, 0);
        }
        self.total[index] += 1;
        self.bad[index] += u64::from(event.bad);
        Some(())
    }
}

/// A CSV line's fields, with `"quoted, fields"` (and `""` inside them) kept whole.
fn split_csv(line: &[u8]) -> Vec<&[u8]> {
    let mut fields = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, b) in line.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                fields.push(unquote(&line[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    fields.push(unquote(&line[start..]));
    fields
}

fn unquote(field: &[u8]) -> &[u8] {
    let field = field.trim_ascii();
    match field {
        [b'"', inner @ .., b'"'] => inner,
        _ => field,
    }
}

/// The rest of `text` after a leading `"quoted"` field (backslash escapes skipped).
fn skip_quoted(text: &[u8]) -> Option<&[u8]> {
    let mut i = 1;
    if text.first() != Some(&b'"') {
        return None;
    }
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return Some(&text[i + 1..]),
            _ => i += 1,
        }
    }
    None
}

fn parse_status(text: &[u8]) -> Option<u16> {
    let status: u16 = std::str::from_utf8(text).ok()?.parse().ok()?;
    (100..=599).contains(&status).then_some(status)
}

fn parse_bool(text: &[u8]) -> Option<bool> {
    match text.to_ascii_lowercase().as_slice() {
        b"true" | b"1" | b"yes" | b"ok" => Some(true),
        b"false" | b"0" | b"no" => Some(false),
        _ => None,
    }
}

fn parse_seconds(text: &[u8]) -> Option<f64> {
    let value: f64 = std::str::from_utf8(text).ok()?.parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some(value)
}

#[cfg(all(test, not(loom)))]
mod tests;
