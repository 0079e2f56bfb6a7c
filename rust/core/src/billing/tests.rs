use super::*;

fn by(names: &[&str]) -> ColumnChoice {
    ColumnChoice {
        by: Some(names.iter().map(|n| n.to_string()).collect()),
        ..ColumnChoice::default()
    }
}

fn read(choice: ColumnChoice, text: &str) -> DailySpend {
    let mut spend = DailySpend::new(choice, false);
    spend.feed(text.as_bytes()).unwrap();
    spend.finish().unwrap();
    spend
}

const AWS: &str = "\
identity/LineItemId,lineItem/UsageStartDate,lineItem/UsageAccountId,lineItem/ProductCode,lineItem/UnblendedCost
a,2025-12-01T00:00:00Z,111,AmazonEC2,1.5
b,2025-12-01T13:00:00Z,111,AmazonEC2,2.25
c,2025-12-02T00:00:00Z,222,AmazonS3,4
d,2025-12-03T00:00:00Z,111,AmazonS3,-0.5
";

#[test]
fn an_aws_export_is_detected_and_summed_per_group_and_day() {
    let spend = read(by(&["account"]), AWS);
    let resolved = spend.resolved().unwrap();
    assert_eq!(resolved.preset, Some("aws"));
    assert_eq!(resolved.cost.1, "lineItem/UnblendedCost");
    assert_eq!(
        resolved.by,
        vec![(2, "lineItem/UsageAccountId".to_string())]
    );
    assert_eq!(spend.rows(), 4);
    assert_eq!(spend.span(), (days_from_civil(2025, 12, 1), 3));
    assert_eq!(spend.keys(), vec![vec!["111"], vec!["222"]]);
    let m = spend.matrix();
    assert_eq!(&m[..3], &[3.75, 0.0, -0.5]);
    assert!(m[3].is_nan());
    assert_eq!(&m[4..], &[4.0, 0.0]);
}

#[test]
fn composite_keys_and_no_grouping() {
    let spend = read(by(&["account", "service"]), AWS);
    assert_eq!(
        spend.keys(),
        vec![
            vec!["111", "AmazonEC2"],
            vec!["222", "AmazonS3"],
            vec!["111", "AmazonS3"]
        ]
    );
    let default = read(ColumnChoice::default(), AWS);
    assert_eq!(default.keys(), vec![vec!["111"], vec!["222"]]);
    let total = read(by(&[]), AWS);
    assert_eq!(total.keys(), vec![Vec::<String>::new()]);
    assert_eq!(total.matrix(), vec![3.75, 4.0, -0.5]);
}

#[test]
fn every_preset_is_detected_from_its_header() {
    let cases = [
        (
            "line_item_usage_start_date,line_item_unblended_cost,line_item_usage_account_id\n\
             2025-12-01 00:00:00.000,2,9\n",
            "aws-cur2",
        ),
        (
            "billing_account_id,service.description,usage_start_time,cost,project.id\n\
             X,Compute Engine,2025-12-01 00:00:00 UTC,2,9\n",
            "gcp",
        ),
        (
            "\u{feff}SubscriptionId,MeterCategory,Date,CostInBillingCurrency\n9,VM,12/01/2025,2\n",
            "azure",
        ),
        (
            "ChargePeriodStart,BilledCost,SubAccountId,ServiceName\n2025-12-01T00:00:00Z,2,9,EC2\n",
            "focus",
        ),
    ];
    for (text, preset) in cases {
        let spend = read(by(&["account"]), text);
        assert_eq!(spend.resolved().unwrap().preset, Some(preset), "{text}");
        assert_eq!(spend.keys(), vec![vec!["9"]], "{text}");
        assert_eq!(spend.span(), (days_from_civil(2025, 12, 1), 1), "{text}");
        assert_eq!(spend.matrix(), vec![2.0], "{text}");
    }
}

#[test]
fn named_columns_override_the_preset() {
    let choice = ColumnChoice {
        cost: Some("lineitem/blendedcost".into()),
        by: Some(vec!["lineItem/LineItemType".into()]),
        ..ColumnChoice::default()
    };
    let text = "lineItem/UsageStartDate,lineItem/UnblendedCost,lineItem/BlendedCost,lineItem/LineItemType\n\
                2025-12-01,1,10,Usage\n2025-12-01,1,-3,Credit\n";
    let spend = read(choice, text);
    assert_eq!(spend.resolved().unwrap().cost.1, "lineItem/BlendedCost");
    assert_eq!(spend.keys(), vec![vec!["Usage"], vec!["Credit"]]);
    assert_eq!(spend.matrix(), vec![10.0, -3.0]);
}

