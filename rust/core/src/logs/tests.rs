use super::*;

fn options() -> LogOptions {
    LogOptions {
        step_seconds: 60.0,
        latency_threshold: None,
        error_status: 500,
        strict: false,
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
