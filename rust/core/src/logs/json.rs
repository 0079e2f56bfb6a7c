//! JSON-lines access logs: one object a line, its fields named by dotted paths
//! (`httpRequest.status`), with presets for the servers that write them. The scanner reads
//! only what it needs: it walks the object once, handing each scalar and its path to the
//! caller, without building a tree.

use crate::error::Error;

/// The fields a server's JSON access log uses, and the unit its latency is in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JsonPreset {
    /// The name `preset` is given by.
    pub name: &'static str,
    pub(super) timestamp: &'static [&'static str],
    pub(super) status: &'static [&'static str],
    pub(super) latency: &'static [&'static str],
    /// Seconds per unit of a latency written as a bare number.
    pub(super) latency_unit: f64,
}

/// The presets, in the order a first line is matched against them.
pub const JSON_PRESETS: [JsonPreset; 5] = [
    // nginx with a `log_format ... escape=json` of its variables.
    JsonPreset {
        name: "nginx",
        timestamp: &["time_iso8601", "time_local", "msec", "time"],
        status: &["status"],
        latency: &["request_time"],
        latency_unit: 1.0,
    },
    // Caddy's structured access log.
    JsonPreset {
        name: "caddy",
        timestamp: &["ts"],
        status: &["status"],
        latency: &["duration"],
        latency_unit: 1.0,
    },
    // Traefik's access log in JSON (durations in nanoseconds).
    JsonPreset {
        name: "traefik",
        timestamp: &["StartUTC", "time"],
        status: &["DownstreamStatus"],
        latency: &["Duration"],
        latency_unit: 1e-9,
    },
    // Envoy's JSON access log format (`%START_TIME%`, `%RESPONSE_CODE%`, `%DURATION%` in ms).
    JsonPreset {
        name: "envoy",
        timestamp: &["start_time"],
        status: &["response_code"],
        latency: &["duration"],
        latency_unit: 1e-3,
    },
    // Google Cloud Logging's HttpRequest entries (load balancers, Cloud Run).
    JsonPreset {
        name: "gcp",
        timestamp: &["timestamp"],
        status: &["httpRequest.status"],
        latency: &["httpRequest.latency"],
        latency_unit: 1.0,
    },
];

/// The JSON preset named `name`.
pub fn json_preset(name: &str) -> Result<JsonPreset, Error> {
    JSON_PRESETS
        .iter()
        .find(|p| p.name == name)
        .copied()
        .ok_or_else(|| {
            Error::bad(
                "preset",
                "must be one of nginx, caddy, traefik, envoy, gcp",
                format!("{name:?}"),
            )
        })
}

/// Told each scalar's path and value.
type OnScalar<'a, 'f> = dyn FnMut(&[&'a [u8]], &'a [u8]) + 'f;

/// The deepest nesting walked; a deeper line is malformed.
const MAX_DEPTH: usize = 16;

/// Walks the JSON object `line`, calling `scalar(path, value)` for each string, number, true,
/// false or null (a string's value without its quotes, escapes as written). `None` if the line
/// is not one well-formed object.
pub(super) fn walk<'a>(line: &'a [u8], scalar: &mut OnScalar<'a, '_>) -> Option<()> {
    let mut scanner = Scanner { text: line, at: 0 };
    let mut path = [&b""[..]; MAX_DEPTH];
    scanner.space();
    scanner.object(&mut path, 0, scalar)?;
    scanner.space();
    (scanner.at == line.len()).then_some(())
}

/// Every scalar's dotted path in the object `line`, for detecting a preset.
pub(super) fn paths(line: &[u8]) -> Option<Vec<String>> {
    let mut found = Vec::new();
    walk(line, &mut |path, _| found.push(dotted(path)))?;
    Some(found)
}

pub(super) fn dotted(path: &[&[u8]]) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    parts.join(".")
}

struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn space(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.space();
        (self.text.get(self.at) == Some(&byte)).then(|| self.at += 1)
    }

    fn object(
        &mut self,
        path: &mut [&'a [u8]; MAX_DEPTH],
        depth: usize,
        scalar: &mut OnScalar<'a, '_>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            self.space();
            let key = self.string()?;
            self.eat(b':')?;
            *path.get_mut(depth)? = key;
            self.value(path, depth + 1, scalar)?;
            if self.eat(b',').is_none() {
                return self.eat(b'}');
            }
        }
    }

    fn value(
        &mut self,
        path: &mut [&'a [u8]; MAX_DEPTH],
        depth: usize,
        scalar: &mut OnScalar<'a, '_>,
    ) -> Option<()> {
        self.space();
        match *self.text.get(self.at)? {
            b'{' if depth < MAX_DEPTH => self.object(path, depth, scalar),
            b'[' if depth < MAX_DEPTH => {
                self.at += 1;
                if self.eat(b']').is_some() {
                    return Some(());
                }
                // Array elements are walked (their scalars are not reported: no path names them).
                let mut ignore = |_: &[&'a [u8]], _: &'a [u8]| {};
                loop {
                    self.value(path, MAX_DEPTH.min(depth + 1), &mut ignore)?;
                    if self.eat(b',').is_none() {
                        return self.eat(b']');
                    }
                }
            }
            b'"' => {
                let text = self.string()?;
                scalar(&path[..depth], text);
                Some(())
            }
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                let start = self.at;
                while self
                    .text
                    .get(self.at)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
                {
                    self.at += 1;
                }
                scalar(&path[..depth], &self.text[start..self.at]);
                Some(())
            }
            _ => None,
        }
    }

    /// A string at the cursor, without its quotes.
    fn string(&mut self) -> Option<&'a [u8]> {
        if self.text.get(self.at) != Some(&b'"') {
            return None;
        }
        let start = self.at + 1;
        let mut i = start;
        loop {
            match *self.text.get(i)? {
                b'\\' => i += 2,
                b'"' => break,
                _ => i += 1,
            }
        }
        self.at = i + 1;
        Some(&self.text[start..i])
    }
}

/// A JSON timestamp in seconds: a string as `parse_timestamp` or the common log format reads
/// it, or a number of Unix seconds, milliseconds, microseconds or nanoseconds (told apart by
/// size: no second count reaches 10^11 before the year 5000).
pub(super) fn timestamp(value: &[u8]) -> Option<f64> {
    if let Some(seconds) = super::parse_timestamp(value).or_else(|| super::parse_clf_time(value)) {
        return Some(match seconds {
            s if s >= 1e17 => s / 1e9,
            s if s >= 1e14 => s / 1e6,
            s if s >= 1e11 => s / 1e3,
            s => s,
        });
    }
    None
}

/// A latency in seconds: a bare number in `unit` seconds, or a number with a unit (`0.25s`,
/// `12ms`, `40us`, `40µs`, `900ns`).
pub(super) fn latency(value: &[u8], unit: f64) -> Option<f64> {
    let (number, scale) = [
        (&b"ms"[..], 1e-3),
        (b"us", 1e-6),
        ("µs".as_bytes(), 1e-6),
        (b"ns", 1e-9),
        (b"s", 1.0),
    ]
    .iter()
    .find_map(|(suffix, scale)| value.strip_suffix(*suffix).map(|n| (n, *scale)))
    .unwrap_or((value, unit));
    let seconds = super::parse_seconds(number)? * scale;
    seconds.is_finite().then_some(seconds)
}
