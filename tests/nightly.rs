//! Nightly pipelines end to end, against the simulator (and a hostile upstream) over loopback,
//! through the real binary: relative dates resolved once per submit, partitions, labels, the
//! file layout, the manifest and its `_SUCCESS` marker, and billing archives unpacked safely.

mod common;
mod harness;

use common::{ACCOUNT, Env, Ran, bare_cmd, hex, quick_sim};
use harness::hostile::{Answer, reports_upstream};
use harness::{all_files, temp_files};
use jiff::ToSpan;
use jiff::civil::Date;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Today in `zone`, as the binary computes it.
fn today_in(zone: &str) -> Date {
    let tz = jiff::tz::TimeZone::get(zone).expect("a known zone");
    jiff::Timestamp::now().to_zoned_datetime(tz).date()
}

fn sha256(path: &Path) -> String {
    hex(&Sha256::digest(
        std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())),
    ))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write the file");
}

/// The jobs of `status --json` with more words (`--label x`).
fn status(env: &Env, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["status", "--json"];
    args.extend_from_slice(extra);
    let ran = env.run(&args);
    assert_eq!(ran.code, 0, "{ran:?}");
    serde_json::from_str::<Value>(&ran.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_else(|| panic!("status --json is an array: {ran:?}"))
}

fn keys(jobs: &[Value]) -> Vec<String> {
    let mut keys: Vec<String> = jobs
        .iter()
        .map(|j| j["key"].as_str().expect("a key").to_string())
        .collect();
    keys.sort();
    keys
}

#[test]
fn a_relative_batch_submitted_twice_the_same_day_is_one_set_of_jobs() {
    let env = Env::new(quick_sim());
    let zone = "Pacific/Kiritimati"; // UTC+14: often another day than UTC
    let file = env.dir.path().join("nightly.toml");
    write(
        &file,
        &format!(
            r#"account = "{ACCOUNT}"
tz = "{zone}"

[[billing]]
type = "BDR"
range = "yesterday"

[[billing]]
type = "MDR"
from = "today-7d"
to = "yesterday"

[[report]]
id = 30
params = {{ AccountId = "{ACCOUNT}", StartDate = "last-month-start", EndDate = "last-month-end" }}
expires = "today+7d"
"#
        ),
    );
    let day = today_in(zone);
    let first = env.run(&["submit", "batch", file.to_str().expect("utf-8")]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(
        first.stdout.contains("submitted 3 job(s) (3 new)"),
        "{first:?}"
    );
    let again = env.run(&["submit", "batch", file.to_str().expect("utf-8")]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(
        today_in(zone),
        day,
        "the day changed in {zone} during the test; run it again"
    );
    assert!(
        again.stdout.contains("submitted 3 job(s) (0 new)"),
        "the same night's submit is the same jobs: {again:?}"
    );
    let jobs = status(&env, &["--label", "nightly"]);
    assert_eq!(jobs.len(), 3, "{jobs:#?}");
    let yesterday = day.yesterday().expect("a day");
    let week_ago = day.checked_add((-7).days()).expect("a day");
    let bdr = format!("billing-{ACCOUNT}-BDR-{yesterday}-{yesterday}");
    let mdr = format!("billing-{ACCOUNT}-MDR-{week_ago}-{yesterday}");
    let found = keys(&jobs);
    assert!(found.contains(&bdr), "{found:?}");
    assert!(found.contains(&mdr), "{found:?}");
    let last_month_end = day.first_of_month().yesterday().expect("a day");
    for job in &jobs {
        assert_eq!(job["label"], "nightly", "the file's name is the label");
        let origin = &job["origin"];
        assert_eq!(origin["zone"], zone, "{job:#}");
        assert_eq!(origin["resolved_on"], day.to_string(), "{job:#}");
        if job["kind"] == "account" {
            assert_eq!(job["from"], last_month_end.first_of_month().to_string());
            assert_eq!(job["to"], last_month_end.to_string());
            let expressions = origin["expressions"].to_string();
            assert!(
                expressions.contains("param.StartDate") && expressions.contains("today+7d"),
                "{expressions}"
            );
        }
    }
    let bdr_job = jobs.iter().find(|j| j["key"] == bdr.as_str()).expect("BDR");
    assert_eq!(bdr_job["origin"]["expressions"][0][1], "yesterday");
    // The table shows the resolved dates beside the expression they came from.
    let table = env.run(&["status", "--label", "nightly"]);
    assert!(
        table
            .stdout
            .contains(&format!("{yesterday}..{yesterday} (range=yesterday)")),
        "{table:?}"
    );
    // The same dates written absolutely name the same job (its key does not depend on how the
    // dates were written).
    let absolute = env.run(&[
        "submit",
        "billing",
        "BDR",
        "--from",
        &yesterday.to_string(),
        "--to",
        &yesterday.to_string(),
    ]);
    assert!(
        absolute.stdout.contains("was already submitted"),
        "{absolute:?}"
    );
}

#[test]
fn split_by_day_makes_one_job_per_day_and_only_once() {
    let env = Env::new(quick_sim());
    let split = "submit billing BDR --from 2028-02-01 --to 2028-02-29 --split day --label feb";
    let first = env.ok(split);
    assert!(
        first.stdout.contains("submitted 29 job(s) (29 new)"),
        "{first:?}"
    );
    let again = env.ok(split);
    assert!(
        again.stdout.contains("submitted 29 job(s) (0 new)"),
        "{again:?}"
    );
    let jobs = status(&env, &["--label", "feb"]);
    let expected: Vec<String> = (1..=29)
        .map(|d| format!("billing-{ACCOUNT}-BDR-2028-02-{d:02}-2028-02-{d:02}"))
        .collect();
    assert_eq!(keys(&jobs), expected);
    for job in &jobs {
        assert_eq!(job["from"], job["to"], "one day each: {job:#}");
        assert_eq!(job["origin"]["expressions"][0][0], "split");
    }
    // Weeks are Monday to Sunday, cut at the range's ends; in a batch file too.
    let file = env.dir.path().join("weeks.toml");
    write(
        &file,
        &format!(
            "account = \"{ACCOUNT}\"\n[[billing]]\ntype = \"MDR\"\nfrom = 2026-11-01\nto = 2026-11-30\nsplit = \"week\"\n\n[[billing]]\ntype = \"DIDSNAP\"\nrange = \"last-month\"\nsplit = \"day\"\n"
        ),
    );
    let ran = env.run(&["submit", "batch", file.to_str().expect("utf-8")]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let weeks = status(&env, &["--label", "weeks"]);
    let mdr: Vec<(String, String)> = weeks
        .iter()
        .filter(|j| j["report"] == "MDR")
        .map(|j| (j["from"].to_string(), j["to"].to_string()))
        .collect();
    let q = |s: &str| format!("\"{s}\"");
    assert_eq!(
        mdr,
        [
            ("2026-11-01", "2026-11-01"),
            ("2026-11-02", "2026-11-08"),
            ("2026-11-09", "2026-11-15"),
            ("2026-11-16", "2026-11-22"),
            ("2026-11-23", "2026-11-29"),
            ("2026-11-30", "2026-11-30"),
        ]
        .map(|(a, b)| (q(a), q(b)))
        .to_vec()
    );
    let last_month = today_in("UTC").first_of_month().yesterday().expect("a day");
    let days = weeks.iter().filter(|j| j["report"] == "DIDSNAP").count();
    assert_eq!(days, last_month.days_in_month() as usize);
    // Past the cap: refused whole, nothing stored.
    let before = status(&env, &[]).len();
    let ran = env.line("submit billing BDR --from 2020-01-01 --to 2026-01-01 --split day");
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("makes more than 1000 jobs"), "{ran:?}");
    assert_eq!(status(&env, &[]).len(), before);
}

/// Every file under `dir` (recursively), relative, with its sha256.
fn files_under(dir: &Path) -> BTreeMap<String, String> {
    all_files(dir)
        .into_iter()
        .map(|(path, bytes)| {
            let relative = path
                .strip_prefix(dir)
                .expect("under the folder")
                .to_string_lossy()
                .into_owned();
            (relative, hex(&Sha256::digest(&bytes)))
        })
        .collect()
}

/// The files a manifest lists (downloads and unpacked members), by path with their sha256.
fn listed(manifest: &Value) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for job in manifest["jobs"].as_array().expect("jobs") {
        if let Some(file) = job["file"].as_str() {
            files.insert(
                file.to_string(),
                job["sha256"].as_str().expect("sha").into(),
            );
        }
        for member in job["extracted"].as_array().into_iter().flatten() {
            files.insert(
                member["file"].as_str().expect("file").to_string(),
                member["sha256"].as_str().expect("sha").into(),
            );
        }
    }
    files
}

fn read_manifest(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the manifest exists");
    serde_json::from_str(&text).expect("the manifest is JSON")
}

#[test]
fn a_nightly_run_writes_exactly_the_files_its_manifest_lists() {
    let env = Env::new(quick_sim());
    let file = env.dir.path().join("night.toml");
    write(
        &file,
        &format!(
            r#"account = "{ACCOUNT}"
layout = "{{kind}}/{{type}}/{{from}}_{{to}}-{{label}}.{{ext}}"

[[billing]]
type = "BDR"
from = 2026-11-01
to = 2026-11-03
split = "day"

[[billing]]
type = "MDR"
from = 2001-03-01
to = 2001-03-31

[[report]]
id = 30
params = {{ AccountId = "{ACCOUNT}", StartDate = "2026-10-01", EndDate = "2026-10-31" }}
"#
        ),
    );
    env.ok(&format!("submit batch {}", file.display()));
    // Another label's job waits: `run --label` leaves it alone.
    env.ok("submit billing CDR --from 2026-10-01 --to 2026-10-31 --label other");
    let manifests = env.dir.path().join("manifests");
    let manifest_path = manifests.join("night.json");
    let run = |env: &Env| {
        env.run(&[
            "run",
            "--label",
            "night",
            "--manifest",
            manifest_path.to_str().expect("utf-8"),
            "--success-marker",
            "--extract",
        ])
    };
    let ran = run(&env);
    assert_eq!(ran.code, 0, "{ran:?}");
    let manifest = read_manifest(&manifest_path);
    assert_eq!(manifest["complete"], true, "{manifest:#}");
    assert_eq!(manifest["label"], "night");
    assert_eq!(manifest["jobs"].as_array().map(Vec::len), Some(5));
    assert_eq!(manifest["counts"]["downloaded"], 4);
    assert_eq!(manifest["counts"]["nodata"], 1);
    assert!(manifests.join("_SUCCESS").exists(), "the marker is written");
    assert_eq!(
        std::fs::read(manifests.join("_SUCCESS")).expect("read"),
        b""
    );
    // Exactly the files the manifest lists, with its sha256s, under the layout's folders.
    let on_disk = files_under(&env.out());
    assert_eq!(on_disk, listed(&manifest), "{manifest:#}");
    assert!(
        on_disk.contains_key("billing/BDR/2026-11-02_2026-11-02-night.zip"),
        "{on_disk:#?}"
    );
    assert!(
        on_disk.contains_key("account/30/2026-10-01_2026-10-31-night.csv"),
        "{on_disk:#?}"
    );
    let members = on_disk
        .keys()
        .filter(|p| p.starts_with("billing/BDR/2026-11-0") && p.ends_with(".csv"))
        .count();
    assert_eq!(
        members, 3,
        "each archive is unpacked beside it: {on_disk:#?}"
    );
    for job in manifest["jobs"].as_array().expect("jobs") {
        if let Some(file) = job["file"].as_str() {
            let served = env
                .sim
                .expected_file(job["location"].as_str().expect("location"))
                .expect("the simulator knows the file");
            assert_eq!(job["sha256"], served.sha256.as_str(), "{file}");
            assert_eq!(sha256(&env.out().join(file)), served.sha256);
        }
    }
    let other = status(&env, &["--label", "other"]);
    assert_eq!(other[0]["state"], "requested", "the other label waits");
    // Again: nothing to do, the same manifest of the same files, the marker again.
    let ran = run(&env);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("nothing to do"), "{ran:?}");
    let again = read_manifest(&manifest_path);
    assert_eq!(listed(&again), listed(&manifest));
    assert_eq!(files_under(&env.out()), on_disk, "nothing was duplicated");
    assert!(manifests.join("_SUCCESS").exists());
    assert_eq!(temp_files(&manifests), Vec::<PathBuf>::new());
}

#[test]
fn no_marker_when_a_job_fails_and_a_missing_file_is_never_listed() {
    let env = Env::new(quick_sim());
    // The simulator refuses a billing type it does not know: that job fails.
    env.ok("submit billing BDR --from 2026-11-01 --to 2026-11-02 --label mixed");
    let ran = env.line("submit billing NOSUCHTYPE --from 2026-11-01 --to 2026-11-02 --label mixed");
    assert_eq!(ran.code, 0, "{ran:?}");
    let manifests = env.dir.path().join("m");
    std::fs::create_dir_all(&manifests).expect("mkdir");
    // A marker from an earlier night must not survive a run that is not complete.
    write(&manifests.join("_SUCCESS"), "");
    let manifest_path = manifests.join("manifest.json");
    let args = [
        "run",
        "--label",
        "mixed",
        "--manifest",
        manifest_path.to_str().expect("utf-8"),
        "--success-marker",
    ];
    let ran = env.run(&args);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(!manifests.join("_SUCCESS").exists(), "no marker: {ran:?}");
    let manifest = read_manifest(&manifest_path);
    assert_eq!(manifest["complete"], false);
    let failed: Vec<&Value> = manifest["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["state"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{manifest:#}");
    assert!(failed[0]["file"].is_null());
    assert!(
        failed[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("HTTP 400")),
        "{manifest:#}"
    );
    assert_eq!(files_under(&env.out()), listed(&manifest));
    // The failed job is retried by its label; the downloaded one is not touched.
    let retried = env.line("retry --label mixed");
    assert_eq!(retried.code, 0, "{retried:?}");
    assert!(
        retried.stdout.contains("failed -> requested"),
        "{retried:?}"
    );
    assert_eq!(retried.stdout.matches(" -> ").count(), 1, "{retried:?}");
    env.ok("cancel billing-9900000-NOSUCHTYPE-2026-11-01-2026-11-02");
    // A downloaded file that went missing is reported and not listed.
    let downloaded = status(&env, &["--label", "mixed", "--state", "downloaded"]);
    let path = downloaded[0]["file"].as_str().expect("a file").to_string();
    std::fs::remove_file(&path).expect("remove the file");
    let ran = env.run(&args);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(ran.stderr.contains("is missing or changed"), "{ran:?}");
    let manifest = read_manifest(&manifest_path);
    assert!(listed(&manifest).is_empty(), "{manifest:#}");
    assert!(!manifests.join("_SUCCESS").exists());
}

#[test]
fn hostile_placeholder_values_are_refused_before_anything_is_sent() {
    let env = Env::new(quick_sim());
    env.ok("submit billing BDR --from 2026-11-01 --to 2026-11-02 --key ../../escape --label h");
    let before = env.sim.stats().requests.values().sum::<u64>();
    let ran = env.line("run --label h --layout {key}/{name}");
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr
            .contains("its {key} is \"../../escape\", and it holds a path separator"),
        "{ran:?}"
    );
    assert!(
        ran.stderr.contains("nothing was sent or changed"),
        "{ran:?}"
    );
    assert_eq!(env.sim.stats().requests.values().sum::<u64>(), before);
    assert_eq!(status(&env, &[])[0]["state"], "requested");
    assert!(all_files(&env.out()).is_empty());
    let escape = env.dir.path().parent().expect("a parent").join("escape");
    assert!(!escape.exists());
    for layout in ["/abs/{name}", "../{name}", "{nope}", "a/.hidden/{name}"] {
        let ran = env.run(&["run", "--label", "h", "--layout", layout]);
        assert_eq!(ran.code, 2, "{layout}: {ran:?}");
        assert!(ran.stderr.contains("the file layout"), "{layout}: {ran:?}");
    }
    // The same job under a plain layout downloads into its folder.
    let ran = env.line("run --label h --layout {kind}/{label}/{name}");
    assert_eq!(ran.code, 0, "{ran:?}");
    let files: Vec<String> = files_under(&env.out()).into_keys().collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with("billing/h/"), "{files:?}");
}

