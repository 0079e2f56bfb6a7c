//! Access logs to per-step event counts, for backtests of alert policies: lines are fed in
//! chunks of bytes (a line may span two chunks), each is parsed, classified as good or bad,
//! and counted in the step of its timestamp. Memory is one pair of counters a step, flat in
//! the log's length.
//!
//! Formats: CSV with a header row (a timestamp column, a status or ok column, optionally a
//! latency column), JSON lines (fields named by dotted paths, or by a server's preset), and
//! the combined log format of nginx and Apache with the request time as the last field
//! (seconds, or Apache's `%D` microseconds with a latency unit). A line that does not parse is skipped and
//! counted, and the first few are kept with their line numbers (or, strict, it is an error).

mod json;
mod time;

use crate::error::Error;
pub use json::{json_preset, JsonPreset, JSON_PRESETS};
pub use time::{civil_from_days, days_from_civil, parse_clf_time, parse_timestamp};

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
    /// JSON lines: fields named by dotted paths; `None` picks the preset's, or the usual names.
    Json {
        /// The server whose fields to read (`None`: detected from the first line).
        preset: Option<JsonPreset>,
        /// The timestamp field.
        timestamp: Option<String>,
        /// The HTTP status field.
        status: Option<String>,
        /// A boolean success field.
        ok: Option<String>,
        /// The latency field.
        latency: Option<String>,
    },
    /// nginx/Apache combined format, request time last.
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
    /// Seconds per unit of a latency written as a bare number (`None`: a JSON preset's, or 1).
    pub latency_unit: Option<f64>,
}

/// Column positions of a CSV once its header is read.
#[derive(Debug, Clone, Copy)]
struct Columns {
    timestamp: usize,
    status: Option<usize>,
    ok: Option<usize>,
    latency: Option<usize>,
}

