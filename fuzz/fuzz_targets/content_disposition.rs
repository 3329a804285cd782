//! `content_disposition_filename` and `safe_file_name` on arbitrary text: never panic, and the
//! name they give is always one plain component that stays inside the output folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reportflow_wire::{content_disposition_filename, file_name_from_disposition, safe_file_name};
use std::path::{Component, Path};

fn assert_safe(name: &str) {
    assert!(!name.is_empty(), "empty name");
    assert!(name.len() <= 200, "{} bytes: {name:?}", name.len());
    assert!(!name.starts_with('.'), "hidden or dot name {name:?}");
    assert!(!name.ends_with('.'), "trailing dot {name:?}");
    assert_eq!(name, name.trim(), "untrimmed {name:?}");
    for c in name.chars() {
        assert!(!c.is_control(), "control character in {name:?}");
        assert!(!"/\\<>:\"|?*".contains(c), "{c:?} in {name:?}");
    }
    let components: Vec<Component<'_>> = Path::new(name).components().collect();
    assert!(
        matches!(components.as_slice(), [Component::Normal(_)]),
        "{name:?} is not one plain component: {components:?}"
    );
    let out = Path::new("/out");
    assert_eq!(out.join(name).parent(), Some(out), "{name:?} leaves the folder");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The header, and after the first newline a fallback name.
    let (header, fallback) = text.split_once('\n').unwrap_or((&text, ""));
    if let Some(raw) = content_disposition_filename(header) {
        assert!(!raw.trim().is_empty(), "a blank name from {header:?}");
    }
    assert_safe(&safe_file_name(header, fallback));
    assert_safe(&safe_file_name(fallback, header));
    assert_safe(&file_name_from_disposition(Some(header), fallback));
    assert_safe(&file_name_from_disposition(None, fallback));
});
