//! The text of a batch file (`submit batch`) as the tests write it: the account, then one
//! `[[report]]` or `[[billing]]` entry per job.

use std::fmt::Display;

/// A batch file's text being built.
pub struct BatchText {
    account: String,
    text: String,
}

impl BatchText {
    /// A batch of `account`'s jobs, no entry yet.
    pub fn new(account: &str) -> BatchText {
        BatchText {
            account: account.to_string(),
            text: format!("account = \"{account}\"\n"),
        }
    }

    /// An account report (report 4) of the account's site `site`: a distinct job per site.
    pub fn report(&mut self, site: usize) -> &mut BatchText {
        self.text.push_str(&format!(
            "\n[[report]]\nid = 4\nparams = {{ AccountId = \"{}\", SiteId = {site} }}\n",
            self.account
        ));
        self
    }

    /// A billing report of type `kind` from `from` to `to` (dates, `YYYY-MM-DD`).
    pub fn billing(&mut self, kind: &str, from: impl Display, to: impl Display) -> &mut BatchText {
        self.text.push_str(&format!(
            "\n[[billing]]\ntype = \"{kind}\"\nfrom = {from}\nto = {to}\n"
        ));
        self
    }

    /// The text so far.
    pub fn text(&self) -> String {
        self.text.clone()
    }
}

/// The day `n` days after `base`.
pub fn days_after(base: jiff::civil::Date, n: usize) -> jiff::civil::Date {
    base.checked_add(jiff::Span::new().days(n as i64))
        .expect("a date")
}
