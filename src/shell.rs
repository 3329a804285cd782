//! Commands printed for pasting into a shell: every argument quoted for a POSIX shell when it
//! needs it (by shlex), so that a parameter name with spaces or a path with a `$` survives.

use std::borrow::Cow;

/// One argument (never the first word of a line) as a POSIX shell reads it back unchanged: as
/// it is when that is safe, quoted otherwise. shlex quotes every `=`, because `A=b` as the
/// first word is an assignment; after the command's name it is plain, so `NAME=VALUE` stays
/// bare when the rest of it needs no quoting. An argument with a NUL byte (which no command
/// line can carry) is shown as Rust would escape it, so that the line is still readable.
pub fn quote(arg: &str) -> Cow<'_, str> {
    let plain = !arg.is_empty()
        && matches!(
            shlex::try_quote(&arg.replace('=', "")),
            Ok(Cow::Borrowed(_))
        );
    if plain {
        return Cow::Borrowed(arg);
    }
    shlex::try_quote(arg).unwrap_or_else(|_| Cow::Owned(format!("{arg:?}")))
}

/// `reportflow` followed by `args`, each quoted as [`quote`] does.
pub fn command<'a>(args: impl IntoIterator<Item = &'a str>) -> String {
    std::iter::once(Cow::Borrowed("reportflow"))
        .chain(args.into_iter().map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::{command, quote};

    #[test]
    fn only_what_needs_it_is_quoted() {
        assert_eq!(
            command(["submit", "report", "8", "--param", "AccountId=9900000"]),
            "reportflow submit report 8 --param AccountId=9900000"
        );
        assert_eq!(
            command(["--param", "Report Parameter 1=all"]),
            "reportflow --param 'Report Parameter 1=all'"
        );
        assert_eq!(quote("it's $HOME"), r#""it's "'$HOME'"#);
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a\0b"), r#""a\0b""#);
        assert_eq!(quote("="), "=");
        assert_eq!(quote("A=b c"), "'A=b c'");
    }

    #[test]
    fn a_shell_reads_the_words_back() {
        for word in [
            "Report Parameter 1=all",
            "a'b\"c",
            "$(rm -rf /)",
            "tab\there",
            "é ü",
            "x==y",
            "=",
        ] {
            let line = command(["x", word]);
            assert_eq!(
                shlex::split(&line),
                Some(vec![
                    "reportflow".to_owned(),
                    "x".to_owned(),
                    word.to_owned()
                ]),
                "{line}"
            );
        }
    }
}