#[test]
fn quoted_fields_keep_their_commas_quotes_and_newlines() {
    let choice = ColumnChoice {
        date: Some("day".into()),
        cost: Some("usd".into()),
        by: Some(vec!["team".into()]),
        ..ColumnChoice::default()
    };
    let text = "day,note,team,usd\r\n\
                2025-12-01,\"a, b\",\"the \"\"core\"\" team\",1.5\r\n\
                2025-12-01,\"two\nlines\",\"the \"\"core\"\" team\",2\r\n\
                2025-12-02,x,web,3\r\n";
    let spend = read(choice.clone(), text);
    assert_eq!(spend.malformed(), 0, "{:?}", spend.examples());
    assert_eq!(spend.keys(), vec![vec!["the \"core\" team"], vec!["web"]]);
    let m = spend.matrix();
    assert_eq!((m[0], m[1], m[3]), (3.5, 0.0, 3.0));
    assert!(m[2].is_nan());
    // Fed one byte at a time, the same sums and the same line numbers.
    let mut bytewise = DailySpend::new(choice, false);
    for b in format!("{text}2025-12-02,bad,web,x\n").as_bytes() {
        bytewise.feed(std::slice::from_ref(b)).unwrap();
    }
    bytewise.finish().unwrap();
    assert_eq!(bytewise.keys(), spend.keys());
    assert_eq!(bytewise.matrix()[..2], spend.matrix()[..2]);
    assert_eq!(
        bytewise.examples(),
        &[(6, "2025-12-02,bad,web,x".to_string())]
    );
}

#[test]
fn malformed_rows_are_counted_with_their_line_numbers() {
    let text = "lineItem/UsageStartDate,lineItem/UnblendedCost\n\
                2025-12-01,1\n\
                2025-13-01,1\n\
                2025-02-29,1\n\
                \n\
                2025-12-01,abc\n\
                2025-12-01,inf\n\
                2025-12-01\n\
                2045-12-01,1\n\
                12/02/2025,2";
    let spend = read(by(&[]), text);
    assert_eq!(spend.rows(), 2);
    assert_eq!(spend.matrix(), vec![1.0, 2.0]);
    assert_eq!(spend.malformed(), 6);
    let lines: Vec<u64> = spend.examples().iter().map(|(n, _)| *n).collect();
    assert_eq!(lines, vec![3, 4, 6, 7, 8]);
    let mut strict = DailySpend::new(by(&[]), true);
    let error = strict.feed(text.as_bytes()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "export line 3 is malformed; got 2025-13-01,1"
    );
}

#[test]
fn days_parse_in_every_layout() {
    let day = days_from_civil(2025, 12, 1);
    for text in [
        "2025-12-01",
        "2025-12-01T23:59:59Z",
        "2025-12-01 00:00:00 UTC",
        "12/01/2025",
        "12/01/2025 00:00:00",
        "1764633599",
    ] {
        assert_eq!(parse_day(text.as_bytes()), Some(day), "{text}");
    }
    for text in [
        "2025-11-31",
        "2025-1-01",
        "13/01/2025",
        "2025-12-01X",
        "",
        "yesterday",
    ] {
        assert_eq!(parse_day(text.as_bytes()), None, "{text}");
    }
    assert_eq!(parse_day(b"2024-02-29"), Some(days_from_civil(2024, 2, 29)));
}

#[test]
fn an_unknown_column_or_layout_is_an_error_naming_it() {
    let mut spend = DailySpend::new(by(&["region"]), false);
    let error = spend.feed(AWS.as_bytes()).unwrap_err();
    assert!(error.to_string().starts_with(
        "by must be account, service or a column of the header (identity/LineItemId, "
    ));
    assert!(error.to_string().ends_with("; got \"region\""), "{error}");
    let mut spend = DailySpend::new(by(&[]), false);
    let error = spend.feed(b"when,amount\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "date_column is needed: the header matches no preset (aws, aws-cur2, gcp, azure, focus); \
         got when, amount"
    );
    let choice = ColumnChoice {
        preset: Some(preset("gcp").unwrap()),
        ..ColumnChoice::default()
    };
    let error = DailySpend::new(choice, false)
        .feed(AWS.as_bytes())
        .unwrap_err();
    assert!(error
        .to_string()
        .starts_with("date_column is needed: the header has none of the gcp preset's columns"));
    assert_eq!(
        preset("oracle").unwrap_err().to_string(),
        "preset must be one of aws, aws-cur2, gcp, azure, focus; got \"oracle\""
    );
    let repeated = by(&["lineitem/unblendedcost"]);
    let error = DailySpend::new(repeated, false)
        .feed(AWS.as_bytes())
        .unwrap_err();
    assert!(
        error.to_string().starts_with("by must not repeat"),
        "{error}"
    );
}

#[test]
fn the_span_is_bounded() {
    let text = "lineItem/UsageStartDate,lineItem/UnblendedCost\n2025-12-01,1\n2045-12-01,1\n2005-12-01,1\n2025-12-03,1\n";
    let spend = read(by(&[]), text);
    assert_eq!(spend.rows(), 2);
    assert_eq!(spend.malformed(), 2);
    assert_eq!(spend.matrix(), vec![1.0, 0.0, 1.0]);
}

#[test]
fn a_row_without_end_is_refused() {
    let mut spend = DailySpend::new(by(&[]), false);
    spend
        .feed(b"lineItem/UsageStartDate,lineItem/UnblendedCost\n\"")
        .unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let error = (0..20).find_map(|_| spend.feed(&chunk).err()).unwrap();
    assert!(error
        .to_string()
        .starts_with("export line 2 runs past 16 MiB"));
}
