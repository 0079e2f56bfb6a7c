use super::*;

fn options() -> LogOptions {
    LogOptions {
        step_seconds: 60.0,
        latency_threshold: None,
        error_status: 500,
        strict: false,
        latency_unit: None,
    }
}

fn csv() -> Layout {
    Layout::Csv {
        timestamp: None,
        status: None,
        ok: None,
        latency: None,
    }
}

#[test]
fn csv_lines_are_counted_per_step_across_chunks() {
    let mut counts = LogCounts::new(csv(), options()).unwrap();
    let log =
        b"timestamp,status,latency\n120,200,0.1\n150,503,0.2\n\n1970-01-01T00:03:10Z,200,0.3\n";
    // Fed a byte at a time: every line spans chunks.
    for b in &log[..] {
        counts.feed(std::slice::from_ref(b)).unwrap();
    }
    counts.feed(b"179.5,404,1\n181,500,0.1").unwrap();
    counts.finish().unwrap();
    let (first, bad, total) = counts.counts();
    assert_eq!(first, 120.0);
    assert_eq!(
        (counts.lines(), counts.malformed()),
        (5, 0),
        "{:?}",
        counts.examples()
    );
    assert_eq!(
        (bad, total),
        (&[1, 1][..], &[3, 2][..]),
        "step 2 is [120, 180), step 3 [180, 240)"
    );
}

#[test]
fn an_earlier_line_extends_the_counts_back() {
    let mut counts = LogCounts::new(csv(), options()).unwrap();
    counts.feed(b"time,ok\n600,true\n60,false\n").unwrap();
    let (first, bad, total) = counts.counts();
    assert_eq!(
        (first, bad, total),
        (
            60.0,
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 1][..]
        )
    );
}

#[test]
fn malformed_lines_are_skipped_counted_and_shown() {
    let mut counts = LogCounts::new(csv(), options()).unwrap();
    counts
        .feed(b"ts,code\n60,200\nsoon,200\n60,999\n\n60\n60,500\n")
        .unwrap();
    assert_eq!((counts.lines(), counts.malformed()), (2, 3));
    let numbers: Vec<u64> = counts.examples().iter().map(|e| e.0).collect();
    assert_eq!(numbers, [3, 4, 6]);
    assert_eq!(counts.examples()[0].1, "soon,200");
    let mut strict = LogCounts::new(
        csv(),
        LogOptions {
            strict: true,
            ..options()
        },
    )
    .unwrap();
    let err = strict.feed(b"ts,code\n60,200\nsoon,200\n").unwrap_err();
    assert_eq!(err.param, "log");
    assert!(err.requirement.contains("line 3"), "{}", err.requirement);
}

#[test]
fn a_latency_slo_counts_slow_requests_as_bad() {
    let latency = LogOptions {
        latency_threshold: Some(0.25),
        ..options()
    };
    let mut counts = LogCounts::new(csv(), latency.clone()).unwrap();
    counts
        .feed(b"timestamp,status,duration\n0,200,0.25\n1,200,0.26\n2,500,0.01\n")
        .unwrap();
    assert_eq!(counts.counts().1, &[2]);
    let mut missing = LogCounts::new(csv(), latency).unwrap();
    let err = missing.feed(b"timestamp,status\n").unwrap_err();
    assert_eq!(err.param, "latency_column");
}

#[test]
fn named_columns_must_be_in_the_header() {
    let layout = Layout::Csv {
        timestamp: Some("when".into()),
        status: None,
        ok: None,
        latency: None,
    };
    let mut counts = LogCounts::new(layout, options()).unwrap();
    let err = counts.feed(b"timestamp,status\n").unwrap_err();
    assert_eq!(
        (&*err.param, err.value.as_deref()),
        ("timestamp_column", Some("when"))
    );
    let mut none = LogCounts::new(csv(), options()).unwrap();
    assert_eq!(none.feed(b"a,b\n").unwrap_err().param, "timestamp_column");
}

