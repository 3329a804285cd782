//! The CLI's batch file parser (`reportflow::batch::parse`) on arbitrary text: never panics;
//! every problem names the file and a line of it; every accepted entry passes the core's
//! validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reportflow_core::Date;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((flag, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let today = Date::constant(2026, 11, 26);
    let account = (flag & 1 == 1).then_some("9900000");
    let lines = text.lines().count().max(1) + 1;
    let clock = reportflow::zone::SubmitClock::on(today);
    match reportflow::batch::parse(Path::new("fuzz.toml"), text, account, &clock) {
        Ok(batch) => {
            for entry in &batch.entries {
                assert!(entry.spec.validate(today).is_ok(), "{entry:?}");
                assert!(entry.line >= 1 && entry.line <= lines, "{entry:?}");
            }
            for warning in &batch.warnings {
                assert!(warning.starts_with("fuzz.toml:"), "{warning}");
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            for problem in &problems {
                let rest = problem
                    .strip_prefix("fuzz.toml:")
                    .unwrap_or_else(|| panic!("{problem:?} does not name the file"));
                let line: usize = rest
                    .split(':')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("{problem:?} names no line"));
                assert!(line >= 1 && line <= lines, "{problem:?}: line of {lines}");
            }
        }
    }
});
