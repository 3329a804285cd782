//! `run --extract`: a verified billing zip unpacked into a folder beside it.
//!
//! The archive's directory is checked whole before a byte is written: member names must stay
//! inside the folder (no absolute path, no `..`, no NUL), no member may be a symbolic link or
//! encrypted, names may not repeat, and the sizes are bounded (member count, total size, and
//! the ratio of a large member's size to its compressed size, which is how a zip bomb shows).
//! Members are then streamed, each bounded by the size it declares, into a hidden temporary
//! folder; every file is synced, and the folder is renamed into place only when all of it is
//! written. Any refusal or failure removes the temporary folder: nothing partial is left. A
//! folder already there with the same files (a repeated run) is kept; one with other content
//! is never touched (the new folder gets a `-1`, `-2`, ... suffix).

use crate::error::CliError;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::ops::Bound::{Excluded, Unbounded};
use std::path::{Path, PathBuf};

/// Bounds on what an archive may unpack to.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Members (files and folders) at most.
    pub max_entries: usize,
    /// Bytes of all files together at most.
    pub max_total: u64,
    /// Largest size-to-compressed-size ratio of a member larger than `ratio_floor`.
    pub max_ratio: u64,
    /// Members up to this size are not held to `max_ratio`.
    pub ratio_floor: u64,
}

impl Default for Limits {
    /// 10 000 members, 16 GiB in all, and a ratio of at most 200 for members over 1 MiB
    /// (billing CSVs deflate about 5 to 20 times; a bomb about 1000 times).
    fn default() -> Limits {
        Limits {
            max_entries: 10_000,
            max_total: 16 * 1024 * 1024 * 1024,
            max_ratio: 200,
            ratio_floor: 1024 * 1024,
        }
    }
}

/// One unpacked file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtractedFile {
    /// Its absolute path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its sha256, lower-case hex.
    pub sha256: String,
}

/// An unpacked archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extracted {
    /// The folder it was unpacked into.
    pub folder: PathBuf,
    /// Its files, by path.
    pub files: Vec<ExtractedFile>,
}

/// The most folder-name suffixes tried on collisions.
const MAX_SUFFIX: u32 = 1_000;

/// A member as the checks accepted it.
struct Member {
    index: usize,
    /// Its path inside the folder, as plain components.
    parts: Vec<String>,
    /// The size it declares (0 for folders).
    size: u64,
    is_dir: bool,
}

fn refused(zip: &Path, why: impl std::fmt::Display) -> CliError {
    CliError::Runtime(format!(
        "refused to extract {}: {why}; nothing was extracted (the archive itself stays as downloaded)",
        zip.display()
    ))
}

fn io_error(zip: &Path, action: &str, path: &Path, e: io::Error) -> CliError {
    CliError::Runtime(format!(
        "could not extract {}: could not {action} {}: {e}; check the disk space and permissions, then run again (nothing partial was left)",
        zip.display(),
        path.display()
    ))
}

/// The folder an archive unpacks into: its name without `.zip`.
pub fn folder_for(zip: &Path) -> PathBuf {
    let name = zip
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.eq_ignore_ascii_case("zip") => {
            stem.to_string()
        }
        _ => format!("{name}-files"),
    };
    zip.with_file_name(stem)
}

/// The temporary folder of an extraction into `folder` (hidden, beside it).
fn temp_for(folder: &Path) -> PathBuf {
    let name = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    folder.with_file_name(format!(".reportflow-extract-{name}.part"))
}

/// Unpacks `zip` into the folder beside it (see the module documentation).
pub fn extract(zip: &Path, limits: &Limits) -> Result<Extracted, CliError> {
    let folder = folder_for(zip);
    let temp = temp_for(&folder);
    remove_temp(zip, &temp)?;
    let written = unpack(zip, &temp, limits);
    let files = match written {
        Ok(files) => files,
        Err(e) => {
            remove_temp(zip, &temp)?;
            return Err(e);
        }
    };
    match settle(zip, &temp, &folder, &files) {
        Ok(extracted) => Ok(extracted),
        Err(e) => {
            remove_temp(zip, &temp)?;
            Err(e)
        }
    }
}