#[test]
fn combined_logs_with_request_times() {
    let latency = LogOptions {
        latency_threshold: Some(0.5),
        ..options()
    };
    let mut counts = LogCounts::new(Layout::Combined, latency).unwrap();
    let log = concat!(
        "10.0.0.1 - - [02/Dec/2025:12:00:01 +0000] \"GET /a HTTP/1.1\" 200 512 \"-\" \"curl/8\" 0.120\n",
        "10.0.0.1 - bob [02/Dec/2025:12:00:30 +0000] \"GET /b?q=\\\"x\\\" HTTP/1.1\" 502 0 \"-\" \"ua\" 0.010\n",
        "10.0.0.2 - - [02/Dec/2025:12:01:00 +0000] \"POST /c HTTP/1.1\" 201 12 \"https://x/\" \"ua b\" 0.900\n",
        "garbage\n",
    );
    counts.feed(log.as_bytes()).unwrap();
    let (first, bad, total) = counts.counts();
    assert_eq!(first, 1_764_676_800.0);
    assert_eq!((bad, total), (&[1, 1][..], &[2, 1][..]));
    assert_eq!(counts.malformed(), 1);
}

#[test]
fn bad_options_are_refused() {
    let err = LogCounts::new(
        csv(),
        LogOptions {
            step_seconds: 0.5,
            ..options()
        },
    )
    .unwrap_err();
    assert_eq!(err.param, "step_seconds");
    let err = LogCounts::new(
        csv(),
        LogOptions {
            latency_threshold: Some(f64::NAN),
            ..options()
        },
    )
    .unwrap_err();
    assert_eq!(err.param, "latency_threshold");
    let err = LogCounts::new(
        csv(),
        LogOptions {
            error_status: 50,
            ..options()
        },
    )
    .unwrap_err();
    assert_eq!(err.param, "error_status");
}

fn json(preset: Option<&str>) -> Layout {
    Layout::Json {
        preset: preset.map(|p| json_preset(p).unwrap()),
        timestamp: None,
        status: None,
        ok: None,
        latency: None,
    }
}

fn slow(threshold: f64) -> LogOptions {
    LogOptions {
        latency_threshold: Some(threshold),
        ..options()
    }
}

#[test]
fn json_lines_of_each_preset() {
    let cases: [(&str, &str); 5] = [
        (
            "nginx",
            r#"{"time_iso8601":"2025-12-02T12:00:01+00:00","remote_addr":"10.0.0.1","status":"200","request_time":"0.120"}
{"time_iso8601":"2025-12-02T12:00:30+00:00","status":"502","request_time":"0.010"}
{"time_iso8601":"2025-12-02T12:01:00+00:00","status":"201","request_time":"0.900"}"#,
        ),
        (
            "caddy",
            r#"{"level":"info","ts":1764676801.5,"request":{"method":"GET","headers":{"X":["a","b"]}},"status":200,"duration":0.12}
{"level":"info","ts":1764676830,"request":{"method":"GET"},"status":502,"duration":0.01}
{"level":"info","ts":1764676860.25,"status":201,"duration":0.9,"resp_headers":{}}"#,
        ),
        (
            "traefik",
            r#"{"StartUTC":"2025-12-02T12:00:01.123456789Z","DownstreamStatus":200,"Duration":120000000}
{"StartUTC":"2025-12-02T12:00:30Z","DownstreamStatus":502,"Duration":10000000}
{"StartUTC":"2025-12-02T12:01:00Z","DownstreamStatus":201,"Duration":900000000}"#,
        ),
        (
            "envoy",
            r#"{"start_time":"2025-12-02T12:00:01.000Z","response_code":200,"duration":120}
{"start_time":"2025-12-02T12:00:30.000Z","response_code":502,"duration":10}
{"start_time":"2025-12-02T12:01:00.000Z","response_code":201,"duration":900}"#,
        ),
        (
            "gcp",
            r#"{"httpRequest":{"requestMethod":"GET","status":200,"latency":"0.120s"},"timestamp":"2025-12-02T12:00:01Z","severity":"INFO"}
{"httpRequest":{"status":502,"latency":"0.010s"},"timestamp":"2025-12-02T12:00:30Z"}
{"httpRequest":{"status":201,"latency":"0.9s"},"timestamp":"2025-12-02T12:01:00Z"}"#,
        ),
    ];
    for (preset, log) in cases {
        for layout in [json(Some(preset)), json(None)] {
            let mut counts = LogCounts::new(layout, slow(0.5)).unwrap();
            counts.feed(log.as_bytes()).unwrap();
            counts.feed(b"\nnot json\n{\"broken\": \n").unwrap();
            counts.finish().unwrap();
            let (first, bad, total) = counts.counts();
            assert_eq!(first, 1_764_676_800.0, "{preset}");
            assert_eq!(
                (bad, total),
                (&[1, 1][..], &[2, 1][..]),
                "{preset}: {:?}",
                counts.examples()
            );
            let lines: Vec<u64> = counts.examples().iter().map(|e| e.0).collect();
            assert_eq!(lines, [4, 5], "{preset}");
        }
    }
}

