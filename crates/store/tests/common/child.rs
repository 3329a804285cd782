//! A test binary run again as a child process, for the tests that kill or lock against another
//! process: the child runs one of the binary's ignored tests (`--exact <test> --ignored`),
//! which does nothing without the environment the parent gives it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts this test binary as the child running `test`, with `env` set; its stdout is piped
/// (read it with [`wait_for_line`]), its stderr goes to the parent's.
pub fn spawn_child(test: &str, env: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            test,
            "--nocapture",
            "--ignored",
            "--test-threads=1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (name, value) in env {
        command.env(name, value);
    }
    command.spawn().expect("the child starts")
}

/// Reads the child's stdout until a line holding `prefix`; returns that line from `prefix` on
/// (the test harness may print the test's name before it on the same line).
pub fn wait_for_line(child: &mut Child, prefix: &str) -> String {
    let stdout = child.stdout.as_mut().expect("the child's stdout is piped");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .expect("the child's stdout reads");
        assert!(n > 0, "the child ended before printing {prefix:?}");
        if let Some(at) = line.find(prefix) {
            return line[at..].trim_end().to_string();
        }
    }
}