/// The paths (segments) of a JSON log's timestamp, status, ok and latency fields.
#[derive(Debug, Clone)]
struct JsonFields {
    paths: [Option<Vec<Vec<u8>>>; 4],
    latency_unit: f64,
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
    json: Option<JsonFields>,
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
        if let Some(unit) = options.latency_unit {
            if !(unit.is_finite() && unit > 0.0) {
                return Err(Error::bad(
                    "latency_unit",
                    "must be a finite number of seconds > 0",
                    unit,
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
            json: None,
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
        if let Layout::Json { .. } = self.layout {
            if self.json.is_none() {
                // The first object names the fields; a line that is none is malformed.
                if let Some(paths) = json::paths(line) {
                    self.json = Some(self.json_fields(&paths)?);
                }
            }
        }
        let parsed = match self.layout {
            Layout::Csv { .. } => self.csv_event(line),
            Layout::Json { .. } => self.json_event(line),
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
            .map(|n| String::from_utf8_lossy(n).trim().to_string())
            .collect();
        let given = [timestamp, status, ok, latency];
        let [timestamp, status, ok, latency] = self.resolve(
            &names,
            given,
            None,
            ("a column of the header", "the header"),
        )?;
        Ok(Columns {
            timestamp: timestamp.expect("resolved"),
            status,
            ok,
            latency,
        })
    }

    fn json_fields(&self, paths: &[String]) -> Result<JsonFields, Error> {
        let Layout::Json {
            preset,
            timestamp,
            status,
            ok,
            latency,
        } = &self.layout
        else {
            unreachable!("only JSON logs have fields")
        };
        let has = |names: &[&str]| {
            names
                .iter()
                .any(|n| paths.iter().any(|p| p.eq_ignore_ascii_case(n)))
        };
        let preset = preset.or_else(|| {
            JSON_PRESETS
                .iter()
                .find(|p| has(p.timestamp) && has(p.status))
                .copied()
        });
        let given = [timestamp, status, ok, latency];
        let where_ = ("a field of the first line", "the first line");
        let found = self.resolve(paths, given, preset, where_)?;
        Ok(JsonFields {
            paths: found
                .map(|i| i.map(|i| paths[i].split('.').map(|s| s.as_bytes().to_vec()).collect())),
            latency_unit: self
                .options
                .latency_unit
                .or(preset.map(|p| p.latency_unit))
                .unwrap_or(1.0),
        })
    }

    /// The positions in `names` of the timestamp, status, ok and latency fields: as `given`,
    /// else the preset's, else the usual names.
    fn resolve(
        &self,
        names: &[String],
        given: [&Option<String>; 4],
        preset: Option<JsonPreset>,
        (what, source): (&str, &str),
    ) -> Result<[Option<usize>; 4], Error> {
        let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        let position = |name: &str| lower.iter().position(|n| *n == name.to_ascii_lowercase());
        let listed = || names.join(", ");
        let params = [
            "timestamp_column",
            "status_column",
            "ok_column",
            "latency_column",
        ];
        let usual: [&[&str]; 4] = [&TIMESTAMP_NAMES, &STATUS_NAMES, &OK_NAMES, &LATENCY_NAMES];
        let of_preset: [&[&str]; 4] = match preset {
            Some(p) => [p.timestamp, p.status, &[], p.latency],
            None => [&[], &[], &[], &[]],
        };
        let mut found = [None; 4];
        for role in 0..4 {
            found[role] = match given[role] {
                Some(name) => Some(position(name).ok_or_else(|| {
                    Error::bad(
                        params[role],
                        format!("must name {what} ({})", listed()),
                        name,
                    )
                })?),
                None => of_preset[role]
                    .iter()
                    .chain(usual[role])
                    .find_map(|n| position(n)),
            };
        }
        let [timestamp, status, ok, latency] = found;
        if timestamp.is_none() {
            return Err(Error::bad(
                params[0],
                format!("found no timestamp column in {source}"),
                listed(),
            ));
        }
        if status.is_none() && ok.is_none() && self.options.latency_threshold.is_none() {
            return Err(Error::bad(
                params[1],
                format!("found no status or ok column in {source}"),
                listed(),
            ));
        }
        if latency.is_none() && self.options.latency_threshold.is_some() {
            return Err(Error::bad(
                params[3],
                format!("found no latency column for the latency threshold in {source}"),
                listed(),
            ));
        }
        Ok(found)
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
            Some(i) if self.options.latency_threshold.is_some() => {
                Some(parse_seconds(field(i)?)? * self.options.latency_unit.unwrap_or(1.0))
            }
            _ => None,
        };
        Some(Event {
            at,
            bad: self.is_bad(status, ok, latency),
        })
    }

    fn json_event(&self, line: &[u8]) -> Option<Event> {
        let fields = self.json.as_ref()?;
        let mut values: [Option<&[u8]>; 4] = [None; 4];
        json::walk(line, &mut |path, value| {
            for (slot, wanted) in fields.paths.iter().enumerate() {
                if let Some(wanted) = wanted {
                    let same = wanted.len() == path.len()
                        && wanted
                            .iter()
                            .zip(path)
                            .all(|(w, p)| w.eq_ignore_ascii_case(p));
                    if same {
                        values[slot] = Some(value);
                    }
                }
            }
        })?;
        let [timestamp, status, ok, latency] = values;
        let at = json::timestamp(timestamp?)?;
        let status = match fields.paths[1] {
            Some(_) => Some(parse_status(status?)?),
            None => None,
        };
        let ok = match (status, &fields.paths[2]) {
            (None, Some(_)) => Some(parse_bool(ok?)?),
            _ => None,
        };
        let latency = match (&fields.paths[3], self.options.latency_threshold) {
            (Some(_), Some(_)) => Some(json::latency(latency?, fields.latency_unit)?),
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
                Some(parse_seconds(last)? * self.options.latency_unit.unwrap_or(1.0))
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