fn remove_temp(zip: &Path, temp: &Path) -> Result<(), CliError> {
    match fs::remove_dir_all(temp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(io_error(zip, "remove the temporary folder", temp, e))
        }
        _ => Ok(()),
    }
}

/// Checks the archive's directory, then writes every member under `temp`; returns each file's
/// path relative to the folder, size and sha256.
fn unpack(
    zip: &Path,
    temp: &Path,
    limits: &Limits,
) -> Result<Vec<(PathBuf, u64, String)>, CliError> {
    let file = File::open(zip).map_err(|e| io_error(zip, "open", zip, e))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| refused(zip, format!("it is not a readable zip archive ({e})")))?;
    let members = check_members(zip, &mut archive, limits)?;
    fs::create_dir(temp).map_err(|e| io_error(zip, "create", temp, e))?;
    let mut dirs = vec![temp.to_path_buf()];
    let mut files = Vec::new();
    let mut total = 0u64;
    for member in &members {
        let relative: PathBuf = member.parts.iter().collect();
        let path = temp.join(&relative);
        let parent = if member.is_dir {
            path.clone()
        } else {
            path.parent()
                .map_or_else(|| temp.to_path_buf(), Path::to_path_buf)
        };
        fs::create_dir_all(&parent).map_err(|e| io_error(zip, "create", &parent, e))?;
        if !dirs.contains(&parent) {
            dirs.push(parent);
        }
        if member.is_dir {
            continue;
        }
        let mut entry = archive
            .by_index(member.index)
            .map_err(|e| refused(zip, format!("its member {relative:?} cannot be read ({e})")))?;
        let (bytes, sha256) = write_member(zip, &mut entry, &path, member.size, &relative)?;
        total = total.saturating_add(bytes);
        if total > limits.max_total {
            return Err(refused(
                zip,
                format!("it unpacks to more than {} bytes", limits.max_total),
            ));
        }
        files.push((relative, bytes, sha256));
    }
    // Deepest first, so that each folder's entry is synced after its contents.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for dir in &dirs {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error(zip, "sync", dir, e))?;
    }
    files.sort();
    Ok(files)
}