/// A zip of `members` (name, bytes), deflated.
fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        writer.start_file(*name, options).expect("start");
        writer.write_all(bytes).expect("write");
    }
    writer.finish().expect("finish").into_inner()
}

fn symlink_zip() -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .add_symlink(
            "bdrs.csv",
            "/etc/passwd",
            zip::write::SimpleFileOptions::default(),
        )
        .expect("symlink");
    writer.finish().expect("finish").into_inner()
}

#[test]
fn hostile_archives_are_refused_and_leave_nothing_behind() {
    let zeros = vec![0u8; 16 * 1024 * 1024];
    let archives: Vec<Vec<u8>> = vec![
        zip_of(&[("bdrs.csv", b"a,b\n"), ("../../../escaped.csv", b"x")]),
        zip_of(&[("/tmp/reportflow-absolute.csv", b"x")]),
        symlink_zip(),
        zip_of(&[("bdrs.csv", &zeros)]),
        zip_of(&[("bdrs.csv", b"RecordId,Charge\n1,0.10\n")]),
    ];
    let count = archives.len();
    let upstream = reports_upstream(
        move |n, _| {
            let i = (n as usize).saturating_sub(1001) % archives.len();
            Answer::Full {
                status: 200,
                headers: vec![(
                    "Content-Disposition".into(),
                    format!("attachment; filename=bdrs-{n}.zip"),
                )],
                body: archives[i].clone(),
            }
        },
        |_, _| None,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    let cli = |line: &str| -> Ran {
        bare_cmd(&root)
            .env("REPORTFLOW_STORE", root.join("store"))
            .env("REPORTFLOW_OUT", root.join("out"))
            .env("REPORTFLOW_BASE_URL", upstream.base_url())
            .env("BANDWIDTH_ACCOUNT_ID", ACCOUNT)
            .env("BANDWIDTH_USERNAME", "demo")
            .env("BANDWIDTH_PASSWORD", "demo-secret")
            .args(line.split_whitespace())
            .output()
            .expect("the binary runs")
            .into()
    };
    let ran = cli(&format!(
        "submit billing BDR --from 2026-11-01 --to 2026-11-0{count} --split day --label zips"
    ));
    assert_eq!(ran.code, 0, "{ran:?}");
    // One at a time, so that archive n goes to the n-th job.
    let manifest_path = root.join("manifest.json");
    let ran = cli(&format!(
        "run --concurrency 1 --extract --manifest {} --success-marker",
        manifest_path.display()
    ));
    assert_eq!(ran.code, 3, "{ran:?}");
    for says in [
        "leaves the folder (its path holds ..)",
        "is an absolute path",
        "is a symbolic link",
        "a zip bomb",
    ] {
        assert!(ran.stderr.contains(says), "says {says:?}: {ran:?}");
    }
    assert!(!root.join("_SUCCESS").exists());
    let out = root.join("out");
    let manifest = read_manifest(&manifest_path);
    assert_eq!(manifest["complete"], false);
    let refused = manifest["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| {
            j["error"]
                .as_str()
                .is_some_and(|e| e.contains("refused to extract"))
        })
        .count();
    assert_eq!(refused, 4, "{manifest:#}");
    // The archives themselves stay (verified downloads); only the good one is unpacked, and
    // nothing is left of the refused ones: no member, no temporary folder, nothing outside.
    let on_disk = files_under(&out);
    let zips = on_disk.keys().filter(|p| p.ends_with(".zip")).count();
    assert_eq!(zips, count, "{on_disk:#?}");
    let unpacked: Vec<&String> = on_disk.keys().filter(|p| !p.ends_with(".zip")).collect();
    assert_eq!(unpacked.len(), 1, "{on_disk:#?}");
    assert!(unpacked[0].ends_with("/bdrs.csv"), "{unpacked:?}");
    assert_eq!(temp_files(&out), Vec::<PathBuf>::new());
    let everything: Vec<PathBuf> = all_files(dir.path())
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| !p.starts_with(root.join("store")) && !p.starts_with(&out))
        .filter(|p| *p != manifest_path)
        .collect();
    assert_eq!(everything, Vec::<PathBuf>::new());
    assert!(!Path::new("/tmp/reportflow-absolute.csv").exists());
    assert!(!dir.path().join("escaped.csv").exists());
    assert_eq!(
        listed(&manifest),
        on_disk,
        "the manifest lists what is there"
    );
}
