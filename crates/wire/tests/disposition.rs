//! Content-Disposition file names and safe base names.

use proptest::prelude::*;
use reportflow_wire::{content_disposition_filename, file_name_from_disposition, safe_file_name};

fn filename(header: &str) -> Option<String> {
    content_disposition_filename(header)
}

#[test]
fn plain_token_filenames() {
    assert_eq!(
        filename("attachment; filename=output.pdf").as_deref(),
        Some("output.pdf")
    );
    assert_eq!(
        filename("attachment; filename=bdrs_2020-05-21_2020-05-29.zip").as_deref(),
        Some("bdrs_2020-05-21_2020-05-29.zip")
    );
    assert_eq!(
        filename("ATTACHMENT;FILENAME= x.csv ").as_deref(),
        Some("x.csv")
    );
    assert_eq!(filename("filename=bare.csv").as_deref(), Some("bare.csv"));
    assert_eq!(
        filename("attachment; size=10; filename=a.csv; creation-date=x").as_deref(),
        Some("a.csv")
    );
}

#[test]
fn quoted_filenames_with_escapes_and_separators() {
    assert_eq!(
        filename(r#"attachment; filename="a b.pdf""#).as_deref(),
        Some("a b.pdf")
    );
    assert_eq!(
        filename(r#"attachment; filename="say \"hi\"; now.txt"; size=3"#).as_deref(),
        Some(r#"say "hi"; now.txt"#)
    );
    assert_eq!(
        filename(r#"attachment; filename="back\\slash.txt""#).as_deref(),
        Some(r"back\slash.txt")
    );
    assert_eq!(
        filename(r#"attachment; filename="unterminated.txt"#).as_deref(),
        Some("unterminated.txt")
    );
}

#[test]
fn extended_filenames_are_decoded_and_preferred() {
    assert_eq!(
        filename("attachment; filename*=UTF-8''na%C3%AFve%20file.csv").as_deref(),
        Some("naïve file.csv")
    );
    assert_eq!(
        filename("attachment; filename=\"fallback.csv\"; filename*=utf-8'en'na%C3%AFve.csv")
            .as_deref(),
        Some("naïve.csv")
    );
    assert_eq!(
        filename("attachment; filename*=UTF-8''x.csv; filename=y.csv").as_deref(),
        Some("x.csv")
    );
    assert_eq!(
        filename("attachment; filename*=ISO-8859-1''caf%E9.txt").as_deref(),
        Some("café.txt")
    );
}

#[test]
fn undecodable_extended_filenames_fall_back() {
    // Invalid UTF-8, an unknown charset and a missing part: `filename` is used instead.
    assert_eq!(
        filename("attachment; filename*=UTF-8''%FF%FE.csv; filename=plain.csv").as_deref(),
        Some("plain.csv")
    );
    assert_eq!(
        filename("attachment; filename*=KOI8-R''x.csv; filename=plain.csv").as_deref(),
        Some("plain.csv")
    );
    assert_eq!(filename("attachment; filename*=x.csv").as_deref(), None);
}

#[test]
fn headers_without_a_filename() {
    assert_eq!(filename("attachment"), None);
    assert_eq!(filename("inline"), None);
    assert_eq!(filename(""), None);
    assert_eq!(filename("attachment; filename="), None);
    assert_eq!(filename("attachment; filename=\"  \""), None);
    assert_eq!(filename(";;;==;\""), None);
}

#[test]
fn safe_names_keep_ordinary_names() {
    assert_eq!(safe_file_name("output.pdf", "x"), "output.pdf");
    assert_eq!(safe_file_name("naïve file.csv", "x"), "naïve file.csv");
    assert_eq!(safe_file_name("  spaced.csv  ", "x"), "spaced.csv");
}

#[test]
fn safe_names_drop_directories() {
    assert_eq!(safe_file_name("../../etc/passwd", "x"), "passwd");
    assert_eq!(
        safe_file_name(r"C:\Windows\system32\evil.dll", "x"),
        "evil.dll"
    );
    assert_eq!(safe_file_name("/abs/path/report.zip", "x"), "report.zip");
    assert_eq!(safe_file_name("dir/", "x"), "dir");
}

#[test]
fn safe_names_are_never_dot_names_or_hidden() {
    assert_eq!(safe_file_name("..", "fallback.csv"), "fallback.csv");
    assert_eq!(safe_file_name(".", "fallback.csv"), "fallback.csv");
    assert_eq!(safe_file_name("a/..", "fallback.csv"), "fallback.csv");
    assert_eq!(safe_file_name(".bashrc", "x"), "bashrc");
    assert_eq!(safe_file_name("...hidden.txt", "x"), "hidden.txt");
    assert_eq!(safe_file_name(". .x", "x"), "x");
    assert_eq!(safe_file_name("trailing.", "x"), "trailing");
}

#[test]
fn safe_names_lose_control_and_invisible_characters() {
    assert_eq!(safe_file_name("a\u{0}b\u{7}c\n.txt", "x"), "abc.txt");
    assert_eq!(safe_file_name("evil\u{202E}fdp.exe", "x"), "evilfdp.exe");
    assert_eq!(safe_file_name("re:port?*.csv", "x"), "re_port__.csv");
}

#[test]
fn safe_names_fall_back_and_never_end_empty() {
    assert_eq!(safe_file_name("", "job-7.pdf"), "job-7.pdf");
    assert_eq!(safe_file_name("///", "../job-7.pdf"), "job-7.pdf");
    assert_eq!(safe_file_name("\u{0}", ""), "report");
    assert_eq!(safe_file_name("..", ".."), "report");
}

#[test]
fn safe_names_are_bounded_keeping_the_extension() {
    let long = format!("{}.csv", "é".repeat(150));
    let name = safe_file_name(&long, "x");
    assert!(name.len() <= 200, "{}", name.len());
    assert!(name.ends_with(".csv"));
    assert!(name.starts_with("éé"));
    assert_eq!(name, format!("{}.csv", "é".repeat(98)));
}

#[test]
fn file_names_from_headers() {
    assert_eq!(
        file_name_from_disposition(Some("attachment; filename=output.pdf"), "job.pdf"),
        "output.pdf"
    );
    assert_eq!(
        file_name_from_disposition(Some("attachment; filename=\"../../x/.ssh\""), "job.pdf"),
        "ssh"
    );
    assert_eq!(
        file_name_from_disposition(
            Some("attachment; filename*=UTF-8''..%2F..%2Fescape.zip"),
            "job.zip"
        ),
        "escape.zip"
    );
    assert_eq!(
        file_name_from_disposition(Some("attachment"), "job.zip"),
        "job.zip"
    );
    assert_eq!(file_name_from_disposition(None, "job.zip"), "job.zip");
    assert_eq!(file_name_from_disposition(None, ""), "report");
}

/// The promises every `safe_file_name` output keeps.
fn assert_safe(name: &str) -> Result<(), TestCaseError> {
    prop_assert!(!name.is_empty());
    prop_assert!(name.len() <= 200, "{} bytes", name.len());
    prop_assert!(name != "." && name != "..");
    prop_assert!(!name.starts_with('.'), "hidden: {name:?}");
    prop_assert!(!name.contains(['/', '\\', '\0']), "{name:?}");
    prop_assert!(!name.chars().any(char::is_control), "{name:?}");
    Ok(())
}

/// Names built from the characters that matter most here.
fn tricky_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[./\\\\ \t\u{0}\u{1f}\u{7f}\u{202e}aé😀:*?\"]{0,40}",
        ".{190,260}",
        "[a-z]{180,230}\\.[a-z]{1,20}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn safe_file_name_output_is_always_safe(raw in tricky_name(), fallback in tricky_name()) {
        assert_safe(&safe_file_name(&raw, &fallback))?;
    }

    #[test]
    fn header_parsing_never_panics_and_ends_safe(header in prop_oneof![
        any::<String>(),
        "(attachment|inline)?(; ?(file)?name\\*?=(\"|UTF-8''|ISO-8859-1'en')?[^;]{0,20}\"?){0,3}",
        "[;=\"\\\\'%*a-fA-F0-9 ]{0,40}",
    ], fallback in tricky_name()) {
        if let Some(name) = content_disposition_filename(&header) {
            prop_assert!(!name.trim().is_empty());
        }
        assert_safe(&file_name_from_disposition(Some(&header), &fallback))?;
    }

    #[test]
    fn quoted_names_round_trip(name in "[^\"\\\\\u{0}-\u{1f}]{1,30}") {
        prop_assume!(!name.trim().is_empty());
        let header = format!("attachment; filename=\"{name}\"");
        prop_assert_eq!(content_disposition_filename(&header), Some(name));
    }

    #[test]
    fn percent_encoded_names_round_trip(name in "\\PC{1,30}") {
        prop_assume!(!name.trim().is_empty());
        let encoded: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
        let header = format!("attachment; filename=ignored; filename*=UTF-8''{encoded}");
        prop_assert_eq!(content_disposition_filename(&header), Some(name));
    }
}