/// The members of the archive, each checked, before anything is written.
fn check_members(
    zip: &Path,
    archive: &mut zip::ZipArchive<File>,
    limits: &Limits,
) -> Result<Vec<Member>, CliError> {
    if archive.len() > limits.max_entries {
        return Err(refused(
            zip,
            format!(
                "it holds {} members, more than the {} allowed",
                archive.len(),
                limits.max_entries
            ),
        ));
    }
    let mut members = Vec::with_capacity(archive.len());
    let mut seen: BTreeMap<Vec<String>, bool> = BTreeMap::new();
    let mut declared = 0u64;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| refused(zip, format!("member {index} cannot be read ({e})")))?;
        let raw = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let bad = |why: &str| refused(zip, format!("its member {raw:?} {why}"));
        if raw.contains('\0') {
            return Err(bad("holds a NUL byte"));
        }
        if raw.chars().any(char::is_control) {
            return Err(bad("holds control characters"));
        }
        let absolute = raw.starts_with(['/', '\\'])
            || (raw.len() >= 2
                && raw.as_bytes()[1] == b':'
                && raw.as_bytes()[0].is_ascii_alphabetic());
        if absolute {
            return Err(bad("is an absolute path"));
        }
        let parts: Vec<String> = raw
            .split(['/', '\\'])
            .filter(|p| !p.is_empty() && *p != ".")
            .map(str::to_string)
            .collect();
        if parts.iter().any(|p| p == "..") {
            return Err(bad("leaves the folder (its path holds ..)"));
        }
        if parts.is_empty() {
            return Err(bad("has no name"));
        }
        if entry.is_symlink() {
            return Err(bad("is a symbolic link"));
        }
        if entry.encrypted() {
            return Err(bad("is encrypted"));
        }
        let is_dir = entry.is_dir();
        let size = if is_dir { 0 } else { entry.size() };
        if size > limits.ratio_floor && size / entry.compressed_size().max(1) > limits.max_ratio {
            return Err(bad(&format!(
                "would expand from {} to {size} bytes (more than {} times; a zip bomb)",
                entry.compressed_size(),
                limits.max_ratio
            )));
        }
        declared = declared.saturating_add(size);
        if declared > limits.max_total {
            return Err(refused(
                zip,
                format!(
                    "its members declare more than {} bytes in all",
                    limits.max_total
                ),
            ));
        }
        // A name used twice, or a file that another member uses as a folder.
        if seen.insert(parts.clone(), is_dir).is_some() {
            return Err(bad("appears twice"));
        }
        for n in 1..parts.len() {
            if seen.get(&parts[..n]) == Some(&false) {
                return Err(bad("lies inside a member that is a file"));
            }
        }
        members.push(Member {
            index,
            parts,
            size,
            is_dir,
        });
    }
    for member in members.iter().filter(|m| !m.is_dir) {
        // Names under this one sort right after it.
        let below = seen
            .range::<Vec<String>, _>((Excluded(&member.parts), Unbounded))
            .next()
            .is_some_and(|(k, _)| k.starts_with(&member.parts));
        if below {
            return Err(refused(
                zip,
                format!(
                    "its member {:?} is a file that other members use as a folder",
                    member.parts.join("/")
                ),
            ));
        }
    }
    Ok(members)
}

/// Streams one member to `path` (created new), refusing more bytes than it declares; syncs it.
fn write_member(
    zip: &Path,
    entry: &mut impl Read,
    path: &Path,
    declared: u64,
    relative: &Path,
) -> Result<(u64, String), CliError> {
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| io_error(zip, "create", path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut written = 0u64;
    let mut limited = entry.take(declared.saturating_add(1));
    loop {
        let n = match limited.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(refused(
                    zip,
                    format!("its member {relative:?} cannot be unpacked ({e})"),
                ));
            }
        };
        written += n as u64;
        if written > declared {
            return Err(refused(
                zip,
                format!(
                    "its member {relative:?} unpacks to more than the {declared} bytes it declares"
                ),
            ));
        }
        hasher.update(&buffer[..n]);
        out.write_all(&buffer[..n])
            .map_err(|e| io_error(zip, "write", path, e))?;
    }
    out.sync_all().map_err(|e| io_error(zip, "sync", path, e))?;
    Ok((written, hex(&hasher.finalize())))
}

/// Moves the written folder into place (or finds the same content already there).
fn settle(
    zip: &Path,
    temp: &Path,
    folder: &Path,
    files: &[(PathBuf, u64, String)],
) -> Result<Extracted, CliError> {
    let parent = folder.parent().unwrap_or(Path::new("."));
    let name = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for n in 0..MAX_SUFFIX {
        let candidate = if n == 0 {
            folder.to_path_buf()
        } else {
            parent.join(format!("{name}-{n}"))
        };
        let listed = |dir: &Path| Extracted {
            folder: dir.to_path_buf(),
            files: files
                .iter()
                .map(|(relative, bytes, sha256)| ExtractedFile {
                    path: dir.join(relative),
                    bytes: *bytes,
                    sha256: sha256.clone(),
                })
                .collect(),
        };
        match fs::symlink_metadata(&candidate) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // rename(2) onto a name that appeared meanwhile as an empty folder would
                // replace it; the check just before keeps that to a race with another writer.
                fs::rename(temp, &candidate)
                    .map_err(|e| io_error(zip, "move the unpacked folder to", &candidate, e))?;
                File::open(parent)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| io_error(zip, "sync", parent, e))?;
                return Ok(listed(&candidate));
            }
            Err(e) => return Err(io_error(zip, "look at", &candidate, e)),
            Ok(meta) if meta.is_dir() && same_content(&candidate, files) => {
                remove_temp(zip, temp)?;
                return Ok(listed(&candidate));
            }
            Ok(_) => {}
        }
    }
    Err(refused(
        zip,
        format!("{MAX_SUFFIX} folders named like {name:?} already exist"),
    ))
}