#[test]
fn json_fields_by_dotted_path_and_unix_milliseconds() {
    let layout = Layout::Json {
        preset: None,
        timestamp: Some("time".into()),
        status: None,
        ok: Some("res.ok".into()),
        latency: Some("res.ms".into()),
    };
    let in_ms = LogOptions {
        latency_unit: Some(1e-3),
        ..slow(0.2)
    };
    let mut counts = LogCounts::new(layout, in_ms).unwrap();
    counts
        .feed(b"{\"time\":1764676800000,\"res\":{\"ok\":true,\"ms\":150},\"msg\":\"a \\\"quoted\\\" }\"}\n")
        .unwrap();
    counts
        .feed(b"{\"time\":1764676801000,\"res\":{\"ok\":true,\"ms\":\"250ms\"}}\n{\"time\":1764676802000,\"res\":{\"ok\":false,\"ms\":1}}\n")
        .unwrap();
    counts
        .feed(b"{\"time\":1764676803000,\"res\":{\"ms\":1}}\n")
        .unwrap();
    assert_eq!(counts.counts(), (1_764_676_800.0, &[2][..], &[3][..]));
    assert_eq!(counts.malformed(), 1, "no ok field: malformed");
    let named = Layout::Json {
        preset: None,
        timestamp: Some("when".into()),
        status: None,
        ok: None,
        latency: None,
    };
    let err = LogCounts::new(named, options())
        .unwrap()
        .feed(b"{\"ts\":1,\"status\":200}\n")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "timestamp_column must name a field of the first line (ts, status); got when"
    );
}

#[test]
fn json_nesting_is_bounded_and_arrays_are_skipped() {
    let mut counts = LogCounts::new(json(None), options()).unwrap();
    let deep = format!(
        "{{\"ts\":60,\"status\":200,\"x\":{}1{}}}\n",
        "[".repeat(40),
        "]".repeat(40)
    );
    counts
        .feed(b"{\"ts\":60,\"status\":200,\"a\":[{\"status\":500}]}\n")
        .unwrap();
    counts.feed(deep.as_bytes()).unwrap();
    assert_eq!(counts.counts(), (60.0, &[0][..], &[1][..]));
    assert_eq!(counts.malformed(), 1);
}

#[test]
fn apache_request_times_in_microseconds() {
    let in_us = LogOptions {
        latency_unit: Some(1e-6),
        ..slow(0.5)
    };
    let mut counts = LogCounts::new(Layout::Combined, in_us).unwrap();
    counts
        .feed(b"10.0.0.1 - - [02/Dec/2025:12:00:01 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"ua\" 600000\n")
        .unwrap();
    counts
        .feed(b"10.0.0.1 - - [02/Dec/2025:12:00:02 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"ua\" 400000\n")
        .unwrap();
    assert_eq!(counts.counts().1, &[1]);
    let bad_unit = LogOptions {
        latency_unit: Some(0.0),
        ..options()
    };
    assert_eq!(
        LogCounts::new(Layout::Combined, bad_unit)
            .unwrap_err()
            .param,
        "latency_unit"
    );
}

#[test]
fn civil_dates_and_day_numbers_are_inverse() {
    for days in [-719_468, -1, 0, 11_016, 20_425, 2_932_896] {
        let (y, m, d) = civil_from_days(days);
        assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
    }
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    assert_eq!(civil_from_days(0), (1970, 1, 1));
}