/// True when `dir` holds exactly `files` (by relative path, size and sha256).
fn same_content(dir: &Path, files: &[(PathBuf, u64, String)]) -> bool {
    let mut found = Vec::new();
    if list_files(dir, dir, &mut found).is_err() {
        return false;
    }
    found.sort();
    found.len() == files.len()
        && found
            .iter()
            .zip(files)
            .all(|(path, (relative, bytes, sha))| {
                path == relative
                    && fs::metadata(dir.join(path)).is_ok_and(|m| m.len() == *bytes)
                    && sha256_file(&dir.join(path)).is_ok_and(|s| s == *sha)
            })
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            list_files(root, &entry.path(), out)?;
        } else {
            let path = entry.path();
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

/// The sha256 (lower-case hex) of the file at `path`, read in blocks.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    /// A zip of `members` (name, bytes), each stored or deflated.
    fn zip_of(members: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let method = if deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in members {
            writer.start_file(*name, options).expect("start");
            writer.write_all(bytes).expect("write");
        }
        writer.finish().expect("finish").into_inner()
    }

    fn everything_under(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        list_files(dir, dir, &mut found).expect("list");
        let mut dirs: Vec<PathBuf> = fs::read_dir(dir)
            .expect("read")
            .filter_map(Result::ok)
            .map(|e| PathBuf::from(e.file_name()))
            .collect();
        found.append(&mut dirs);
        found.sort();
        found.dedup();
        found
    }

    #[test]
    fn an_archive_unpacks_beside_itself_with_its_digests() {
        let dir = tempfile::tempdir().expect("tempdir");
        let zip = dir.path().join("bdrs_2026-11.zip");
        fs::write(
            &zip,
            zip_of(&[("bdrs.csv", b"a,b\n1,2\n"), ("sub/more.csv", b"x")], true),
        )
        .expect("write");
        let done = extract(&zip, &Limits::default()).expect("extracts");
        assert_eq!(done.folder, dir.path().join("bdrs_2026-11"));
        assert_eq!(done.files.len(), 2);
        for f in &done.files {
            assert_eq!(fs::read(&f.path).expect("read").len() as u64, f.bytes);
            assert_eq!(sha256_file(&f.path).expect("hash"), f.sha256);
        }
        // Again: the same folder is recognised, not duplicated.
        let again = extract(&zip, &Limits::default()).expect("extracts");
        assert_eq!(again, done);
        assert_eq!(
            everything_under(dir.path()),
            [
                "bdrs_2026-11",
                "bdrs_2026-11/bdrs.csv",
                "bdrs_2026-11/sub/more.csv",
                "bdrs_2026-11.zip"
            ]
            .map(PathBuf::from)
            .to_vec()
        );
        // A folder of that name with other content is left alone.
        fs::write(done.folder.join("bdrs.csv"), b"changed").expect("write");
        let other = extract(&zip, &Limits::default()).expect("extracts");
        assert_eq!(other.folder, dir.path().join("bdrs_2026-11-1"));
        assert_eq!(
            fs::read(done.folder.join("bdrs.csv")).expect("read"),
            b"changed"
        );
    }

    #[test]
    fn hostile_archives_are_refused_and_leave_nothing() {
        let bomb = vec![0u8; 16 * 1024 * 1024];
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "traversal",
                zip_of(&[("ok.csv", b"1"), ("../../evil.csv", b"x")], false),
                "leaves the folder",
            ),
            (
                "nested traversal",
                zip_of(&[("a/../../evil.csv", b"x")], false),
                "leaves the folder",
            ),
            (
                "absolute",
                zip_of(&[("/etc/evil.csv", b"x")], false),
                "is an absolute path",
            ),
            (
                "windows absolute",
                zip_of(&[("C:\\evil.csv", b"x")], false),
                "is an absolute path",
            ),
            ("bomb", zip_of(&[("zeros.csv", &bomb)], true), "a zip bomb"),
            (
                "duplicate",
                zip_of(&[("a.csv", b"1"), ("./a.csv", b"2")], false),
                "appears twice",
            ),
            (
                "not a zip",
                b"PK\x03\x04 garbage".to_vec(),
                "not a readable zip",
            ),
            (
                "a file used as a folder",
                zip_of(&[("a", b"1"), ("a/b.csv", b"2")], false),
                "lies inside a member that is a file",
            ),
            (
                "a folder's name used by a later file",
                zip_of(&[("a/b.csv", b"2"), ("a", b"1")], false),
                "is a file that other members use as a folder",
            ),
            (
                "control characters",
                zip_of(&[("a\u{1b}[2J.csv", b"1")], false),
                "holds control characters",
            ),
        ];
        let symlink = {
            let mut writer = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
            writer
                .add_symlink("link", "/etc/passwd", SimpleFileOptions::default())
                .expect("symlink");
            writer.finish().expect("finish").into_inner()
        };
        for (what, bytes, says) in
            cases
                .into_iter()
                .chain([("symlink", symlink, "is a symbolic link")])
        {
            let dir = tempfile::tempdir().expect("tempdir");
            let zip = dir.path().join("billing.zip");
            fs::write(&zip, bytes).expect("write");
            let e = extract(&zip, &Limits::default())
                .expect_err(what)
                .to_string();
            assert!(e.contains(says), "{what}: {e}");
            assert!(e.contains("nothing was extracted"), "{what}: {e}");
            assert_eq!(
                everything_under(dir.path()),
                vec![PathBuf::from("billing.zip")],
                "{what}: nothing left behind"
            );
        }
    }

    #[test]
    fn sizes_are_bounded_even_when_the_directory_lies() {
        let dir = tempfile::tempdir().expect("tempdir");
        let zip = dir.path().join("big.zip");
        fs::write(
            &zip,
            zip_of(&[("a.csv", &[7u8; 5000]), ("b.csv", &[8u8; 5000])], false),
        )
        .expect("write");
        let small = Limits {
            max_total: 6000,
            ..Limits::default()
        };
        let e = extract(&zip, &small).expect_err("too big").to_string();
        assert!(e.contains("more than 6000 bytes"), "{e}");
        let few = Limits {
            max_entries: 1,
            ..Limits::default()
        };
        assert!(extract(&zip, &few).is_err());
        assert_eq!(everything_under(dir.path()), vec![PathBuf::from("big.zip")]);
        // A member whose data is longer than its directory entry says: patch the declared
        // size in the central directory down to 10 bytes.
        let mut bytes = zip_of(&[("c.csv", &[9u8; 4000])], false);
        let central = bytes
            .windows(4)
            .rposition(|w| w == b"PK\x01\x02")
            .expect("a central directory entry");
        bytes[central + 24..central + 28].copy_from_slice(&10u32.to_le_bytes());
        let liar = dir.path().join("liar.zip");
        fs::write(&liar, bytes).expect("write");
        let e = extract(&liar, &Limits::default())
            .expect_err("a liar")
            .to_string();
        assert!(e.contains("refused to extract"), "{e}");
        assert!(!dir.path().join("liar").exists());
        assert!(!temp_for(&folder_for(&liar)).exists());
    }
}
